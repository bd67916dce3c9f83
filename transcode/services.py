"""Transcode operations: profiles, jobs, screeners and delivery packages.

Services flush; the caller commits once. The exceptions run in a worker
(:func:`run_job`, :func:`finish_package`, :func:`reap_stale_jobs`): they commit as they
go, in short transactions, so the browser can watch a job's progress and nothing is
held locked while ffmpeg runs.

Idempotence: a job claims itself atomically (``queued`` → ``running``, counting the
attempt), writes its outputs under ``transcode/jobs/<id>/`` with deterministic names and
replaces its :class:`JobOutput` rows in one transaction, so a job run twice (redelivered
by the broker, or re-queued by the reaper after its worker died) ends with one set of
outputs. A running job beats a heartbeat; :func:`reap_stale_jobs` re-queues jobs whose
heartbeat stopped (their worker was killed), whatever the broker does with the message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import logging
import mimetypes
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from catalog.domain import content_id
from catalog.models import Episode, MediaAsset, Title
from catalog.services import mec_for, provenance_of
from licensing.models import Deal, DealStatus
from marketplace import audit
from marketplace.accounts.models import Organization, OrgKind, User
from marketplace.db import begin_write, utcnow
from marketplace.extensions import db
from marketplace.i18n import _l
from marketplace.jobs import enqueue
from marketplace.storage import (
    StorageError,
    fetch_to_path,
    get_storage,
    safe_key,
)
from transcode import rules
from transcode.domain import Aigc, BuildOptions, Cue, Sidecar, write_ass
from transcode.models import (
    ACTIVE,
    FINISHED,
    DeliveryPackage,
    DeliveryProfile,
    FileKind,
    JobOutput,
    JobPurpose,
    JobStatus,
    PackageFile,
    PackageStatus,
    Screener,
    ScreenerView,
    SubtitleDelivery,
    TranscodeJob,
)
from transcode.profiles import (
    BUILTIN_PROFILES,
    Container,
    Profile,
    ProfileError,
    SubtitleMode,
    SubtitleSpec,
)

log = logging.getLogger(__name__)

#: Settings (``PDX_<name>``), read from the environment by ``transcode.init_app`` too.
SETTINGS: dict[str, Any] = {
    "TRANSCODE_STALE_SECONDS": 60,  # a running job silent this long lost its worker
    "TRANSCODE_REAP_INTERVAL": 15,  # how often a worker looks for such jobs
    "TRANSCODE_MAX_ATTEMPTS": 3,  # runs of a job before a retryable failure is final
    "TRANSCODE_RETRY_DELAY": 10,  # seconds before a retryable failure runs again (× attempt)
    "TRANSCODE_STALL_TIMEOUT": 120,  # ffmpeg silent this long is stopped
    "TRANSCODE_WORK_DIR": "",  # local scratch space (default: a folder per database in the temp folder)
    "TRANSCODE_DEFAULT_PROFILE": "upload_mp4",
    "TRANSCODE_DELIVER_ON_SIGNATURE": 0,  # 1: prepare a package when a deal is signed
}
PLATFORM = "Pudong Drama Exchange"
VIEW_GAP = timedelta(minutes=10)  # views by one user closer than this count once
PROGRESS_PERIOD = 0.5  # seconds between progress/heartbeat writes of a running job
SUBTITLE_FORMATS = ("srt", "vtt", "ttml")


def setting(name: str) -> Any:
    return current_app.config.get(f"PDX_{name}", SETTINGS[name])


class DeliveryError(ValueError):
    """Input the caller can fix, or a state that forbids the action. ``field`` names the
    form or API field; ``status`` the HTTP status (400, 403, 404, 409)."""

    def __init__(self, field: str, message, *, status: int = 400):
        self.field = field
        self.message = message
        self.status = status
        super().__init__(str(message))


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfileEntry:
    """A profile as a user sees it: a built-in, or a stored custom one."""

    name: str
    profile: Profile
    row: DeliveryProfile | None = None

    @property
    def builtin(self) -> bool:
        return self.row is None

    @property
    def owner_id(self) -> int | None:
        return self.row.organization_id if self.row else None

    @property
    def description(self) -> str:
        return (self.row.description if self.row and self.row.description
                else self.profile.description)


def _custom_profiles(org_ids: Iterable[int] | None) -> list[DeliveryProfile]:
    stmt = select(DeliveryProfile).order_by(DeliveryProfile.name, DeliveryProfile.id)
    if org_ids is not None:
        ids = [i for i in org_ids if i is not None]
        stmt = stmt.where(or_(DeliveryProfile.organization_id.is_(None),
                              DeliveryProfile.organization_id.in_(ids)))
    return list(db.session.scalars(stmt))


def _entry(row: DeliveryProfile) -> ProfileEntry | None:
    try:
        return ProfileEntry(row.name, Profile.from_dict(row.definition), row)
    except ProfileError:  # stored before a validation rule tightened: shown nowhere
        log.warning("custom profile %s no longer validates", row.id)
        return None


def visible_profiles(org_ids: Iterable[int] | None) -> list[ProfileEntry]:
    """Built-ins, platform-wide profiles and those of ``org_ids`` (None: every one)."""
    entries = [ProfileEntry(name, p) for name, p in BUILTIN_PROFILES.items()]
    entries += [e for e in map(_entry, _custom_profiles(org_ids)) if e is not None]
    return entries


def resolve_profile(name: str, org_ids: Iterable[int] | None) -> ProfileEntry:
    """The profile called ``name`` for these organizations: their own first, then the
    platform's, then the built-ins."""
    name = (name or "").strip()
    if name in BUILTIN_PROFILES:
        return ProfileEntry(name, BUILTIN_PROFILES[name])
    org_ids = list(org_ids) if org_ids is not None else None
    rows = [r for r in _custom_profiles(org_ids) if r.name == name]
    rows.sort(key=lambda r: (r.organization_id is None, r.id))
    entry = _entry(rows[0]) if rows else None
    if entry is None:
        raise DeliveryError("profile", _l("Unknown delivery profile “%(name)s”.", name=name))
    return entry


def parse_definition(data: Any) -> Profile:
    """A custom profile from JSON; errors name the field (``video.width: …``)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise DeliveryError("definition", _l("Not valid JSON: %(error)s",
                                                 error=str(exc))) from None
    try:
        return Profile.from_dict(data)
    except ProfileError as exc:
        raise DeliveryError(exc.field or "definition", exc.message) from None


def create_profile(definition: Any, *, by: User, organization_id: int | None,
                   description: str | None = None) -> DeliveryProfile:
    """Store a buyer's (or, for admins with ``organization_id=None``, the platform's)
    own profile after validating it."""
    if organization_id is None and not by.is_admin:
        raise DeliveryError("organization", _l("Only the platform team defines profiles for "
                                               "everyone."), status=403)
    if not by.is_admin and organization_id != by.organization_id:
        raise DeliveryError("organization", _l("You define profiles for your own "
                                               "organization."), status=403)
    profile = parse_definition(definition)
    if profile.name in BUILTIN_PROFILES:
        raise DeliveryError("name", _l("“%(name)s” is a built-in profile; choose another name.",
                                       name=profile.name), status=409)
    clash = db.session.scalar(select(DeliveryProfile.id).where(
        DeliveryProfile.name == profile.name,
        DeliveryProfile.organization_id.is_(None) if organization_id is None
        else DeliveryProfile.organization_id == organization_id))
    if clash:
        raise DeliveryError("name", _l("A profile called “%(name)s” exists already.",
                                       name=profile.name), status=409)
    row = DeliveryProfile(organization_id=organization_id, name=profile.name,
                          description=(description or profile.description or "")[:300],
                          definition=profile.to_dict(), created_by_id=by.id)
    db.session.add(row)
    db.session.flush()
    audit.record("delivery_profile.created", "delivery_profile", row.id,
                 parties=[organization_id] if organization_id else [], actor=by,
                 changes={"name": row.name, "summary": profile.summary()})
    return row


def delete_profile(row: DeliveryProfile, *, by: User) -> None:
    audit.record("delivery_profile.deleted", "delivery_profile", row.id,
                 parties=[row.organization_id] if row.organization_id else [], actor=by,
                 changes={"name": row.name})
    db.session.delete(row)
    db.session.flush()


# --------------------------------------------------------------------------- job options


def _content_facts(title: Title) -> rules.ContentFacts:
    prov = provenance_of(title)
    label = prov.explicit_label
    return rules.ContentFacts(
        involvement=prov.involvement, components=frozenset(prov.ai_components),
        label_text=label.text, label_position=label.position,
        label_seconds=label.duration_seconds, label_height_pct=label.text_height_percent)


def _aigc(title: Title, episode: Episode | None, propagate_id: str) -> dict[str, str]:
    """The implicit label's fields: the producer's declaration, completed by the platform
    (content id as ProduceID) when the producer left them out."""
    declared = provenance_of(title).implicit_label
    number = episode.number if episode is not None else None
    return {
        "label": declared.get("Label") or "1",
        "content_producer": declared.get("ContentProducer") or title.organization.name,
        "produce_id": declared.get("ProduceID") or content_id(title.id, number),
        "reserved_code1": declared.get("ReservedCode1", ""),
        "content_propagator": PLATFORM,
        "propagate_id": propagate_id,
        "reserved_code2": declared.get("ReservedCode2", ""),
    }


def _base_options(title: Title, episode: Episode | None, propagate_id: str,
                  stem: str) -> dict[str, Any]:
    facts = _content_facts(title)
    return {"stem": stem, "ai_generated": facts.uses_ai,
            "aigc": _aigc(title, episode, propagate_id) if facts.uses_ai else None,
            "label_text": facts.label_text.strip()[:40] or None}


def _stem(episode: Episode | None, asset: MediaAsset) -> str:
    if episode is not None:
        return f"E{episode.number:03d}"
    return os.path.splitext(asset.filename)[0][:60] or asset.kind


def _new_job(asset: MediaAsset, profile: Profile, *, purpose: str, options: dict,
             label: str, by: User | None, recipient_org_id: int | None = None,
             package: DeliveryPackage | None = None, profile_name: str | None = None
             ) -> TranscodeJob:
    job = TranscodeJob(
        organization_id=asset.title.organization_id, recipient_org_id=recipient_org_id,
        title_id=asset.title_id, episode_id=asset.episode_id, asset_id=asset.id,
        source_key=asset.storage_key, source_name=asset.filename, purpose=purpose,
        label=label[:200], profile_name=profile_name or profile.name,
        profile=profile.to_dict(), options=options, status=JobStatus.QUEUED,
        created_by_id=by.id if by else None)
    job.package = package
    db.session.add(job)
    db.session.flush()
    from transcode import tasks

    enqueue(tasks.run_job, job.id)
    return job


def _video_asset(asset_id: int) -> MediaAsset:
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or not asset.is_video:
        raise DeliveryError("asset_id", _l("Choose an episode master or a trailer."),
                            status=404)
    return asset


def create_adhoc_job(asset_id: int, profile_name: str, *, by: User) -> TranscodeJob:
    """Run a profile on one of the organization's own videos (a test, a one-off)."""
    asset = _video_asset(asset_id)
    if not (by.is_admin or asset.title.organization_id == by.organization_id):
        raise DeliveryError("asset_id", _l("Choose an episode master or a trailer."),
                            status=404)
    entry = resolve_profile(profile_name, None if by.is_admin else [by.organization_id])
    options = _base_options(asset.title, asset.episode, f"job-{asset.id}",
                            _stem(asset.episode, asset))
    if entry.profile.watermark.enabled:
        options["watermark_text"] = f"{by.organization.name[:60]} · TEST"
    label = (f"E{asset.episode.number:03d}" if asset.episode else asset.filename)
    job = _new_job(asset, entry.profile, purpose=JobPurpose.ADHOC, options=options,
                   label=label, by=by)
    audit.record("transcode.job_created", "transcode_job", job.id,
                 parties=[job.organization_id], actor=by,
                 changes={"profile": entry.name, "asset": asset.id})
    return job


def cancel_job(job: TranscodeJob, *, by: User | None) -> None:
    """Stop a queued or running job. A running job's worker sees it within a second,
    stops ffmpeg and keeps nothing."""
    if job.status not in ACTIVE:
        raise DeliveryError("status", _l("Only a queued or running job can be cancelled."),
                            status=409)
    job.status = JobStatus.CANCELLED
    job.finished_at = utcnow()
    job.error = str(_l("Cancelled by %(name)s.", name=by.name if by else "the platform"))
    db.session.flush()
    audit.record("transcode.job_cancelled", "transcode_job", job.id,
                 parties=[job.organization_id, job.recipient_org_id], actor=by)
    _after_job(job)


def retry_job(job: TranscodeJob, *, by: User | None) -> None:
    """Queue a failed or cancelled job again (its attempts start over)."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise DeliveryError("status", _l("Only a failed or cancelled job can be retried."),
                            status=409)
    _requeue(job)
    db.session.flush()
    audit.record("transcode.job_retried", "transcode_job", job.id,
                 parties=[job.organization_id, job.recipient_org_id], actor=by)
    if job.package is not None and job.package.status == PackageStatus.FAILED:
        job.package.status = PackageStatus.ASSEMBLING
        job.package.error = None


def _requeue(job: TranscodeJob) -> None:
    from transcode import tasks

    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.progress = 0.0
    job.speed = None
    job.error = None
    job.log_tail = None
    job.retryable = False
    job.worker = None
    job.finished_at = None
    enqueue(tasks.run_job, job.id)


# --------------------------------------------------------------------------- running a job


@dataclass(frozen=True)
class RunOutcome:
    status: str
    retry: bool = False
    countdown: int = 0


class _Retryable(Exception):
    """A failure that running again may cure (storage outage, full disk)."""

    def __init__(self, reason: str, log_tail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


@dataclass(frozen=True)
class _Spec:
    """What a worker needs of a job, read before the encode so no ORM object (and no
    transaction) lives across it."""

    job_id: int
    attempt: int
    prefix: str
    purpose: str
    profile: dict
    options: dict
    source_key: str
    source_name: str


class _Monitor:
    """Progress, heartbeat and cancellation for a running job, on the task's own thread:
    the runner calls ``progress`` and polls ``cancelled`` (about every 0.1 s); both write
    progress and the heartbeat at most every ``period`` seconds, in a short transaction
    that only succeeds while the job is still this attempt's and still running. When it
    is not (cancelled, or re-queued by the reaper), ``cancelled`` answers True."""

    def __init__(self, job_id: int, attempt: int, period: float = PROGRESS_PERIOD):
        self.job_id = job_id
        self.attempt = attempt
        self.period = period
        self.fraction = 0.0
        self.speed: float | None = None
        self.lost = False
        self._last = 0.0
        self._thread = threading.get_ident()

    def progress(self, fraction: float, speed: float | None = None) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        if speed:
            self.speed = speed
        self.tick()

    def cancelled(self) -> bool:
        self.tick()
        return self.lost

    def tick(self, force: bool = False) -> None:
        if threading.get_ident() != self._thread:
            return  # called from a helper thread (an upload pool): the next call beats
        now = time.monotonic()
        if not force and now - self._last < self.period:
            return
        self._last = now
        try:
            result = db.session.execute(
                update(TranscodeJob)
                .where(TranscodeJob.id == self.job_id, TranscodeJob.attempts == self.attempt,
                       TranscodeJob.status == JobStatus.RUNNING)
                .values(progress=round(self.fraction, 4), speed=self.speed,
                        heartbeat_at=utcnow()))
            db.session.commit()
        except SQLAlchemyError:  # a busy database must not stop the encode
            db.session.rollback()
            log.warning("could not record progress of job %s", self.job_id, exc_info=True)
            return
        if result.rowcount == 0:
            self.lost = True


def _work_dir(job_id: int) -> Path:
    """Scratch space of one job. The default is keyed by the database, whose ids the
    folder names use: two installs on one machine never share a job's folder."""
    root = setting("TRANSCODE_WORK_DIR")
    if not root:
        database = hashlib.sha256(current_app.config["SQLALCHEMY_DATABASE_URI"].encode()).hexdigest()[:12]
        root = os.path.join(tempfile.gettempdir(), f"pdx-transcode-{database}")
    return Path(root) / f"job-{job_id}"


def claim_job(job_id: int, hostname: str) -> int | None:
    """Move the job to ``running`` for this worker (from ``queued``, or from a ``running``
    whose heartbeat stopped); returns the attempt number, or None when it is not ours."""
    now = utcnow()
    stale = now - timedelta(seconds=int(setting("TRANSCODE_STALE_SECONDS")))
    result = db.session.execute(
        update(TranscodeJob)
        .where(TranscodeJob.id == job_id,
               or_(TranscodeJob.status == JobStatus.QUEUED,
                   and_(TranscodeJob.status == JobStatus.RUNNING,
                        or_(TranscodeJob.heartbeat_at < stale,
                            TranscodeJob.heartbeat_at.is_(None)))))
        .values(status=JobStatus.RUNNING, worker=hostname[:200], heartbeat_at=now,
                started_at=now, finished_at=None, attempts=TranscodeJob.attempts + 1,
                progress=0.0, speed=None))
    if result.rowcount != 1:
        db.session.rollback()
        return None
    attempt = db.session.scalar(select(TranscodeJob.attempts).where(TranscodeJob.id == job_id))
    db.session.commit()
    return attempt


def run_job(job_id: int, *, hostname: str) -> RunOutcome:
    """Run job ``job_id`` in this worker: claim it, fetch the source, encode with the
    runner (progress and heartbeat on the job row), upload the verified outputs and
    record them. A job that is gone, finished, cancelled or running elsewhere is left
    alone. Never raises for a failed encode: the job records it."""
    try:
        reap_stale_jobs()  # a periodic check, riding on every job a worker runs
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("reaping stale jobs failed", exc_info=True)
    job = db.session.get(TranscodeJob, job_id)
    if job is None:
        return RunOutcome("gone")
    if job.status in FINISHED:
        return RunOutcome(job.status)
    db.session.commit()
    attempt = claim_job(job_id, hostname)
    if attempt is None:
        return RunOutcome("busy")
    job = db.session.get(TranscodeJob, job_id)
    spec = _Spec(job.id, attempt, job.storage_prefix, job.purpose, dict(job.profile), dict(job.options or {}),
                 job.source_key, job.source_name)
    db.session.commit()
    monitor = _Monitor(job_id, attempt)
    workdir = _work_dir(job_id) / f"attempt-{attempt}"
    # What killed attempts left behind; a live earlier attempt lost the job anyway.
    shutil.rmtree(workdir.parent, ignore_errors=True)
    uploaded: list[str] = []
    try:
        workdir.mkdir(parents=True)
        try:
            result, out_dir, source = _encode(spec, workdir, monitor)
            monitor.tick(force=True)
            if monitor.lost:
                return _finish_lost(spec, uploaded)
            rows = _upload(spec, out_dir, result, monitor, uploaded)
        except StorageError as exc:
            raise _Retryable(str(_l("Storage: %(error)s", error=str(exc)))) from exc
        except OSError as exc:
            raise _Retryable(str(_l("Local disk: %(error)s", error=str(exc)))) from exc
    except _Retryable as exc:
        return _fail(spec, exc.reason, exc.log_tail, retryable=True, uploaded=uploaded)
    except _Cancelled:
        return _finish_lost(spec, uploaded)
    except _Failed as exc:
        return _fail(spec, exc.reason, exc.log_tail, retryable=exc.retryable, uploaded=uploaded)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _succeed(spec, rows, result, uploaded)


class _Cancelled(Exception):
    pass


class _Failed(Exception):
    def __init__(self, reason: str, log_tail: str = "", retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail
        self.retryable = retryable


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _encode(spec: _Spec, workdir: Path, monitor: _Monitor):
    """Fetch the source and run the profile; raises _Failed, _Cancelled, StorageError."""
    from transcode.marks import verify_watermark
    from transcode.runner import TranscodeCancelled, TranscodeError
    from transcode.runner import transcode as run_transcode

    storage = get_storage()
    if not storage.exists(spec.source_key):
        raise _Failed(str(_l("The source file %(name)s is no longer in storage.",
                             name=spec.source_name)))
    ext = os.path.splitext(spec.source_name)[1].lower()[:8] or ".mp4"
    source = fetch_to_path(storage, spec.source_key, workdir / f"source{ext}")
    o = spec.options
    aigc = Aigc(**o["aigc"]) if o.get("aigc") else None
    subtitles = _write(workdir / "burn.ass", o["ass"]) if o.get("ass") else None
    sidecars = tuple(Sidecar(language=s["language"],
                             path=_write(workdir / f"{s['language']}.vtt", s["vtt"]))
                     for s in o.get("sidecars") or ())
    options = BuildOptions(output_stem=o.get("stem"), subtitles=subtitles, sidecars=sidecars,
                           ai_generated=bool(o.get("ai_generated", True)), aigc=aigc,
                           label_text=o.get("label_text"), watermark_text=o.get("watermark_text"))
    profile = Profile.from_dict(spec.profile)
    out_dir = workdir / "out"
    try:
        result = run_transcode(profile, str(source), str(out_dir), options,
                               progress=lambda f, s: monitor.progress(0.95 * f, s),
                               cancel=monitor.cancelled,
                               stall_timeout=float(setting("TRANSCODE_STALL_TIMEOUT")))
    except TranscodeCancelled:
        raise _Cancelled() from None
    except TranscodeError as exc:
        text = f"{exc.reason}\n{exc.log_tail}"
        if "No space left on device" in text:
            raise _Retryable(str(_l("Local disk full: %(reason)s", reason=exc.reason)),
                             exc.log_tail) from None
        raise _Failed(exc.reason, exc.log_tail, exc.retryable) from None
    if profile.watermark.enabled and o.get("watermark_text"):
        main = next(f for f in result.files if f.role == "main")
        report = verify_watermark(main.path, str(source), profile, o["watermark_text"])
        if not report.ok:
            raise _Failed(f"screener mark check failed: {report.detail}")
        result = dataclasses.replace(result, notes=(*result.notes, (
            f"mark checked: {report.inside:.1f}% of its box changed, "
            f"{report.outside:.2f}% elsewhere")))
    return result, out_dir, source


def _content_type(path: str) -> str | None:
    if path.endswith(".m3u8"):
        return "application/vnd.apple.mpegurl"
    if path.endswith(".ts"):
        return "video/mp2t"
    return mimetypes.guess_type(path)[0]


def _upload(spec: _Spec, out_dir: Path, result, monitor: _Monitor,
            uploaded: list[str]) -> list[dict]:
    """Store every output under the job's deterministic keys; the stored copy must hash
    the same as the verified file."""
    storage = get_storage()
    rows = []
    total = max(1, sum(f.size for f in result.files))
    done = 0
    for f in result.files:
        rel = os.path.relpath(f.path, out_dir).replace(os.sep, "/")
        key = safe_key(spec.prefix, rel)
        with open(f.path, "rb") as fh:
            stored = storage.save(key, fh, _content_type(rel))
        uploaded.append(key)
        if stored.size != f.size or stored.sha256 != f.sha256:
            raise StorageError(f"{rel}: the stored copy differs from the encoded file")
        rows.append({"role": f.role, "path": rel, "storage_key": key, "size": f.size,
                     "sha256": f.sha256, "md5": f.md5})
        done += f.size
        monitor.progress(0.95 + 0.05 * done / total)
        if monitor.lost:
            raise _Cancelled()
    return rows


def _delete_keys(keys: Iterable[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # a leftover file is harmless; the failure must be reported
            log.warning("could not delete %s", key, exc_info=True)


def _current(spec: _Spec) -> TranscodeJob | None:
    """The job, read afresh under the write lock, if it is still this attempt's running
    job."""
    begin_write(db.session())
    job = db.session.get(TranscodeJob, spec.job_id)
    if job is None or job.status != JobStatus.RUNNING or job.attempts != spec.attempt:
        return None
    return job


def _succeed(spec: _Spec, rows: list[dict], result, uploaded: list[str]) -> RunOutcome:
    job = _current(spec)
    if job is None:
        return _finish_lost(spec, uploaded)
    old_keys = {o.storage_key for o in job.outputs}
    job.outputs.clear()
    db.session.flush()  # the old rows go before new ones take their keys
    for row in rows:
        job.outputs.append(JobOutput(**row))
    summary = result.to_dict()
    job.result = {"notes": summary["notes"], "labels": summary["labels"],
                  "loudness": summary["loudness"], "elapsed": summary["elapsed"],
                  "speed": summary["speed"], "files": len(rows)}
    job.status = JobStatus.SUCCEEDED
    job.progress = 1.0
    job.speed = summary["speed"]
    job.finished_at = utcnow()
    job.error = None
    job.log_tail = None
    job.retryable = False
    _after_job(job)
    db.session.commit()
    _delete_keys(old_keys - {r["storage_key"] for r in rows})
    return RunOutcome(JobStatus.SUCCEEDED)


def _finish_lost(spec: _Spec, uploaded: list[str]) -> RunOutcome:
    """The job was cancelled, or re-queued for another worker, while this one ran. A
    cancelled job keeps nothing; a job another worker took over keeps what that worker
    writes under the same keys, so this one deletes nothing then."""
    db.session.expire_all()
    job = db.session.get(TranscodeJob, spec.job_id)
    if job is None or job.status == JobStatus.CANCELLED:
        _delete_keys(uploaded)
    return RunOutcome(job.status if job else "gone")


def _fail(spec: _Spec, reason: str, log_tail: str, *, retryable: bool,
          uploaded: list[str] = ()) -> RunOutcome:
    job = _current(spec)
    if job is None:
        return _finish_lost(spec, list(uploaded))
    _delete_keys(uploaded)  # half a set of outputs is no output
    job.error = reason[:1000]
    job.log_tail = (log_tail or "")[-4000:] or None
    job.retryable = retryable
    if retryable and job.attempts < int(setting("TRANSCODE_MAX_ATTEMPTS")):
        job.status = JobStatus.QUEUED
        job.worker = None
        db.session.commit()
        delay = int(setting("TRANSCODE_RETRY_DELAY")) * job.attempts
        return RunOutcome(JobStatus.QUEUED, retry=True, countdown=delay)
    job.status = JobStatus.FAILED
    job.finished_at = utcnow()
    _after_job(job)
    db.session.commit()
    return RunOutcome(JobStatus.FAILED)


def mark_job_failed(job_id: int, reason: str) -> None:
    """For a failure the service did not expect: the job ends failed, never stuck."""
    job = db.session.get(TranscodeJob, job_id)
    if job is None or job.status in FINISHED:
        return
    job.status = JobStatus.FAILED
    job.error = reason[:1000]
    job.retryable = True
    job.finished_at = utcnow()
    _after_job(job)


def _after_job(job: TranscodeJob) -> None:
    """What a finished job means for the screener or package it belongs to."""
    if job.purpose == JobPurpose.SCREENER and job.status == JobStatus.SUCCEEDED:
        screener = db.session.scalar(select(Screener).where(Screener.job_id == job.id))
        main = next((o for o in job.outputs if o.role == "main"), None)
        if screener is not None and main is not None:
            screener.storage_key = main.storage_key
            screener.ready_at = utcnow()
            _notify([screener.buyer_org_id], "transcode.screener_ready",
                    {"title": screener.title.original_title},
                    _link("transcode.screener", title_id=screener.title_id))
    if job.package_id is not None and job.status in FINISHED:
        from transcode import tasks

        enqueue(tasks.finish_package, job.package_id)


def reap_stale_jobs(stale_seconds: int | None = None) -> list[int]:
    """Re-queue running jobs whose heartbeat stopped (their worker died); a job that
    lost its worker on its last allowed attempt fails, retryable by hand. Commits."""
    from transcode import tasks

    stale = int(stale_seconds or setting("TRANSCODE_STALE_SECONDS"))
    now = utcnow()
    cutoff = now - timedelta(seconds=stale)
    silent = or_(TranscodeJob.heartbeat_at < cutoff, TranscodeJob.heartbeat_at.is_(None))
    rows = db.session.execute(select(TranscodeJob.id, TranscodeJob.attempts, TranscodeJob.worker)
                              .where(TranscodeJob.status == JobStatus.RUNNING, silent)).all()
    requeued = []
    max_attempts = int(setting("TRANSCODE_MAX_ATTEMPTS"))
    for job_id, attempts, worker in rows:
        give_up = attempts >= max_attempts
        lost = str(_l("Worker %(worker)s stopped answering.", worker=worker or "?"))
        values: dict[str, Any] = (
            {"status": JobStatus.FAILED, "finished_at": now, "retryable": True,
             "error": lost + " " + str(_l("Gave up after %(n)d attempts.", n=attempts))}
            if give_up else
            {"status": JobStatus.QUEUED, "worker": None,
             "error": lost + " " + str(_l("Queued again."))})
        result = db.session.execute(
            update(TranscodeJob).where(TranscodeJob.id == job_id,
                                       TranscodeJob.status == JobStatus.RUNNING,
                                       TranscodeJob.attempts == attempts, silent)
            .values(**values))
        if result.rowcount != 1:
            continue  # it beat, or another reaper was first
        owners = db.session.execute(select(TranscodeJob.organization_id,
                                           TranscodeJob.recipient_org_id)
                                    .where(TranscodeJob.id == job_id)).one()
        audit.record("transcode.job_failed" if give_up else "transcode.job_requeued",
                     "transcode_job", job_id, parties=owners, actor=None,
                     changes={"worker": worker, "attempts": attempts})
        if give_up:
            _after_job(db.session.get(TranscodeJob, job_id))
        else:
            enqueue(tasks.run_job, job_id)
            requeued.append(job_id)
        log.warning("job %s lost its worker %s: %s", job_id, worker,
                    "failed" if give_up else "queued again")
    db.session.commit()
    return requeued


def requeue_stuck_queued(older_than: timedelta) -> list[int]:
    """Send queued jobs older than ``older_than`` to the broker again (a lost message).
    Running twice is harmless: a job claims itself before it runs."""
    from transcode import tasks

    cutoff = utcnow() - older_than
    ids = list(db.session.scalars(select(TranscodeJob.id).where(
        TranscodeJob.status == JobStatus.QUEUED, TranscodeJob.created_at < cutoff)))
    for job_id in ids:
        enqueue(tasks.run_job, job_id)
    db.session.commit()
    return ids


# --------------------------------------------------------------------------- screeners


def _short_code(org_id: int, asset_id: int) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"screener:{org_id}:{asset_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:6].upper()


def screener_source(title: Title, episode_id: int | None = None
                    ) -> tuple[MediaAsset, Episode | None]:
    """What a screener of ``title`` shows: the episode's master, else the first episode
    that has one, else the trailer."""
    if episode_id is not None:
        episode = db.session.get(Episode, episode_id)
        if episode is None or episode.title_id != title.id:
            raise DeliveryError("episode_id", _l("Unknown episode."), status=404)
        masters = title.assets_of("master", episode.id)
        if not masters:
            raise DeliveryError("episode_id", _l("Episode %(n)d has no master yet.",
                                                 n=episode.number), status=409)
        return masters[-1], episode
    for episode in title.episodes:
        masters = title.assets_of("master", episode.id)
        if masters:
            return masters[-1], episode
    if title.trailer is not None:
        return title.trailer, None
    raise DeliveryError("title_id", _l("This title has no video to screen yet."), status=409)


def _require_buyer(by: User) -> None:
    if by.is_admin:
        return
    if by.organization.kind != OrgKind.DISTRIBUTOR:
        raise DeliveryError("organization", _l("Screeners are for distributors."), status=403)
    if not by.organization.is_verified:
        raise DeliveryError("organization", _l("Your organization must be verified by the "
                                               "platform team first."), status=403)


def screener_for(title_id: int, org_id: int, episode_id: int | None = None) -> Screener | None:
    stmt = select(Screener).where(Screener.title_id == title_id, Screener.buyer_org_id == org_id)
    if episode_id is not None:
        stmt = stmt.where(Screener.episode_id == episode_id)
    return db.session.scalars(stmt.order_by(Screener.id.desc())).first()


def request_screener(title_id: int, *, by: User, episode_id: int | None = None) -> Screener:
    """A verified buyer asks to watch a published title: its screener, rendered now
    (queued) or reused (one per buyer organization and source video)."""
    _require_buyer(by)
    title = db.session.get(Title, title_id)
    if title is None or (title.status != "published" and not by.is_admin):
        raise DeliveryError("title_id", _l("Unknown title."), status=404)
    asset, episode = screener_source(title, episode_id)
    org = by.organization
    screener = db.session.scalar(select(Screener).where(Screener.buyer_org_id == org.id,
                                                        Screener.asset_id == asset.id))
    if screener is not None:
        job = screener.job
        if screener.ready or (job is not None and job.active):
            return screener
        if job is not None:
            _requeue(job)
            return screener
    code = _short_code(org.id, asset.id)
    text = f"{org.name[:60]} · {code}"
    if screener is None:
        screener = Screener(title_id=title.id, episode_id=episode.id if episode else None,
                            asset_id=asset.id, producer_org_id=title.organization_id,
                            buyer_org_id=org.id, watermark_text=text, code=code,
                            requested_by_id=by.id)
        db.session.add(screener)
    options = _base_options(title, episode, f"screener-{code}", _stem(episode, asset))
    options["watermark_text"] = text
    label = f"E{episode.number:03d}" if episode else asset.filename
    screener.job = _new_job(asset, BUILTIN_PROFILES["screener"], purpose=JobPurpose.SCREENER,
                            options=options, label=label, by=by, recipient_org_id=org.id)
    db.session.flush()
    audit.record("screener.requested", "screener", screener.id,
                 parties=[screener.producer_org_id, org.id], actor=by,
                 changes={"title": title.id, "asset": asset.id, "mark": text})
    return screener


def presigned_seconds() -> int:
    return int(current_app.config["PDX_PRESIGNED_URL_SECONDS"])


def watch_screener(screener: Screener, *, by: User) -> str:
    """An expiring link to the screener; counts a view for the buyer's organization."""
    if not screener.ready:
        raise DeliveryError("status", _l("The screener is still being rendered."), status=409)
    if by.organization_id == screener.buyer_org_id:
        begin_write(db.session())  # read the recent views and count one, under the write lock
        since = utcnow() - VIEW_GAP
        recent = db.session.scalar(select(ScreenerView.id).where(
            ScreenerView.screener_id == screener.id, ScreenerView.user_id == by.id,
            ScreenerView.viewed_at > since).limit(1))
        if recent is None:
            db.session.add(ScreenerView(screener=screener, organization_id=by.organization_id,
                                        user_id=by.id))
            db.session.flush()
    return inline_url(screener)


def inline_url(screener: Screener) -> str:
    """A signed, expiring link a ``<video>`` element can play: the storage's own download
    link (local files through the app's signed ``/files``, S3's presigned link); both
    answer range requests, so the player can seek."""
    return get_storage().url(screener.storage_key, presigned_seconds())


@dataclass
class ViewerRow:
    screener: Screener
    views: int
    viewers: list[str]
    last_viewed_at: Any


def screener_activity(*, producer_org_id: int | None = None, title_id: int | None = None,
                      limit: int = 200) -> list[ViewerRow]:
    """Who watched what, for a producer: per screener, the buyer, views and viewers."""
    stmt = select(Screener).order_by(Screener.id.desc()).limit(limit)
    if producer_org_id is not None:
        stmt = stmt.where(Screener.producer_org_id == producer_org_id)
    if title_id is not None:
        stmt = stmt.where(Screener.title_id == title_id)
    rows = []
    for screener in db.session.scalars(stmt):
        views = screener.views
        names = sorted({v.user.name for v in views if v.user is not None})
        rows.append(ViewerRow(screener, len(views), names,
                              views[-1].viewed_at if views else None))
    rows.sort(key=lambda r: r.last_viewed_at or r.screener.created_at, reverse=True)
    return rows


# --------------------------------------------------------------------------- packages


def _deal_languages(deal: Deal) -> list[str] | None:
    """Subtitle languages the deal grants (None: it names none, so every language)."""
    from licensing.domain import LanguageRight, LanguageUse

    raw = (deal.terms or {}).get("languages")
    if not raw:
        return None
    out = []
    for text in raw:
        right = LanguageRight.parse(text)
        if right.use in (LanguageUse.SUBTITLE, LanguageUse.ANY):
            out.append(right.language)
    return list(dict.fromkeys(out))


def _approved_tracks(title: Title) -> list:
    from localization.models import TrackStatus
    from localization.services import tracks_of

    return [t for t in tracks_of(title, kind="subtitle") if t.status == TrackStatus.APPROVED]


def _match_languages(wanted: Sequence[str] | None, tracks: Sequence, episodes: Sequence[Episode]
                     ) -> tuple[list[str], dict[str, dict[int, Any]]]:
    """The track language delivered for each wanted language, and its tracks by episode
    id; raises when a wanted language lacks an approved track for a delivered episode."""
    from licensing.reference import language_covers

    by_language: dict[str, dict[int, Any]] = {}
    for track in tracks:
        by_language.setdefault(track.language, {})[track.episode_id] = track
    if wanted is None:
        wanted = sorted(by_language)
    chosen: list[str] = []
    for lang in wanted:
        candidates = [tag for tag in by_language if tag == lang] or sorted(
            tag for tag in by_language if language_covers(lang, tag))
        best = max(candidates, key=lambda tag: len(by_language[tag]), default=None)
        have = by_language.get(best, {}) if best else {}
        missing = [e.number for e in episodes if e.id not in have]
        if missing:
            raise DeliveryError("languages", _l(
                "No approved %(language)s subtitles for episode(s) %(episodes)s: approve them "
                "in Subtitles first, or leave the language out.", language=lang,
                episodes=ranges(missing)), status=409)
        chosen.append(best)
    return list(dict.fromkeys(chosen)), by_language


def ranges(numbers: Sequence[int]) -> str:
    """1, 2, 3, 5 -> "1–3, 5"."""
    out, run = [], []
    for n in sorted(numbers):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def _deal_countries(deal: Deal) -> frozenset[str]:
    from licensing.reference import expand_territories

    terms = deal.terms or {}
    return expand_territories(terms.get("territories") or (),
                              terms.get("territories_excluded") or ())


def _to_core_cues(track) -> list[Cue]:
    from localization.services import current_cues

    return [Cue(c.start_ms / 1000, c.end_ms / 1000, c.text) for c in current_cues(track)]


def _vtt(track) -> str:
    from localization.formats import write_vtt
    from localization.services import current_cues

    return write_vtt(current_cues(track))


def _party_or_admin(deal: Deal, by: User | None) -> None:
    if by is None or by.is_admin:
        return
    if by.organization_id not in (deal.buyer_org_id, deal.producer_org_id):
        raise DeliveryError("deal_id", _l("Unknown deal."), status=404)


def package_for_deal(deal_id: int, profile_name: str | None = None, *, by: User | None = None,
                     languages: Sequence[str] | None = None,
                     subtitles: str | None = None) -> DeliveryPackage:
    """Assemble a signed deal's delivery: a job per episode (and per language when
    subtitles are burned in), a stills job for artwork; the subtitles, metadata and
    manifest follow once every job succeeded (:func:`finish_package`).

    ``languages`` default to the subtitle languages of the deal (every approved language
    when the deal names none); ``subtitles`` to ``burn`` or ``sidecar`` as the profile
    says (``sidecar`` when it says neither). Raises DeliveryError naming the field.
    """
    deal = db.session.get(Deal, deal_id)
    if deal is None:
        raise DeliveryError("deal_id", _l("Unknown deal."), status=404)
    _party_or_admin(deal, by)
    if deal.status not in (DealStatus.SIGNED, DealStatus.ACTIVE):
        raise DeliveryError("deal_id", _l("Deal %(number)s is not signed by both sides.",
                                          number=deal.number), status=409)
    entry = resolve_profile(profile_name or setting("TRANSCODE_DEFAULT_PROFILE"),
                            [deal.buyer_org_id, deal.producer_org_id])
    base = entry.profile
    if base.container is Container.IMAGES:
        raise DeliveryError("profile", _l("Choose a video profile for the episodes."))
    title = deal.title
    mode = subtitles or (SubtitleDelivery.BURN if base.subtitles.mode is SubtitleMode.BURN
                         else SubtitleDelivery.SIDECAR)
    if mode not in set(SubtitleDelivery):
        raise DeliveryError("subtitles", _l("Subtitles are sidecar, burn or none."))
    first, last = _episode_range(deal)
    covered = [e for e in title.episodes if e.number >= first and (last is None or e.number <= last)]
    episodes = [e for e in covered if title.assets_of("master", e.id)]
    missing = [e.number for e in covered if e not in episodes]
    if not episodes:
        raise DeliveryError("episodes", _l("No episode of this title has a master yet: upload "
                                           "the masters first."), status=409)
    wanted = list(languages) if languages else _deal_languages(deal)
    if wanted is not None:
        wanted = [_normalize_language(lang) for lang in wanted if lang]
    chosen: list[str] = []
    by_language: dict[str, dict[int, Any]] = {}
    if mode != SubtitleDelivery.NONE:
        chosen, by_language = _match_languages(wanted, _approved_tracks(title), episodes)
        if mode == SubtitleDelivery.BURN and not chosen:
            raise DeliveryError("languages", _l("Burning in needs at least one language with "
                                                "approved subtitles."), status=409)
    facts = _content_facts(title)
    start, end = _term(deal)
    decision = rules.label_spec(base.ai_label, facts, _deal_countries(deal), start=start, end=end)
    label = decision.spec
    if base.video.codec == "prores":  # a mezzanine stays clean: the buyer labels its copies
        label = dataclasses.replace(label, explicit=base.ai_label.explicit)
    try:
        profile = dataclasses.replace(base, ai_label=label,
                                      subtitles=SubtitleSpec(mode=SubtitleMode.NONE))
    except ProfileError as exc:
        raise DeliveryError("profile", exc.message) from None
    package = DeliveryPackage(
        deal=deal, title_id=title.id, buyer_org_id=deal.buyer_org_id,
        producer_org_id=deal.producer_org_id, profile_name=entry.name,
        profile=profile.to_dict(), languages=chosen, subtitles=mode,
        episodes=[e.number for e in episodes], missing_episodes=missing,
        status=PackageStatus.ASSEMBLING, created_by_id=by.id if by else None)
    db.session.add(package)
    db.session.flush()
    for episode in episodes:
        asset = title.assets_of("master", episode.id)[-1]
        options = _base_options(title, episode, deal.number, f"E{episode.number:03d}")
        if mode == SubtitleDelivery.BURN:
            for lang in chosen:
                burned = _with_subtitles(profile, SubtitleMode.BURN, lang)
                opts = {**options, "stem": f"E{episode.number:03d}.{lang}",
                        "ass": write_ass(_to_core_cues(by_language[lang][episode.id]),
                                         profile.video.width, profile.video.height)}
                _new_job(asset, burned, purpose=JobPurpose.DELIVERY, options=opts,
                         label=f"E{episode.number:03d} · {lang}", by=by,
                         recipient_org_id=deal.buyer_org_id, package=package,
                         profile_name=entry.name)
        else:
            job_profile = profile
            if mode == SubtitleDelivery.SIDECAR and profile.container is Container.HLS and chosen:
                job_profile = _with_subtitles(profile, SubtitleMode.SIDECAR, None)
                options["sidecars"] = [{"language": lang, "vtt": _vtt(by_language[lang][episode.id])}
                                       for lang in chosen]
            _new_job(asset, job_profile, purpose=JobPurpose.DELIVERY, options=options,
                     label=f"E{episode.number:03d}", by=by, recipient_org_id=deal.buyer_org_id,
                     package=package, profile_name=entry.name)
    stills = BUILTIN_PROFILES["stills"]
    first_master = title.assets_of("master", episodes[0].id)[-1]
    _new_job(first_master, stills, purpose=JobPurpose.DELIVERY,
             options={"stem": f"E{episodes[0].number:03d}", "ai_generated": False},
             label=f"E{episodes[0].number:03d} · stills", by=by,
             recipient_org_id=deal.buyer_org_id, package=package)
    audit.record("delivery.created", "delivery_package", package.id,
                 parties=[deal.buyer_org_id, deal.producer_org_id], actor=by,
                 changes={"deal": deal.number, "profile": entry.name, "languages": chosen,
                          "subtitles": mode, "episodes": package.episodes,
                          "missing_episodes": missing, "label_rules": list(decision.regions)})
    return package


def _with_subtitles(profile: Profile, mode: SubtitleMode, language: str | None) -> Profile:
    try:
        return dataclasses.replace(profile, subtitles=SubtitleSpec(mode=mode, language=language))
    except ProfileError as exc:
        raise DeliveryError("subtitles", exc.message) from None


def _normalize_language(tag: str) -> str:
    from licensing.reference import normalize_language

    try:
        return normalize_language(tag)
    except ValueError:
        raise DeliveryError("languages", _l("“%(value)s” is not a language code.",
                                            value=tag)) from None


def _episode_range(deal: Deal) -> tuple[int, int | None]:
    episodes = (deal.terms or {}).get("episodes") or {}
    return int(episodes.get("first") or 1), episodes.get("last")


def _term(deal: Deal):
    from datetime import date

    terms = deal.terms or {}
    start = date.fromisoformat(terms["start"]) if terms.get("start") else None
    end = date.fromisoformat(terms["end"]) if terms.get("end") else None
    return start, end


def retry_package(package: DeliveryPackage, *, by: User | None) -> None:
    """Run a failed package's failed parts again (or just its last step)."""
    if package.status != PackageStatus.FAILED:
        raise DeliveryError("status", _l("Only a failed delivery can be retried."), status=409)
    package.status = PackageStatus.ASSEMBLING
    package.error = None
    package.finalizing_at = None
    for job in package.jobs:
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            _requeue(job)
    db.session.flush()
    if all(j.status == JobStatus.SUCCEEDED for j in package.jobs):
        from transcode import tasks

        enqueue(tasks.finish_package, package.id)
    audit.record("delivery.retried", "delivery_package", package.id,
                 parties=[package.buyer_org_id, package.producer_org_id], actor=by)


def resend_package(package: DeliveryPackage, *, by: User | None) -> None:
    """Send the buyer the package again: a notification leading to fresh links."""
    if package.status != PackageStatus.READY:
        raise DeliveryError("status", _l("Only a ready delivery can be sent."), status=409)
    package.sent_at = utcnow()
    package.resent_count += 1
    db.session.flush()
    _notify([package.buyer_org_id], "transcode.package_resent",
            {"title": package.title.original_title, "deal": package.deal.number},
            _link("transcode.package", package_id=package.id))
    audit.record("delivery.resent", "delivery_package", package.id,
                 parties=[package.buyer_org_id, package.producer_org_id], actor=by,
                 changes={"resent": package.resent_count})


def file_url(key: str, filename: str) -> str:
    return get_storage().url(key, presigned_seconds(), filename)


# -- finishing a package ---------------------------------------------------------------


@dataclass
class _File:
    path: str
    kind: str
    key: str
    size: int
    sha256: str
    md5: str
    job_id: int | None = None


def _digests(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest()


def _store_bytes(package: DeliveryPackage, path: str, data: bytes, kind: str) -> _File:
    key = safe_key(package.storage_prefix, path)
    stored = get_storage().save(key, io.BytesIO(data), _content_type(path))
    sha, md5 = _digests(data)
    if stored.sha256 != sha or stored.size != len(data):
        raise StorageError(f"{path}: the stored copy differs")
    return _File(path, kind, key, len(data), sha, md5)


def finish_package(package_id: int) -> str:
    """The last step of a package, run after each of its jobs: fail it when a job
    failed; when every job succeeded, add subtitles, metadata, artwork and the checksum
    manifest, check every file is stored whole, and mark it ready. Commits."""
    begin_write(db.session())
    package = db.session.get(DeliveryPackage, package_id)
    if package is None or package.status != PackageStatus.ASSEMBLING:
        return package.status if package else "gone"
    broken = [j for j in package.jobs if j.status in (JobStatus.FAILED, JobStatus.CANCELLED)]
    if broken:
        reasons = "; ".join(f"{j.label}: {j.error or j.status}" for j in broken)
        _package_failed(package, str(_l("Not every part could be made: %(reasons)s",
                                        reasons=reasons)))
        db.session.commit()
        return PackageStatus.FAILED
    if any(j.status != JobStatus.SUCCEEDED for j in package.jobs):
        db.session.commit()
        return "waiting"
    # One finisher at a time: two jobs finishing together both get here.
    now = utcnow()
    claimed = db.session.execute(
        update(DeliveryPackage).where(
            DeliveryPackage.id == package_id, DeliveryPackage.status == PackageStatus.ASSEMBLING,
            or_(DeliveryPackage.finalizing_at.is_(None),
                DeliveryPackage.finalizing_at < now - timedelta(minutes=10)))
        .values(finalizing_at=now))
    db.session.commit()
    if claimed.rowcount != 1:
        return "finalizing"
    try:
        return _finalize_package(package_id)
    except Exception:  # unforeseen: free the claim at once, so a retry can finish it
        db.session.rollback()
        db.session.execute(update(DeliveryPackage).where(DeliveryPackage.id == package_id)
                           .values(finalizing_at=None))
        db.session.commit()
        raise


def _finalize_package(package_id: int) -> str:
    """Assemble, check and record a claimed package's files (see finish_package)."""
    package = db.session.get(DeliveryPackage, package_id)
    try:
        files = _package_contents(package)
        _check_stored(files)
        files += _manifest_files(package, files)
    except (StorageError, OSError, ValueError) as exc:
        db.session.rollback()
        begin_write(db.session())
        package = db.session.get(DeliveryPackage, package_id)
        _package_failed(package, str(_l("The package could not be completed: %(error)s",
                                        error=str(exc))))
        package.finalizing_at = None
        db.session.commit()
        return PackageStatus.FAILED
    begin_write(db.session())  # the files were made outside it; recording them needs it
    package = db.session.get(DeliveryPackage, package_id)
    package.files.clear()
    db.session.flush()
    for f in files:
        package.files.append(PackageFile(path=f.path, kind=f.kind, storage_key=f.key,
                                         size=f.size, sha256=f.sha256, md5=f.md5,
                                         job_id=f.job_id))
    package.manifest_key = next(f.key for f in files if f.path == "manifest.json")
    package.status = PackageStatus.READY
    package.ready_at = package.sent_at = utcnow()
    package.finalizing_at = None
    package.error = None
    db.session.flush()
    audit.record("delivery.ready", "delivery_package", package.id,
                 parties=[package.buyer_org_id, package.producer_org_id], actor=None,
                 changes={"files": len(files), "bytes": sum(f.size for f in files)})
    _notify([package.buyer_org_id, package.producer_org_id], "transcode.package_ready",
            {"title": package.title.original_title, "deal": package.deal.number},
            _link("transcode.package", package_id=package.id))
    db.session.commit()
    return PackageStatus.READY


def fail_package(package_id: int, reason: str) -> None:
    """Fail a package that is still being assembled, with ``reason`` (for the finisher
    that gave up). Flushes."""
    begin_write(db.session())
    package = db.session.get(DeliveryPackage, package_id)
    if package is not None and package.status == PackageStatus.ASSEMBLING:
        _package_failed(package, reason)
        package.finalizing_at = None
        db.session.flush()


def _package_failed(package: DeliveryPackage, reason: str) -> None:
    package.status = PackageStatus.FAILED
    package.error = reason[:1000]
    audit.record("delivery.failed", "delivery_package", package.id,
                 parties=[package.buyer_org_id, package.producer_org_id], actor=None,
                 changes={"error": package.error})
    _notify([package.producer_org_id, package.buyer_org_id], "transcode.package_failed",
            {"title": package.title.original_title, "deal": package.deal.number},
            _link("transcode.package", package_id=package.id))


def _package_contents(package: DeliveryPackage) -> list[_File]:
    files: list[_File] = []
    for job in package.jobs:
        folder = "artwork" if job.profile_name == "stills" else "video"
        for out in job.outputs:
            files.append(_File(f"{folder}/{out.path}", FileKind.ARTWORK if folder == "artwork"
                               else FileKind.VIDEO, out.storage_key, out.size, out.sha256,
                               out.md5, job.id))
    title = package.title
    storage = get_storage()
    poster = title.poster
    if poster is not None:
        data = b"".join(storage.iter_bytes(poster.storage_key))
        ext = os.path.splitext(poster.filename)[1].lower() or ".png"
        files.append(_store_bytes(package, f"artwork/{poster.kind}{ext}", data,
                                  FileKind.ARTWORK))
    if package.subtitles == SubtitleDelivery.SIDECAR and package.languages:
        files += _subtitle_files(package)
    mec = json.dumps(mec_for(title), ensure_ascii=False, indent=2).encode("utf-8")
    files.append(_store_bytes(package, "metadata/mec.json", mec, FileKind.METADATA))
    files.append(_store_bytes(package, "metadata/avails.xlsx", _avails(package.deal),
                              FileKind.METADATA))
    return files


def _subtitle_files(package: DeliveryPackage) -> list[_File]:
    from localization.services import LocalizationError, export_for_languages

    try:
        key = export_for_languages(package.title_id, package.languages, SUBTITLE_FORMATS)
    except LocalizationError as exc:
        raise ValueError(str(exc.message)) from None
    data = b"".join(get_storage().iter_bytes(key))
    files = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename.rsplit("/", 1)[-1]
            files.append(_store_bytes(package, f"subtitles/{name}", archive.read(info),
                                      FileKind.SUBTITLES))
    return files


def _avails(deal: Deal) -> bytes:
    """The deal's rights as EMA avails rows (spreadsheet v1.9)."""
    from licensing import ema
    from licensing.models import to_domain
    from licensing.services import ema_title

    export = ema.write_avails_xlsx([to_domain(deal.grant)], [ema_title(deal.title)],
                                   licensor=deal.producer.name)
    return export.data


def _check_stored(files: Sequence[_File]) -> None:
    """Every file is in storage with its recorded size (each was hashed on upload)."""
    storage = get_storage()
    for f in files:
        if not storage.exists(f.key):
            raise StorageError(f"{f.path} is missing from storage")
        if storage.size(f.key) != f.size:
            raise StorageError(f"{f.path} in storage is {storage.size(f.key)} bytes, "
                               f"expected {f.size}")


def _manifest_files(package: DeliveryPackage, files: Sequence[_File]) -> list[_File]:
    manifest = {
        "manifest_version": 1,
        "package": package.id,
        "deal": package.deal.number,
        "title": {"id": package.title_id, "original_title": package.title.original_title,
                  "content_id": content_id(package.title_id)},
        "licensor": package.producer.name,
        "licensee": package.buyer.name,
        "profile": {"name": package.profile_name, "definition": package.profile},
        "subtitles": package.subtitles,
        "languages": package.languages,
        "episodes": package.episodes,
        "missing_episodes": package.missing_episodes,
        "generated_at": utcnow().isoformat(),
        "files": [{"path": f.path, "kind": f.kind, "size": f.size, "sha256": f.sha256,
                   "md5": f.md5} for f in sorted(files, key=lambda f: f.path)],
    }
    manifest_file = _store_bytes(package, "manifest.json",
                                 json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
                                 FileKind.MANIFEST)
    listed = sorted([*files, manifest_file], key=lambda f: f.path)
    sha_lines = "".join(f"{f.sha256}  {f.path}\n" for f in listed).encode("utf-8")
    md5_lines = "".join(f"{f.md5}  {f.path}\n" for f in listed).encode("utf-8")
    return [manifest_file,
            _store_bytes(package, "checksums.sha256", sha_lines, FileKind.MANIFEST),
            _store_bytes(package, "checksums.md5", md5_lines, FileKind.MANIFEST)]


# --------------------------------------------------------------------------- queries


def jobs_query(org_id: int | None, *, status: str | None = None, purpose: str | None = None):
    """Jobs an organization owns or receives (all for ``org_id`` None), newest first."""
    stmt = select(TranscodeJob).order_by(TranscodeJob.id.desc())
    if org_id is not None:
        stmt = stmt.where(or_(TranscodeJob.organization_id == org_id,
                              TranscodeJob.recipient_org_id == org_id))
    if status:
        stmt = stmt.where(TranscodeJob.status == status)
    if purpose:
        stmt = stmt.where(TranscodeJob.purpose == purpose)
    return stmt


def packages_query(org_id: int | None):
    stmt = select(DeliveryPackage).order_by(DeliveryPackage.id.desc())
    if org_id is not None:
        stmt = stmt.where(or_(DeliveryPackage.buyer_org_id == org_id,
                              DeliveryPackage.producer_org_id == org_id))
    return stmt


def job_counts(org_id: int | None) -> dict[str, int]:
    stmt = select(TranscodeJob.status, func.count()).group_by(TranscodeJob.status)
    if org_id is not None:
        stmt = stmt.where(or_(TranscodeJob.organization_id == org_id,
                              TranscodeJob.recipient_org_id == org_id))
    return {status: n for status, n in db.session.execute(stmt)}


def video_assets(org_id: int | None, limit: int = 200) -> list[MediaAsset]:
    """Masters and trailers an organization may run an ad-hoc job on."""
    stmt = (select(MediaAsset).join(Title, Title.id == MediaAsset.title_id)
            .where(MediaAsset.kind.in_(("master", "trailer")))
            .order_by(MediaAsset.title_id.desc(), MediaAsset.id).limit(limit))
    if org_id is not None:
        stmt = stmt.where(Title.organization_id == org_id)
    return list(db.session.scalars(stmt))


def signable_deals(org_id: int | None) -> list[Deal]:
    stmt = (select(Deal).where(Deal.status.in_((DealStatus.SIGNED, DealStatus.ACTIVE)))
            .order_by(Deal.id.desc()))
    if org_id is not None:
        stmt = stmt.where(or_(Deal.buyer_org_id == org_id, Deal.producer_org_id == org_id))
    return list(db.session.scalars(stmt))


def deal_by_ref(ref: str) -> Deal | None:
    """A deal by id or number (D-2026-0001)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return db.session.get(Deal, int(ref))
    return db.session.scalar(select(Deal).where(Deal.number == ref))


def screenable_titles(limit: int = 100) -> list[Title]:
    """Published titles that have a master or a trailer to screen."""
    has_video = select(MediaAsset.id).where(MediaAsset.title_id == Title.id,
                                            MediaAsset.kind.in_(("master", "trailer")))
    return list(db.session.scalars(select(Title).where(Title.status == "published",
                                                       has_video.exists())
                                   .order_by(Title.published_at.desc()).limit(limit)))


def organization_name(org_id: int | None) -> str:
    org = db.session.get(Organization, org_id) if org_id else None
    return org.name if org else ""


# --------------------------------------------------------------------------- helpers


def _notify(org_ids, kind: str, params: dict, link: str) -> None:
    from marketplace import notifications

    notifications.notify(org_ids, kind, params, link)


def _link(endpoint: str, **values) -> str:
    from flask import url_for

    try:
        return url_for(endpoint, **values)
    except RuntimeError:  # no request: the CLI or a job
        with current_app.test_request_context():
            return url_for(endpoint, **values)
