"""Catalog operations. Services flush; the caller commits once.

Uploads: the request body arrives spooled to disk by Werkzeug (never whole in memory);
:func:`store_asset` copies it in chunks to a private temp file, checks it (ffprobe for
video and audio, signatures for images, text for subtitles, C2PA for media), and only
then streams it to Storage. A file written to Storage is deleted again if the
transaction that registers it rolls back, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from catalog import domain
from catalog.domain import ValidationError, _l
from catalog.models import (
    Episode,
    MediaAsset,
    Title,
    TitleCopyright,
    TitleGenre,
    TitleLocalization,
    TitleReview,
)
from marketplace import audit
from marketplace.accounts.models import Organization, User
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.storage import StorageError, get_storage, safe_key

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
NEW_KEYS = "pdx_catalog_new_keys"


def _error(field: str, message: domain.Message) -> ValidationError:
    return ValidationError({field: message})


# --------------------------------------------------------------------------- titles


def create_title(org: Organization, data: domain.TitleInput, *, by: User | None = None) -> Title:
    """A new draft title for ``org``."""
    clean = domain.clean_title_input(data)
    title = Title(organization_id=org.id, status="draft", tags=[], provenance={},
                  original_title=clean.original_title, original_language=clean.original_language)
    db.session.add(title)
    _apply_input(title, clean)
    db.session.flush()
    audit.record("title.created", "title", title.id, parties=[org.id], actor=by,
                 changes={"original_title": title.original_title})
    return title


def update_title(title: Title, data: domain.TitleInput, *, by: User | None = None) -> Title:
    _require_editable(title)
    clean = domain.clean_title_input(data)
    _apply_input(title, clean)
    db.session.flush()
    audit.record("title.updated", "title", title.id, parties=[title.organization_id], actor=by)
    return title


def _apply_input(title: Title, clean: domain.TitleInput) -> None:
    title.original_title = clean.original_title
    title.original_language = clean.original_language
    title.country = clean.country
    title.year = clean.year
    title.episode_count = clean.episode_count
    title.typical_episode_seconds = clean.typical_episode_seconds
    title.aspect_ratio = clean.aspect_ratio
    title.tags = list(clean.tags)
    wanted = set(clean.genres)
    title.genre_rows = [g for g in title.genre_rows if g.genre in wanted] + [
        TitleGenre(genre=g) for g in clean.genres if g not in {r.genre for r in title.genre_rows}]
    existing = {loc.language: loc for loc in title.localizations}
    for lang, (loc_title, synopsis) in clean.localizations.items():
        if lang in existing:
            existing[lang].title, existing[lang].synopsis = loc_title, synopsis
        else:
            title.localizations.append(TitleLocalization(language=lang, title=loc_title,
                                                         synopsis=synopsis))
    for lang, loc in existing.items():
        if lang not in clean.localizations:
            title.localizations.remove(loc)
    refresh_search_text(title)


def refresh_search_text(title: Title) -> None:
    title.search_text = domain.search_text(
        title.original_title, [(loc.title, loc.synopsis) for loc in title.localizations],
        title.tags or [])


def _require_editable(title: Title) -> None:
    if not title.is_editable:
        raise _error("status", _l("Only draft or withdrawn titles can be changed; withdraw the "
                                  "title first."))


def title_input_from(title: Title) -> domain.TitleInput:
    return domain.TitleInput(
        original_title=title.original_title, original_language=title.original_language,
        country=title.country, year=title.year, episode_count=title.episode_count,
        typical_episode_seconds=title.typical_episode_seconds, aspect_ratio=title.aspect_ratio,
        genres=title.genres, tags=list(title.tags or []),
        localizations={loc.language: (loc.title, loc.synopsis) for loc in title.localizations})


# --------------------------------------------------------------------------- provenance


def set_provenance(title: Title, data: Mapping[str, Any], *, by: User | None = None) -> None:
    _require_editable(title)
    prov = domain.clean_provenance(data)
    title.provenance = prov.to_dict()
    title.ai_involvement = prov.involvement
    db.session.flush()
    audit.record("title.provenance_set", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"involvement": prov.involvement})


def set_episode_provenance(episode: Episode, data: Mapping[str, Any] | None, *,
                           by: User | None = None) -> None:
    """Override some provenance keys for one episode; ``None`` or ``{}`` inherits all."""
    _require_editable(episode.series)
    if not data:
        episode.provenance_override = None
    else:
        unknown = set(data) - set(domain.Provenance.__dataclass_fields__)
        if unknown:
            raise _error("provenance", _l("Unknown provenance field(s): %(names)s.",
                                          names=", ".join(sorted(unknown))))
        # Validate the merged record, store only the keys that differ.
        domain.clean_provenance({**(episode.series.provenance or {}), **data})
        episode.provenance_override = dict(data)
    db.session.flush()
    audit.record("episode.provenance_set", "title", episode.title_id,
                 parties=[episode.series.organization_id], actor=by,
                 changes={"episode": episode.number})


def provenance_of(title: Title) -> domain.Provenance:
    return domain.Provenance.from_dict(title.provenance)


# --------------------------------------------------------------------------- copyright


def set_copyright(title: Title, *, rights_holder: str | None, registration_number: str | None,
                  nrta_number: str | None, nrta_tier: str | None, underlying_work: str | None,
                  music_clearances: list[dict[str, str]] | str | None,
                  by: User | None = None) -> TitleCopyright:
    _require_editable(title)
    if nrta_tier and nrta_tier not in domain.NRTA_TIERS:
        raise _error("nrta_tier", _l("Choose the NRTA tier: key, ordinary or other."))
    if isinstance(music_clearances, str):
        music_clearances = parse_music_clearances(music_clearances)
    record = title.copyright or TitleCopyright()
    record.rights_holder = (rights_holder or "").strip() or None
    record.registration_number = (registration_number or "").strip() or None
    record.nrta_number = (nrta_number or "").strip() or None
    record.nrta_tier = nrta_tier or None
    record.underlying_work = (underlying_work or "").strip() or None
    record.music_clearances = list(music_clearances or [])
    title.copyright = record
    db.session.flush()
    audit.record("title.copyright_set", "title", title.id, parties=[title.organization_id],
                 actor=by)
    return record


def parse_music_clearances(text: str) -> list[dict[str, str]]:
    """One clearance per line: ``track | rights holder | licence reference``."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise _error("music_clearances", _l(
                "Line %(line)d: write 'track | rights holder | licence reference'.", line=n))
        out.append({"track": parts[0], "rights_holder": parts[1],
                    "reference": parts[2] if len(parts) > 2 else ""})
    return out


def format_music_clearances(items: list[dict[str, str]] | None) -> str:
    return "\n".join(" | ".join(filter(None, (i.get("track"), i.get("rights_holder"),
                                              i.get("reference")))) for i in items or [])


# --------------------------------------------------------------------------- episodes


def add_episode(title: Title, *, number: int, name: str | None = None,
                duration_seconds: int | None = None) -> Episode:
    _require_editable(title)
    if number is None or number < 1:
        raise _error("number", _l("Episode numbers start at 1."))
    if duration_seconds is not None and not 1 <= duration_seconds <= 3600:
        raise _error("duration_seconds", _l("An episode lasts between 1 second and an hour."))
    if any(e.number == number for e in title.episodes):
        raise _error("number", _l("Episode %(number)d already exists.", number=number))
    episode = Episode(number=number, title=(name or "").strip() or None,
                      duration_seconds=duration_seconds)
    title.episodes.append(episode)
    db.session.flush()
    return episode


def add_episode_range(title: Title, count: int, duration_seconds: int | None = None) -> int:
    """Create the missing episodes 1..count; returns how many were added."""
    _require_editable(title)
    if not 1 <= count <= 1000:
        raise _error("count", _l("The number of episodes must be between 1 and 1000."))
    have = {e.number for e in title.episodes}
    added = 0
    for n in range(1, count + 1):
        if n not in have:
            title.episodes.append(Episode(number=n, duration_seconds=duration_seconds))
            added += 1
    if not title.episode_count or title.episode_count < count:
        title.episode_count = count
    db.session.flush()
    return added


def update_episode(episode: Episode, *, name: str | None, duration_seconds: int | None) -> None:
    _require_editable(episode.series)
    if duration_seconds is not None and not 1 <= duration_seconds <= 3600:
        raise _error("duration_seconds", _l("An episode lasts between 1 second and an hour."))
    episode.title = (name or "").strip() or None
    episode.duration_seconds = duration_seconds
    db.session.flush()


def delete_episode(episode: Episode) -> None:
    title = episode.series
    _require_editable(title)
    for asset in [a for a in title.assets if a.episode_id == episode.id]:
        delete_asset(asset)
    title.episodes.remove(episode)
    db.session.flush()


# --------------------------------------------------------------------------- workflow


def submit(title: Title, *, by: User, comment: str | None = None) -> None:
    """Draft or withdrawn → submitted, once the listing is complete enough to review."""
    if title.status not in ("draft", "withdrawn"):
        raise _error("status", _l("Only a draft or withdrawn title can be submitted."))
    gaps = domain.submission_gaps(
        has_synopsis=any(loc.synopsis for loc in title.localizations),
        episode_rows=len(title.episodes),
        rights_holder=title.copyright.rights_holder if title.copyright else None,
        has_poster=title.poster is not None)
    if gaps:
        raise ValidationError(dict(gaps))
    _transition(title, "submitted", by, comment, "submitted")
    title.submitted_at = utcnow()


def publish(title: Title, *, by: User, comment: str | None = None) -> None:
    if not by.is_admin:
        raise _error("status", _l("Only the platform team publishes titles."))
    if title.status != "submitted":
        raise _error("status", _l("Only a submitted title can be published."))
    _transition(title, "published", by, comment, "published")
    title.published_at = utcnow()
    title.withdrawn_at = None


def return_to_producer(title: Title, *, by: User, comment: str) -> None:
    """Staff send a submitted title back to draft with what to fix."""
    if not by.is_admin:
        raise _error("status", _l("Only the platform team reviews titles."))
    if title.status != "submitted":
        raise _error("status", _l("Only a submitted title can be returned."))
    if not (comment or "").strip():
        raise _error("comment", _l("Tell the producer what to change."))
    _transition(title, "draft", by, comment, "returned")


def withdraw(title: Title, *, by: User, comment: str | None = None) -> None:
    if title.status not in ("submitted", "published"):
        raise _error("status", _l("Only a submitted or published title can be withdrawn."))
    _transition(title, "withdrawn", by, comment, "withdrawn")
    title.withdrawn_at = utcnow()


def _transition(title: Title, status: str, by: User, comment: str | None, action: str) -> None:
    before = title.status
    title.status = status
    comment = (comment or "").strip() or None
    if action in ("published", "returned"):
        title.review_comment = comment
    title.reviews.append(TitleReview(user_id=by.id, action=action, comment=comment))
    db.session.flush()
    audit.record(f"title.{action}", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"status": [before, status]})


# --------------------------------------------------------------------------- compliance


def compliance_for(title: Title) -> list[domain.RegionReport]:
    """What each target region's labelling rules still need, title and episodes."""
    nrta = title.copyright.nrta_number if title.copyright else None
    c2pa_by_episode: dict[int | None, bool] = {}
    for asset in title.assets:
        if asset.c2pa_state == "valid":
            c2pa_by_episode[asset.episode_id] = True
    facts = [domain.ComplianceFacts(provenance=provenance_of(title),
                                    has_c2pa=c2pa_by_episode.get(None, False)
                                    or any(c2pa_by_episode.values()),
                                    nrta_number=nrta)]
    for ep in title.episodes:
        if ep.provenance_override:
            facts.append(domain.ComplianceFacts(
                provenance=domain.effective_provenance(title.provenance, ep.provenance_override),
                has_c2pa=c2pa_by_episode.get(ep.id, False), nrta_number=nrta,
                scope=str(ep.number)))
    return domain.evaluate_compliance(facts)


def badge_for(title: Title) -> domain.Badge:
    states = [a.c2pa_state for a in title.assets if a.kind in domain.VIDEO_KINDS | domain.IMAGE_KINDS]
    return domain.provenance_badge(provenance_of(title), states)


def mec_for(title: Title) -> dict[str, Any]:
    prov = provenance_of(title)
    return domain.mec_export(domain.MECTitle(
        id=title.id, original_title=title.original_title,
        original_language=title.original_language, country=title.country, year=title.year,
        genres=title.genres,
        localizations={loc.language: (loc.title, loc.synopsis) for loc in title.localizations},
        rights_holder=title.copyright.rights_holder if title.copyright else None,
        typical_episode_seconds=title.typical_episode_seconds,
        episodes=[(e.number, e.title, e.duration_seconds) for e in title.episodes],
        ai_involvement=prov.involvement, digital_source_type=prov.digital_source_type))


# --------------------------------------------------------------------------- uploads

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_filename(filename: str | None) -> str:
    """The uploader's file name if it is a plain name; a path-like name is refused."""
    name = (filename or "").strip()
    if not name:
        raise _error("file", _l("Choose a file to upload."))
    if _BAD_NAME.search(name) or name in (".", "..") or name.startswith("..") or len(name) > 255:
        raise _error("file", _l("The file name must be a plain name, not a path: '%(name)s'.",
                                name=name[:80]))
    return name


def _suffix(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{ext}" if ext and ext.isalnum() and len(ext) <= 5 else ""


def _spool(stream: BinaryIO, dest: Path, max_bytes: int | None) -> int:
    size = 0
    with dest.open("wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if max_bytes and size > max_bytes:
                raise _error("file", _l("The file is larger than the limit of %(mb)d MB.",
                                        mb=max(1, max_bytes // (1024 * 1024))))
            out.write(chunk)
    if size == 0:
        raise _error("file", _l("The file is empty (0 bytes)."))
    return size


def _probe_video(path: Path, kind: str) -> dict[str, Any]:
    from transcode.probe import ProbeError, probe

    try:
        info = probe(str(path))
    except ProbeError as exc:
        raise _error("file", _l("This is not a playable video: %(reason)s.",
                                reason=exc.reason)) from None
    if kind == "master" and not info.has_audio:
        raise _error("file", _l("An episode master needs an audio track; this file has none."))
    return {
        "container": info.container, "video_codec": info.video_codec,
        "duration": round(info.duration, 3), "width": info.display_width,
        "height": info.display_height, "frame_rate": f"{float(info.frame_rate):.3f}",
        "pix_fmt": info.pix_fmt,
        "audio": [{"codec": a.codec, "channels": a.channels, "sample_rate": a.sample_rate,
                   "language": a.language} for a in info.audio],
        "aigc": info.aigc, "c2pa_box": info.c2pa,
    }


def _probe_audio(path: Path) -> dict[str, Any]:
    from transcode.probe import ProbeError, ffprobe

    try:
        data = ffprobe(str(path))
    except ProbeError as exc:
        raise _error("file", _l("This is not a readable audio file: %(reason)s.",
                                reason=exc.reason)) from None
    audio = [s for s in data.get("streams") or [] if s.get("codec_type") == "audio"]
    if not audio:
        raise _error("file", _l("This file has no audio track."))
    duration = (data.get("format") or {}).get("duration")
    return {"container": (data.get("format") or {}).get("format_name"),
            "duration": float(duration) if duration else None,
            "audio": [{"codec": a.get("codec_name"), "channels": a.get("channels"),
                       "sample_rate": a.get("sample_rate")} for a in audio]}


def _check_image(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        head = fh.read(16)
    kind = next((name for sig, name in domain.IMAGE_SIGNATURES if head.startswith(sig)), None)
    if kind == "webp" and head[8:12] != b"WEBP":
        kind = None
    if kind is None:
        raise _error("file", _l("A poster must be a PNG, JPEG or WebP image."))
    info: dict[str, Any] = {"format": kind}
    try:
        from transcode.probe import ProbeError, ffprobe

        streams = ffprobe(str(path)).get("streams") or []
        if streams:
            info.update(width=streams[0].get("width"), height=streams[0].get("height"))
    except ProbeError as exc:
        raise _error("file", _l("This image cannot be read: %(reason)s.", reason=exc.reason)) from None
    return info


def _check_subtitle(path: Path, name: str) -> dict[str, Any]:
    ext = _suffix(name).lstrip(".")
    if ext not in domain.SUBTITLE_EXTENSIONS:
        raise _error("file", _l("Subtitles must be SRT, WebVTT, ASS, TTML or STL files."))
    if ext == "stl":
        return {"format": ext}
    raw = path.read_bytes()[:2 * 1024 * 1024]
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return {"format": ext}
    raise _error("file", _l("This subtitle file is not UTF-8 or UTF-16 text."))


def read_c2pa(path: Path) -> domain.C2PAState:
    """The C2PA manifest state of a file, read offline with c2pa-python."""
    import c2pa

    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as exc:
        text = str(exc)
        if "NotSupported" in type(exc).__name__ or "not supported" in text.lower():
            return domain.C2PAState()
        return domain.C2PAState(state="invalid", errors=(text[:300],))
    except (OSError, ValueError) as exc:
        log.warning("C2PA read failed for %s: %s", path, exc)
        return domain.C2PAState()
    if reader is None:
        return domain.C2PAState()
    try:
        store = json.loads(reader.json())
        state = reader.get_validation_state()
    finally:
        reader.close()
    return domain.c2pa_from_manifest(store, state)


def inspect_file(path: Path, kind: str, name: str) -> tuple[dict | None, domain.C2PAState | None]:
    """Check a spooled upload for ``kind``; :class:`ValidationError` if it is unusable."""
    if kind in domain.VIDEO_KINDS:
        probe = _probe_video(path, kind)
        c2pa = read_c2pa(path) if probe.pop("c2pa_box") else domain.C2PAState()
        return probe, c2pa
    if kind in domain.IMAGE_KINDS:
        return _check_image(path), read_c2pa(path)
    if kind == "dub_audio":
        return _probe_audio(path), None
    if kind == "subtitle":
        return _check_subtitle(path, name), None
    return None, None


def store_asset(title: Title, *, kind: str, stream: BinaryIO, filename: str | None,
                language: str | None = None, episode: Episode | None = None,
                content_type: str | None = None, by: User | None = None,
                max_bytes: int | None = None, allow_locked: bool = False) -> MediaAsset:
    """Check an upload and register it; nothing is stored unless every check passes."""
    if kind not in domain.ASSET_KINDS:
        raise _error("kind", _l("Choose what kind of file this is."))
    name = clean_filename(filename)
    lang = None
    if language:
        lang = domain.normalize_language(language)
        if lang is None:
            raise _error("language", _l("'%(value)s' is not a language code (use e.g. zh, en, "
                                        "es, pt-BR).", value=language))
    if kind in ("subtitle", "dub_audio") and lang is None:
        raise _error("language", _l("Say which language the subtitles or dub are in."))
    if kind == "master" and episode is None:
        raise _error("episode", _l("A master belongs to an episode: choose one."))
    if episode is not None and episode.title_id != title.id:
        raise _error("episode", _l("Unknown episode."))
    if not (title.is_editable or allow_locked):
        _require_editable(title)
    if max_bytes is None:
        max_bytes = current_app.config.get("MAX_CONTENT_LENGTH")
    storage = get_storage()
    workdir = Path(tempfile.mkdtemp(prefix="pdx-upload-"))
    key = None
    try:
        spooled = workdir / f"upload{_suffix(name)}"
        _spool(stream, spooled, max_bytes)
        probe, c2pa = inspect_file(spooled, kind, name)
        key = safe_key("catalog", f"title-{title.id}", f"{kind}-{uuid.uuid4().hex}{_suffix(name)}")
        with spooled.open("rb") as fh:
            try:
                stored = storage.save(key, fh, content_type)
            except StorageError as exc:
                raise _error("file", _l("The file could not be stored; try again. (%(reason)s)",
                                        reason=str(exc))) from None
        _remember_new_key(storage, key)
        asset = MediaAsset(title=title, episode=episode, kind=kind, language=lang, filename=name, storage_key=key,
                           content_type=content_type, size=stored.size, sha256=stored.sha256,
                           probe=probe, c2pa=c2pa.to_dict() if c2pa else None,
                           uploaded_by_id=by.id if by else None)
        db.session.add(asset)
        db.session.flush()
    except BaseException:
        if key is not None:
            _delete_quietly(storage, key)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    audit.record("title.asset_added", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"kind": kind, "sha256": asset.sha256, "file": name})
    return asset


def delete_asset(asset: MediaAsset, *, by: User | None = None) -> None:
    title = asset.title
    _require_editable(title)
    key = asset.storage_key
    if asset in title.assets:
        title.assets.remove(asset)
    db.session.delete(asset)
    db.session.flush()
    # The file goes once the deletion commits (see _on_commit).
    db.session.info.setdefault("pdx_catalog_dead_keys", []).append((get_storage(), key))
    audit.record("title.asset_deleted", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"kind": asset.kind, "file": asset.filename})


def _remember_new_key(storage, key: str) -> None:
    db.session.info.setdefault(NEW_KEYS, []).append((storage, key))


def _delete_quietly(storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # a leftover file is harmless; a failed cleanup must not mask the error
        log.exception("could not delete %s", key)


def install_session_hooks() -> None:
    """Files of a rolled-back upload are deleted; files of a committed deletion too."""

    @event.listens_for(Session, "after_commit")
    def _on_commit(session: Session) -> None:
        session.info.pop(NEW_KEYS, None)
        for storage, key in session.info.pop("pdx_catalog_dead_keys", []):
            _delete_quietly(storage, key)

    @event.listens_for(Session, "after_soft_rollback")
    def _on_rollback(session: Session, previous_transaction) -> None:
        if previous_transaction.parent is not None:
            return
        session.info.pop("pdx_catalog_dead_keys", None)
        for storage, key in session.info.pop(NEW_KEYS, []):
            _delete_quietly(storage, key)


# --------------------------------------------------------------------------- queries


def titles_of(org_id: int) -> list[Title]:
    return list(db.session.scalars(select(Title).where(Title.organization_id == org_id)
                                   .order_by(Title.updated_at.desc(), Title.id.desc())))


def review_queue() -> list[Title]:
    return list(db.session.scalars(select(Title).where(Title.status == "submitted")
                                   .order_by(Title.submitted_at, Title.id)))


def status_counts(org_id: int | None = None) -> dict[str, int]:
    stmt = select(Title.status, func.count()).group_by(Title.status)
    if org_id is not None:
        stmt = stmt.where(Title.organization_id == org_id)
    return {status: n for status, n in db.session.execute(stmt)}


# --------------------------------------------------------------------------- cards


def cards_for(titles: list[Title], language: str | None = None) -> list[dict[str, Any]]:
    """What a result list shows per title, loaded in three queries for the whole page
    (localizations, genres, title-level artwork and trailers) instead of three per title."""
    ids = [t.id for t in titles]
    if not ids:
        return []
    locs: dict[int, list[TitleLocalization]] = {}
    for loc in db.session.scalars(select(TitleLocalization).where(
            TitleLocalization.title_id.in_(ids))):
        locs.setdefault(loc.title_id, []).append(loc)
    genres: dict[int, list[str]] = {}
    for tid, genre in db.session.execute(select(TitleGenre.title_id, TitleGenre.genre).where(
            TitleGenre.title_id.in_(ids)).order_by(TitleGenre.genre)):
        genres.setdefault(tid, []).append(genre)
    art: dict[int, dict[str, MediaAsset]] = {}
    c2pa: dict[int, list[str]] = {}
    for asset in db.session.scalars(select(MediaAsset).where(
            MediaAsset.title_id.in_(ids), MediaAsset.episode_id.is_(None),
            MediaAsset.kind.in_(("poster", "key_art", "trailer"))).order_by(MediaAsset.id)):
        slot = "trailer" if asset.kind == "trailer" else "poster"
        current = art.get(asset.title_id, {}).get(slot)
        # The latest poster wins; key art stands in only where there is no poster.
        if not (current is not None and current.kind == "poster" and asset.kind == "key_art"):
            art.setdefault(asset.title_id, {})[slot] = asset
        c2pa.setdefault(asset.title_id, []).append(asset.c2pa_state)
    lang = (language or "").split("-")[0].lower()
    out = []
    for t in titles:
        mine = locs.get(t.id, [])
        chosen = next((x for x in mine if x.language.split("-")[0].lower() == lang), None)
        original = next((x for x in mine if x.language == t.original_language), None)
        synopsis = (chosen.synopsis if chosen and chosen.synopsis else
                    original.synopsis if original else next(
                        (x.synopsis for x in mine if x.synopsis), ""))
        badge = domain.provenance_badge(domain.Provenance.from_dict(t.provenance),
                                        c2pa.get(t.id, []))
        out.append({
            "title": t, "name": chosen.title if chosen else t.original_title,
            "synopsis": synopsis, "genres": genres.get(t.id, []),
            "localizations": {x.language: x.title for x in mine},
            "languages": list(dict.fromkeys([t.original_language, *(x.language for x in mine)])),
            "poster": art.get(t.id, {}).get("poster"), "trailer": art.get(t.id, {}).get("trailer"),
            "badge": badge,
        })
    return out


def key_art_from_trailer(trailer: MediaAsset) -> MediaAsset:
    """A frame of the trailer (one second in, or its first) stored as the title's key art."""
    import subprocess

    from marketplace.storage import fetch_to_path

    workdir = Path(tempfile.mkdtemp(prefix="pdx-keyart-"))
    try:
        source = fetch_to_path(get_storage(), trailer.storage_key, workdir / "trailer")
        frame = workdir / "key-art.png"
        seek = "1" if (trailer.probe or {}).get("duration", 0) > 2 else "0"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", seek,
                        "-i", str(source), "-frames:v", "1", str(frame)],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        with frame.open("rb") as fh:
            return store_asset(trailer.title, kind="key_art", stream=fh,
                               filename="key-art-from-trailer.png", content_type="image/png",
                               allow_locked=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
