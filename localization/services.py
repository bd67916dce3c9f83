"""Subtitle operations: upload, QC, autofix, edit, approve, translate, export.

Services flush; the caller commits once. The exception is :func:`run_translation_job`,
which runs in a worker: it commits its progress as it goes (so the browser can watch) and
creates every episode's translated track in one final transaction, or none.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from catalog.models import Episode, MediaAsset, Title
from localization import domain
from localization.export import (
    KINDS,
    ExportTrack,
    UnsafeArchiveError,
    build_season_zip,
    ingest_zip,
)
from localization.formats import Cue, SubtitleParseError, read_subtitles, retime
from localization.models import (
    ACTIVE_JOB_STATUSES,
    GlossaryEntry,
    JobStatus,
    RevisionReason,
    SubtitleExport,
    SubtitleRevision,
    SubtitleTrack,
    TrackKind,
    TrackOrigin,
    TrackStatus,
    TranslationJob,
    TranslationMemoryEntry,
)
from localization.profiles import QCProfile, _limits_key, get_profile, normalize_language
from localization.translation import (
    DeepLProvider,
    Glossary,
    OpenAIChatProvider,
    Provider,
    PseudoProvider,
    TranslationError,
    TranslationMemory,
    normalize_source,
    translate_track,
)
from marketplace import audit, languages
from marketplace.accounts.models import User
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.i18n import _l
from marketplace.storage import StorageError, get_storage, safe_key

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ZIP_BYTES = 200 * 1024 * 1024
DEFAULT_FPS = 30.0
EXPORT_FORMATS = ("srt", "vtt", "ttml")


class LocalizationError(ValueError):
    """Input the caller can fix. ``field`` names the form or API field; ``line`` is the
    line of a subtitle file that could not be read; ``status`` the HTTP status to answer
    (400 bad field, 409 conflicting state, 422 unreadable file)."""

    def __init__(self, field: str, message, *, line: int | None = None, status: int = 400):
        self.field = field
        self.message = message
        self.line = line
        self.status = status
        super().__init__(str(message))


# --------------------------------------------------------------------------- languages

def parse_language(tag: str | None, *, field: str = "language") -> str:
    """A valid BCP-47 tag in canonical case (``zh_hans`` → ``zh-Hans``), else LocalizationError.

    Beyond the shape, the language, script and region subtags must be ones Babel (CLDR)
    knows, so ``xx``, ``english`` or ``en-XX`` are refused rather than stored.
    """
    from babel import Locale

    raw = (tag or "").strip()
    try:
        parsed = languages.parse(raw)
    except ValueError:
        parsed = None
    names = Locale("en")
    # Variants are not checked further; extensions and private use are refused.
    if (parsed is None or parsed.language not in names.languages or parsed.language == "und"
            or (parsed.script and parsed.script not in names.scripts)
            or (parsed.region and parsed.region not in names.territories)
            or parsed.extensions):
        raise LocalizationError(field, _l("'%(value)s' is not a BCP-47 language code (use e.g. "
                                          "zh-Hans, en, es-419, pt-BR).", value=raw))
    return str(parsed)


def language_name(tag: str, locale: str | None = None) -> str:
    """``es-419`` → ``Spanish (Latin America)`` in the viewer's locale."""
    from babel import Locale, UnknownLocaleError

    try:
        display = Locale.parse(locale or "en")
        return Locale.parse(tag.replace("-", "_")).get_display_name(display) or tag
    except (UnknownLocaleError, ValueError):
        return tag


# --------------------------------------------------------------------------- cues as documents

def cues_to_document(cues: Iterable[Cue]) -> list[dict[str, Any]]:
    """The JSON form kept in a revision: times, text and only the extras a cue has."""
    out = []
    for cue in cues:
        item: dict[str, Any] = {"start_ms": cue.start_ms, "end_ms": cue.end_ms, "text": cue.text}
        if cue.style:
            item["style"] = cue.style
        if cue.settings:
            item["settings"] = cue.settings
        if cue.identifier:
            item["identifier"] = cue.identifier
        out.append(item)
    return out


def cues_from_document(document: Sequence[Mapping[str, Any]]) -> list[Cue]:
    return [Cue(n, int(c["start_ms"]), int(c["end_ms"]), c.get("text", ""), c.get("style"),
                c.get("settings", ""), c.get("identifier", ""))
            for n, c in enumerate(document, 1)]


def current_cues(track: SubtitleTrack) -> list[Cue]:
    return cues_from_document(track.revision.cues)


# --------------------------------------------------------------------------- QC options

@dataclass(frozen=True)
class QCOptions:
    """How a track is checked: layout, audience, the video's frame rate and a buyer's
    overrides of the language table (``{"reading_speed_adult": 12, "chars_per_line": 14}``
    for the track's own language)."""

    layout: str = "vertical"
    audience: str = "adult"
    fps: float = DEFAULT_FPS
    overrides: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"layout": self.layout, "audience": self.audience, "fps": self.fps,
                "overrides": dict(self.overrides)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> QCOptions:
        data = data or {}
        return cls(layout=data.get("layout", "vertical"), audience=data.get("audience", "adult"),
                   fps=float(data.get("fps") or DEFAULT_FPS),
                   overrides=dict(data.get("overrides") or {}))


OVERRIDE_FIELDS = ("chars_per_line", "reading_speed_adult", "reading_speed_children")


def make_options(*, layout: str | None = None, audience: str | None = None,
                 fps: float | str | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 base: QCOptions | None = None) -> QCOptions:
    """Validated options; unknown values are refused naming the field."""
    base = base or QCOptions()
    layout = layout or base.layout
    audience = audience or base.audience
    if layout not in ("standard", "vertical"):
        raise LocalizationError("layout", _l("Choose the standard or the vertical (9:16) layout."))
    if audience not in ("adult", "children"):
        raise LocalizationError("audience", _l("Choose adult or children."))
    try:
        rate = float(fps) if fps not in (None, "") else base.fps
    except (TypeError, ValueError):
        raise LocalizationError("fps", _l("The frame rate must be a number such as 25 or "
                                          "29.97.")) from None
    if not 1 <= rate <= 240:
        raise LocalizationError("fps", _l("The frame rate must be between 1 and 240."))
    clean: dict[str, float] = dict(base.overrides) if overrides is None else {}
    for key, value in (overrides or {}).items():
        if value in (None, ""):
            continue
        if key not in OVERRIDE_FIELDS:
            raise LocalizationError(key, _l("Unknown profile setting."))
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise LocalizationError(key, _l("Enter a positive number.")) from None
        if not 0 < number <= 100:
            raise LocalizationError(key, _l("Enter a positive number."))
        clean[key] = int(number) if key == "chars_per_line" else number
    return QCOptions(layout, audience, rate, clean)


def default_options(title: Title, episode: Episode | None = None) -> QCOptions:
    """Vertical layout for 9:16 titles; the frame rate of the episode's master when known."""
    layout = "vertical" if (title.aspect_ratio or "9:16") == "9:16" else "standard"
    return QCOptions(layout=layout, fps=_episode_fps(title, episode))


def _episode_fps(title: Title, episode: Episode | None) -> float:
    if episode is None:
        return DEFAULT_FPS
    for asset in title.assets_of("master", episode.id):
        try:
            rate = float((asset.probe or {}).get("frame_rate") or 0)
        except (TypeError, ValueError):
            continue
        if 1 <= rate <= 240:
            return rate
    return DEFAULT_FPS


def profile_for(language: str, options: QCOptions) -> QCProfile:
    overrides = {_limits_key(language): dict(options.overrides)} if options.overrides else None
    return get_profile(language, layout=options.layout, audience=options.audience,
                       overrides=overrides)


def check_cues(cues: Sequence[Cue], language: str, options: QCOptions) -> domain.QCReport:
    return domain.check(cues, profile_for(language, options), options.fps)


def track_options(track: SubtitleTrack) -> QCOptions:
    if track.qc_report and track.qc_report.get("options"):
        return QCOptions.from_dict(track.qc_report["options"])
    return default_options(track.title, track.episode)


def track_report(track: SubtitleTrack) -> domain.QCReport | None:
    return domain.QCReport.from_dict(track.qc_report) if track.qc_report else None


def _record_qc(track: SubtitleTrack, report: domain.QCReport, options: QCOptions) -> dict:
    data = {**report.to_dict(), "options": options.to_dict()}
    track.qc_report = data
    track.qc_passed = report.passed
    track.qc_errors = report.error_count
    track.qc_warnings = report.warning_count
    track.qc_counts = report.counts_by_code
    track.qc_profile = report.profile
    track.qc_checked_at = utcnow()
    return data


def run_qc(track: SubtitleTrack, options: QCOptions | None = None, *,
           by: User | None = None) -> domain.QCReport:
    """Check the revision in force (with ``options`` or the track's last ones) and keep
    the report on the track."""
    options = options or track_options(track)
    report = check_cues(current_cues(track), track.language, options)
    _record_qc(track, report, options)
    db.session.flush()
    return report


# --------------------------------------------------------------------------- revisions

def _add_revision(track: SubtitleTrack, cues: Sequence[Cue], reason: str, *,
                  by: User | None, details: Mapping[str, Any] | None = None,
                  options: QCOptions | None = None, source_format: str | None = None,
                  encoding: str | None = None, filename: str | None = None
                  ) -> tuple[SubtitleRevision, domain.QCReport]:
    options = options or track_options(track)
    ordered = cues_to_document(cues)
    report = check_cues(cues_from_document(ordered), track.language, options)
    number = (max((r.number for r in track.revisions), default=0)) + 1
    revision = SubtitleRevision(number=number, cues=ordered, reason=reason,
                                details=dict(details or {}), source_format=source_format,
                                encoding=encoding, filename=filename,
                                created_by_id=by.id if by else None)
    track.revisions.append(revision)
    track.current_revision = number
    track.event_count = len(ordered)
    revision.qc_report = _record_qc(track, report, options)
    db.session.flush()
    return revision, report


def _find_track(episode: Episode, language: str, kind: str) -> SubtitleTrack | None:
    return db.session.scalar(select(SubtitleTrack).where(
        SubtitleTrack.episode_id == episode.id, SubtitleTrack.language == language,
        SubtitleTrack.kind == kind))


def _check_kind(kind: str | None) -> str:
    kind = kind or TrackKind.SUBTITLE
    if kind not in KINDS:
        raise LocalizationError("kind", _l("Choose subtitles, SDH or forced narrative."))
    return kind


def _check_origin(origin: str | None) -> str:
    origin = origin or TrackOrigin.SOURCE
    if origin not in set(TrackOrigin):
        raise LocalizationError("origin", _l("Choose source, machine, human or post-edited."))
    return origin


@dataclass
class UploadResult:
    track: SubtitleTrack
    revision: SubtitleRevision
    report: domain.QCReport
    encoding: str
    format: str
    created: bool
    warnings: tuple[str, ...] = ()


def read_upload(data: bytes, filename: str | None) -> Any:
    """Parse an uploaded file or raise LocalizationError (422) with the line that broke."""
    if not data:
        raise LocalizationError("file", _l("The file is empty."), line=1, status=422)
    if len(data) > MAX_FILE_BYTES:
        raise LocalizationError("file", _l("A subtitle file may be at most 20 MB."), status=422)
    try:
        return read_subtitles(data, filename=filename)
    except SubtitleParseError as exc:
        if exc.line is not None:
            message = _l("Cannot read this file: line %(line)d: %(reason)s",
                         line=exc.line, reason=exc.message)
        else:
            message = _l("Cannot read this file: %(reason)s", reason=exc.message)
        raise LocalizationError("file", message, line=exc.line, status=422) from None


def _store_track(episode: Episode, language: str, kind: str, origin: str, track_data, *,
                 by: User | None, filename: str | None) -> UploadResult:
    track = _find_track(episode, language, kind)
    created = track is None
    if created:
        track = SubtitleTrack(title_id=episode.title_id, episode=episode, language=language,
                              kind=kind, origin=origin, status=TrackStatus.DRAFT)
        track.title = episode.series
        db.session.add(track)
    else:
        # A new upload replaces the text in force: it must be reviewed again.
        track.origin = origin
        track.status = TrackStatus.DRAFT
        track.approved_at = None
        track.approved_by_id = None
    options = default_options(episode.series, episode) if created else track_options(track)
    revision, report = _add_revision(track, track_data.cues, RevisionReason.UPLOAD, by=by,
                             details={"warnings": list(track_data.warnings)}, options=options,
                             source_format=track_data.format, encoding=track_data.encoding,
                             filename=filename)
    audit.record("subtitles.uploaded", "subtitle_track", track.id,
                 parties=[episode.series.organization_id], actor=by,
                 changes={"episode": episode.number, "language": language, "kind": kind,
                          "revision": revision.number, "encoding": track_data.encoding,
                          "format": track_data.format, "file": filename})
    return UploadResult(track, revision, report, track_data.encoding,
                        track_data.format, created, tuple(track_data.warnings))


def upload_track(episode: Episode, *, language: str, data: bytes, filename: str | None,
                 kind: str | None = None, origin: str | None = None,
                 by: User | None = None) -> UploadResult:
    """Store one subtitle file for an episode: a new track, or a new revision of the
    existing (episode, language, kind) track. QC runs at once."""
    language = parse_language(language)
    kind = _check_kind(kind)
    origin = _check_origin(origin)
    parsed = read_upload(data, filename)
    return _store_track(episode, language, kind, origin, parsed, by=by, filename=filename)


@dataclass
class FileOutcome:
    """What happened to one file of a season ZIP."""

    path: str
    episode: int | None = None
    language: str | None = None
    kind: str = "subtitle"
    format: str | None = None
    encoding: str | None = None
    ok: bool = False
    error: str | None = None
    error_line: int | None = None
    track_id: int | None = None
    revision: int | None = None
    qc_passed: bool | None = None
    qc_errors: int = 0
    qc_warnings: int = 0


@dataclass
class SeasonUpload:
    files: list[FileOutcome]
    skipped: list[tuple[str, str]]
    mixed_encodings: bool
    encodings: dict[str, int]

    @property
    def stored(self) -> int:
        return sum(1 for f in self.files if f.ok)

    @property
    def failed(self) -> int:
        return sum(1 for f in self.files if not f.ok)


def upload_season_zip(title: Title, data: bytes, *, language: str | None = None,
                      origin: str | None = None, by: User | None = None) -> SeasonUpload:
    """Store every subtitle file of a ZIP; episode, language and kind come from each file
    name (``E012.zh-Hans.srt``, ``第12集.srt`` with ``language`` as the default).

    A file that cannot be read, names no known episode or no language is reported and
    skipped; the others are stored. Each file is stored in its own savepoint, so a file
    that fails half-way leaves nothing behind. An archive with paths escaping its folder
    is refused whole (LocalizationError 422, nothing stored).
    """
    default_language = parse_language(language) if language else None
    origin = _check_origin(origin)
    if len(data) > MAX_ZIP_BYTES:
        raise LocalizationError("file", _l("A ZIP may be at most 200 MB."), status=422)
    try:
        report = ingest_zip(data, max_file_bytes=MAX_FILE_BYTES, max_total_bytes=MAX_ZIP_BYTES)
    except UnsafeArchiveError as exc:
        raise LocalizationError("file", _l("This archive was refused: %(reason)s",
                                           reason=str(exc)), status=422) from None
    episodes = {e.number: e for e in title.episodes}
    outcomes: list[FileOutcome] = []
    seen: set[tuple[int, str, str]] = set()
    for item in sorted(report.files, key=lambda f: (f.episode or 0, f.path)):
        outcome = FileOutcome(path=item.path, episode=item.episode, kind=item.kind,
                              format=item.format, encoding=item.encoding)
        outcomes.append(outcome)
        if item.track is None:
            outcome.error = (f"line {item.error_line}: {item.error}" if item.error_line
                             else item.error)
            outcome.error_line = item.error_line
            continue
        try:
            lang = parse_language(item.language) if item.language else default_language
        except LocalizationError:
            lang = default_language
        outcome.language = lang
        if item.episode is None or item.episode not in episodes:
            outcome.error = (str(_l("Episode %(number)d does not exist in this title.",
                                    number=item.episode)) if item.episode is not None
                             else str(_l("No episode number in the file name (use e.g. "
                                         "E012.zh-Hans.srt).")))
            continue
        if lang is None:
            outcome.error = str(_l("No language in the file name; choose a default language."))
            continue
        key = (item.episode, lang, item.kind)
        if key in seen:
            outcome.error = str(_l("Another file in this archive is for the same episode, "
                                   "language and kind."))
            continue
        seen.add(key)
        try:
            with db.session.begin_nested():
                stored = _store_track(episodes[item.episode], lang, item.kind, origin,
                                      item.track, by=by, filename=item.path)
        except Exception as exc:  # one bad file must not stop the season
            log.exception("storing %s failed", item.path)
            outcome.error = str(exc)
            continue
        outcome.ok = True
        outcome.track_id = stored.track.id
        outcome.revision = stored.revision.number
        outcome.qc_passed = stored.report.passed
        outcome.qc_errors = stored.report.error_count
        outcome.qc_warnings = stored.report.warning_count
    counts: dict[str, int] = defaultdict(int)
    for f in report.files:
        if f.encoding:
            counts[f.encoding] += 1
    audit.record("subtitles.season_uploaded", "title", title.id,
                 parties=[title.organization_id], actor=by,
                 changes={"files": len(outcomes), "stored": sum(o.ok for o in outcomes),
                          "encodings": dict(counts)})
    db.session.flush()
    return SeasonUpload(outcomes, list(report.skipped), report.mixed_encodings, dict(counts))


# --------------------------------------------------------------------------- autofix, edit, approve

def autofix_track(track: SubtitleTrack, *, by: User | None = None
                  ) -> tuple[SubtitleRevision | None, list[domain.Fix]]:
    """Apply the safe fixes as a new revision (the previous one is kept). Returns
    ``(None, [])`` when there was nothing to fix."""
    options = track_options(track)
    cues = current_cues(track)
    fixed, fixes = domain.autofix(cues, profile_for(track.language, options), options.fps)
    if not fixes:
        run_qc(track, options)
        return None, []
    revision, _report = _add_revision(track, fixed, RevisionReason.AUTOFIX, by=by, options=options,
                             details={"fixes": [{"code": f.code, "event_index": f.event_index,
                                                 "message": f.message} for f in fixes],
                                      "from_revision": track.current_revision})
    if track.status == TrackStatus.APPROVED:
        track.status = TrackStatus.IN_REVIEW
    audit.record("subtitles.autofixed", "subtitle_track", track.id,
                 parties=[track.owner_org_id], actor=by,
                 changes={"revision": revision.number, "fixes": len(fixes)})
    return revision, fixes


def edit_track(track: SubtitleTrack, texts: Mapping[int, str], *, by: User | None = None,
               timings: Mapping[int, tuple[int, int]] | None = None) -> SubtitleRevision | None:
    """The review editor's save: new texts (and optionally times) by event index, as a new
    revision. Nothing changed: None. An approved track goes back to review; a machine
    translation becomes post-edited."""
    cues = current_cues(track)
    by_index = {c.index: c for c in cues}
    changed = []
    new_cues = []
    for cue in cues:
        text = cue.text
        start, end = cue.start_ms, cue.end_ms
        if cue.index in texts:
            text = "\n".join(line.rstrip() for line in
                             str(texts[cue.index]).replace("\r\n", "\n").replace("\r", "\n")
                             .strip("\n").split("\n"))
        if timings and cue.index in timings:
            start, end = (int(v) for v in timings[cue.index])
            if start < 0 or end < start:
                raise LocalizationError(f"time-{cue.index}", _l(
                    "Event %(index)d must end after it starts.", index=cue.index))
        if (text, start, end) != (cue.text, cue.start_ms, cue.end_ms):
            changed.append(cue.index)
        new_cues.append(Cue(cue.index, start, end, text, cue.style, cue.settings,
                            cue.identifier))
    unknown = set(texts) - set(by_index)
    if unknown:
        raise LocalizationError("texts", _l("Unknown event %(index)s.", index=min(unknown)))
    if not changed:
        return None
    new_cues.sort(key=lambda c: (c.start_ms, c.end_ms))
    revision, _report = _add_revision(track, new_cues, RevisionReason.EDIT, by=by,
                             details={"changed": changed, "from_revision": track.current_revision})
    if track.origin == TrackOrigin.MACHINE:
        track.origin = TrackOrigin.POST_EDITED
    if track.status == TrackStatus.APPROVED:
        track.status = TrackStatus.IN_REVIEW
        track.approved_at = None
        track.approved_by_id = None
    audit.record("subtitles.edited", "subtitle_track", track.id, parties=[track.owner_org_id],
                 actor=by, changes={"revision": revision.number, "events": changed})
    return revision


def approve_track(track: SubtitleTrack, *, by: User | None = None,
                  override_reason: str | None = None) -> SubtitleTrack:
    """Approve a track whose QC has no error; with errors only given a reason, which the
    audit log records with the error count."""
    if track.qc_passed is None:
        run_qc(track)
    reason = (override_reason or "").strip()
    if not track.qc_passed and not reason:
        raise LocalizationError("override_reason", _l(
            "QC found %(count)d errors. Fix them, or approve anyway giving a reason.",
            count=track.qc_errors), status=409)
    if track.status == TrackStatus.APPROVED:
        return track
    track.status = TrackStatus.APPROVED
    track.approved_at = utcnow()
    track.approved_by_id = by.id if by else None
    changes: dict[str, Any] = {"revision": track.current_revision, "qc_errors": track.qc_errors}
    if not track.qc_passed:
        changes["override_reason"] = reason[:500]
    audit.record("subtitles.approved_with_override" if not track.qc_passed
                 else "subtitles.approved", "subtitle_track", track.id,
                 parties=[track.owner_org_id], actor=by, changes=changes)
    db.session.flush()
    return track


def submit_for_review(track: SubtitleTrack, *, by: User | None = None) -> None:
    if track.status == TrackStatus.DRAFT:
        track.status = TrackStatus.IN_REVIEW
        audit.record("subtitles.submitted", "subtitle_track", track.id,
                     parties=[track.owner_org_id], actor=by)


def tracks_of(title: Title, language: str | None = None, kind: str | None = None
              ) -> list[SubtitleTrack]:
    stmt = (select(SubtitleTrack).join(Episode, Episode.id == SubtitleTrack.episode_id)
            .where(SubtitleTrack.title_id == title.id)
            .order_by(Episode.number, SubtitleTrack.language, SubtitleTrack.kind))
    if language:
        stmt = stmt.where(SubtitleTrack.language == language)
    if kind:
        stmt = stmt.where(SubtitleTrack.kind == kind)
    return list(db.session.scalars(stmt))


def autofix_season(title: Title, language: str, *, by: User | None = None) -> dict[str, int]:
    """Autofix every track of one language that fails QC. Returns counts."""
    language = parse_language(language)
    fixed = fixes_total = 0
    for track in tracks_of(title, language):
        if track.qc_passed:
            continue
        revision, fixes = autofix_track(track, by=by)
        if revision is not None:
            fixed += 1
            fixes_total += len(fixes)
    return {"tracks": fixed, "fixes": fixes_total}


def approve_season(title: Title, language: str, *, by: User | None = None) -> dict[str, int]:
    """Approve every track of one language that passes QC; the others are left as they are."""
    language = parse_language(language)
    approved = skipped = 0
    for track in tracks_of(title, language):
        if track.status == TrackStatus.APPROVED:
            continue
        if track.qc_passed is None:
            run_qc(track)
        if track.qc_passed:
            approve_track(track, by=by)
            approved += 1
        else:
            skipped += 1
    return {"approved": approved, "skipped": skipped}


# --------------------------------------------------------------------------- season view

@dataclass
class SeasonView:
    episodes: list[Episode]
    languages: list[str]
    cells: dict[tuple[int, str], list[SubtitleTrack]]
    summaries: dict[str, domain.SeasonSummary]
    status_counts: dict[str, dict[str, int]]
    #: (language, label such as "E012") → track id, to link the worst offenders.
    track_ids: dict[tuple[str, str], int]


def season_view(title: Title, *, worst: int = 5) -> SeasonView:
    """Episodes × languages with each cell's tracks, and per language how many pass QC,
    the issues by code and the worst offenders — from the summary columns alone."""
    tracks = tracks_of(title)
    cells: dict[tuple[int, str], list[SubtitleTrack]] = defaultdict(list)
    by_lang: dict[str, list[SubtitleTrack]] = defaultdict(list)
    for track in tracks:
        cells[(track.episode_id, track.language)].append(track)
        by_lang[track.language].append(track)
    original = normalize_language(title.original_language) if title.original_language else ""
    languages = sorted(by_lang, key=lambda lang: (not lang.startswith(original.split("-")[0]),
                                                  lang))
    summaries = {}
    status_counts = {}
    track_ids = {(t.language, _track_label(t)): t.id for t in tracks}
    for lang, items in by_lang.items():
        checked = [t for t in items if t.qc_passed is not None]
        codes: dict[str, int] = defaultdict(int)
        for t in checked:
            for code, count in (t.qc_counts or {}).items():
                codes[code] += count
        entries = [domain.SeasonEntry(_track_label(t), bool(t.qc_passed), t.qc_errors,
                                      t.qc_warnings) for t in checked]
        ranked = sorted((e for e in entries if e.errors or e.warnings),
                        key=lambda e: (-e.errors, -e.warnings, e.label))
        passed = sum(1 for e in entries if e.passed)
        summaries[lang] = domain.SeasonSummary(len(entries), passed, len(entries) - passed,
                                               dict(codes), tuple(ranked[:worst]))
        counts: dict[str, int] = defaultdict(int)
        for t in items:
            counts[t.status] += 1
        status_counts[lang] = dict(counts)
    return SeasonView(list(title.episodes), languages, dict(cells), summaries, status_counts,
                      track_ids)


def _track_label(track: SubtitleTrack) -> str:
    suffix = "" if track.kind == TrackKind.SUBTITLE else f" {track.kind}"
    return f"E{track.episode.number:03d}{suffix}"


# --------------------------------------------------------------------------- review editor

@dataclass
class EditorRow:
    cue: Cue
    source: list[Cue]
    issues: list[domain.QCIssue]
    glossary_misses: list[str]


def editor_rows(track: SubtitleTrack) -> list[EditorRow]:
    """Each event of the track with the source event(s) it overlaps in time, its QC issues
    and the glossary terms the translation missed."""
    cues = current_cues(track)
    report = track_report(track)
    source = current_cues(track.source_track) if track.source_track is not None else []
    misses: dict[int, list[str]] = defaultdict(list)
    details = track.revision.details or {}
    for miss in details.get("glossary_misses", []):
        misses[miss["event_index"]].append(f"{miss['source_term']} → {miss['target_term']}")
    rows = []
    pos = 0
    for cue in cues:
        matched = []
        # Sources are in time order: skip the ones that ended before this cue starts.
        while pos < len(source) and source[pos].end_ms <= cue.start_ms:
            pos += 1
        k = pos
        while k < len(source) and source[k].start_ms < cue.end_ms:
            matched.append(source[k])
            k += 1
        if not matched and source:
            matched = [c for c in source if c.index == cue.index]
        rows.append(EditorRow(cue, matched, report.issues_for(cue.index) if report else [],
                              misses.get(cue.index, [])))
    return rows


def screener_for(track: SubtitleTrack) -> MediaAsset | None:
    """The episode's master, else the title's trailer: what the review editor plays."""
    title = track.title
    masters = title.assets_of("master", track.episode_id)
    if masters:
        return masters[-1]
    return title.trailer


def media_url(asset: MediaAsset) -> str:
    return get_storage().url(asset.storage_key,
                             int(current_app.config["PDX_PRESIGNED_URL_SECONDS"]),
                             asset.filename)


# --------------------------------------------------------------------------- glossary

def glossary_entries(title: Title) -> list[GlossaryEntry]:
    return list(db.session.scalars(select(GlossaryEntry).where(GlossaryEntry.title_id == title.id)
                                   .order_by(GlossaryEntry.source_term,
                                             GlossaryEntry.target_language)))


def add_glossary_entry(title: Title, *, source_term: str, target_language: str,
                       target_term: str, note: str | None = None,
                       by: User | None = None) -> GlossaryEntry:
    source_term = (source_term or "").strip()
    target_term = (target_term or "").strip()
    if not source_term:
        raise LocalizationError("source_term", _l("Enter the term as it appears in the source."))
    if not target_term:
        raise LocalizationError("target_term", _l("Enter how the term is rendered."))
    if len(source_term) > 200 or len(target_term) > 200:
        raise LocalizationError("source_term", _l("A term may be at most 200 characters."))
    language = parse_language(target_language, field="target_language")
    entry = db.session.scalar(select(GlossaryEntry).where(
        GlossaryEntry.title_id == title.id, GlossaryEntry.source_term == source_term,
        GlossaryEntry.target_language == language))
    if entry is None:
        entry = GlossaryEntry(title_id=title.id, source_term=source_term,
                              target_language=language, target_term=target_term)
        db.session.add(entry)
    entry.target_term = target_term
    entry.note = (note or "").strip()[:500] or None
    db.session.flush()
    audit.record("subtitles.glossary_set", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"term": source_term, "language": language,
                                    "target": target_term})
    return entry


def delete_glossary_entry(entry: GlossaryEntry, *, by: User | None = None) -> None:
    title = entry.title
    audit.record("subtitles.glossary_deleted", "title", title.id,
                 parties=[title.organization_id], actor=by,
                 changes={"term": entry.source_term, "language": entry.target_language})
    db.session.delete(entry)
    db.session.flush()


def glossary_for(title: Title) -> Glossary:
    mapping: dict[str, dict[str, str]] = defaultdict(dict)
    for entry in glossary_entries(title):
        mapping[entry.source_term][entry.target_language] = entry.target_term
    return Glossary.from_mapping(mapping)


# --------------------------------------------------------------------------- translation memory

def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DatabaseTranslationMemory(TranslationMemory):
    """The organization's translation memory in ``translation_memory_entry``.

    Lookups query the table (and what this run learnt); new entries wait in memory until
    :meth:`save`, so a failed job writes nothing it did not finish.
    """

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.pending: dict[tuple[str, str, str], tuple[str, str]] = {}

    def lookup(self, source_text: str, source_lang: str, target_lang: str) -> str | None:
        return self.lookup_many([source_text], source_lang, target_lang).get(source_text)

    def lookup_many(self, texts: Iterable[str], source_lang: str, target_lang: str
                    ) -> dict[str, str]:
        wanted = {_hash(normalize_source(t)): t for t in texts}
        found: dict[str, str] = {}
        hashes = list(wanted)
        for h in hashes:
            hit = self.pending.get((source_lang, target_lang, h))
            if hit is not None:
                found[wanted[h]] = hit[1]
        for offset in range(0, len(hashes), 500):
            chunk = hashes[offset:offset + 500]
            rows = db.session.execute(select(
                TranslationMemoryEntry.source_hash, TranslationMemoryEntry.target_text).where(
                TranslationMemoryEntry.organization_id == self.organization_id,
                TranslationMemoryEntry.source_language == source_lang,
                TranslationMemoryEntry.target_language == target_lang,
                TranslationMemoryEntry.source_hash.in_(chunk)))
            for source_hash, target_text in rows:
                found.setdefault(wanted[source_hash], target_text)
        return found

    def store(self, source_text: str, source_lang: str, target_lang: str,
              target_text: str) -> None:
        normalized = normalize_source(source_text)
        self.pending[(source_lang, target_lang, _hash(normalized))] = (normalized, target_text)

    def save(self) -> int:
        """Write what was learnt; lines another job stored meanwhile are left as they are."""
        if not self.pending:
            return 0
        by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
        for src, tgt, h in self.pending:
            by_pair[(src, tgt)].append(h)
        existing: set[tuple[str, str, str]] = set()
        for (src, tgt), hashes in by_pair.items():
            for offset in range(0, len(hashes), 500):
                rows = db.session.scalars(select(TranslationMemoryEntry.source_hash).where(
                    TranslationMemoryEntry.organization_id == self.organization_id,
                    TranslationMemoryEntry.source_language == src,
                    TranslationMemoryEntry.target_language == tgt,
                    TranslationMemoryEntry.source_hash.in_(hashes[offset:offset + 500])))
                existing.update((src, tgt, h) for h in rows)
        added = 0
        for (src, tgt, h), (text, target) in self.pending.items():
            if (src, tgt, h) in existing:
                continue
            db.session.add(TranslationMemoryEntry(
                organization_id=self.organization_id, source_language=src,
                target_language=tgt, source_hash=h, source_text=text, target_text=target))
            added += 1
        self.pending.clear()
        db.session.flush()
        return added


def memory_size(organization_id: int) -> int:
    return db.session.scalar(select(func.count(TranslationMemoryEntry.id)).where(
        TranslationMemoryEntry.organization_id == organization_id)) or 0


# --------------------------------------------------------------------------- translation jobs

PROVIDERS = ("pseudo", "openai", "deepl")


def available_providers() -> list[str]:
    """Pseudo-localization always; the configured HTTP provider when there is one."""
    configured = current_app.config["PDX_TRANSLATION_PROVIDER"]
    return ["pseudo"] if configured == "pseudo" else [configured, "pseudo"]


def build_provider(name: str, config: Mapping[str, Any] | None = None) -> Provider:
    """The provider for ``name`` from configuration (``PDX_TRANSLATION_*``)."""
    config = config if config is not None else current_app.config
    timeout = float(config.get("PDX_TRANSLATION_TIMEOUT") or 60)
    url = config.get("PDX_TRANSLATION_URL")
    key = config.get("PDX_TRANSLATION_API_KEY") or ""
    if name == "pseudo":
        return PseudoProvider()
    if not url:
        raise TranslationError(f"the {name} provider needs PDX_TRANSLATION_URL")
    if name == "openai":
        return OpenAIChatProvider(url, key, config.get("PDX_TRANSLATION_MODEL") or "gpt-4o-mini",
                                  timeout=timeout)
    if name == "deepl":
        return DeepLProvider(url, key, timeout=timeout)
    raise TranslationError(f"unknown translation provider {name!r}")


def _source_tracks(title_id: int, language: str, kind: str) -> list[SubtitleTrack]:
    return list(db.session.scalars(
        select(SubtitleTrack).join(Episode, Episode.id == SubtitleTrack.episode_id)
        .where(SubtitleTrack.title_id == title_id, SubtitleTrack.language == language,
               SubtitleTrack.kind == kind).order_by(Episode.number)))


def start_translation(title: Title, *, source_language: str, target_languages: Sequence[str],
                      kind: str | None = None, provider: str | None = None,
                      by: User | None = None) -> list[TranslationJob]:
    """One queued job per target language; the worker picks them up after commit.

    Every episode's source track in ``source_language`` must be approved (a season is
    translated whole, not a patchwork of drafts)."""
    from localization.tasks import translate as translate_task
    from marketplace.jobs import enqueue

    source = parse_language(source_language, field="source_language")
    kind = _check_kind(kind)
    targets: list[str] = []
    for raw in target_languages:
        if not str(raw).strip():
            continue
        tag = parse_language(raw, field="target_languages")
        if tag == source:
            raise LocalizationError("target_languages", _l(
                "The target language must differ from the source language."))
        if tag not in targets:
            targets.append(tag)
    if not targets:
        raise LocalizationError("target_languages", _l("Choose at least one target language."))
    provider = provider or available_providers()[0]
    if provider not in available_providers():
        raise LocalizationError("provider", _l("This translation provider is not configured."))
    sources = _source_tracks(title.id, source, kind)
    if not sources:
        raise LocalizationError("source_language", _l(
            "There are no %(language)s subtitles to translate yet.", language=source), status=409)
    unapproved = [t for t in sources if t.status != TrackStatus.APPROVED]
    if unapproved:
        listed = ", ".join(f"E{t.episode.number:03d}" for t in unapproved[:10])
        raise LocalizationError("source_language", _l(
            "Approve the source subtitles first; not approved yet: %(episodes)s.",
            episodes=listed + ("…" if len(unapproved) > 10 else "")), status=409)
    total = sum(t.event_count for t in sources)
    jobs = []
    for target in targets:
        active = db.session.scalar(select(TranslationJob.id).where(
            TranslationJob.title_id == title.id, TranslationJob.target_language == target,
            TranslationJob.kind == kind, TranslationJob.status.in_(ACTIVE_JOB_STATUSES)))
        if active:
            raise LocalizationError("target_languages", _l(
                "A translation into %(language)s is already under way.", language=target),
                status=409)
        job = TranslationJob(title_id=title.id, source_language=source, target_language=target,
                             kind=kind, provider=provider, status=JobStatus.QUEUED,
                             progress_total=total, episodes=len(sources),
                             created_by_id=by.id if by else None)
        job.title = title
        db.session.add(job)
        db.session.flush()
        audit.record("subtitles.translation_queued", "translation_job", job.id,
                     parties=[title.organization_id], actor=by,
                     changes={"source": source, "target": target, "provider": provider,
                              "episodes": len(sources)})
        enqueue(translate_task, job.id)
        jobs.append(job)
    return jobs


def retry_job(job: TranslationJob, *, by: User | None = None) -> TranslationJob:
    """Queue a failed job again (same languages and provider)."""
    from localization.tasks import translate as translate_task
    from marketplace.jobs import enqueue

    if job.status != JobStatus.FAILED:
        raise LocalizationError("status", _l("Only a failed job can be retried."), status=409)
    job.status = JobStatus.QUEUED
    job.progress_done = 0
    job.finished_at = None
    db.session.flush()
    audit.record("subtitles.translation_retried", "translation_job", job.id,
                 parties=[job.owner_org_id], actor=by, changes={"previous_error": job.error})
    enqueue(translate_task, job.id)
    return job


def mark_job_failed(job_id: int, reason: str) -> TranslationJob | None:
    job = db.session.get(TranslationJob, job_id)
    if job is None:
        return None
    job.status = JobStatus.FAILED
    job.error = reason[:1000]
    job.finished_at = utcnow()
    audit.record("subtitles.translation_failed", "translation_job", job.id,
                 parties=[job.owner_org_id], actor=None, changes={"reason": job.error})
    db.session.flush()
    return job


ProgressCallback = Callable[[int, int], None]


def run_translation_job(job_id: int, progress_cb: ProgressCallback | None = None
                        ) -> TranslationJob | None:
    """Run a queued job to the end (in a worker). Commits.

    Progress is committed as it goes. The translated tracks are written in one final
    transaction, after every episode translated: a provider that times out or answers
    garbage fails the job with the reason and leaves no track. Lines of episodes that
    did finish go to the translation memory, so a retry does not pay for them twice.
    A job already finished is left alone (a message delivered twice does nothing).
    """
    job = db.session.get(TranslationJob, job_id)
    if job is None or job.status not in ACTIVE_JOB_STATUSES:
        return job
    # Claim: a second delivery of the same message bumps the attempt and wins; the
    # first one notices at the end and writes nothing.
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.started_at = utcnow()
    job.finished_at = None
    job.error = None
    job.progress_done = 0
    attempt = job.attempts
    title = job.title
    org_id = title.organization_id
    db.session.commit()

    memory = DatabaseTranslationMemory(org_id)
    total = job.progress_total
    last_commit = 0.0

    def report(done: int) -> None:
        nonlocal last_commit
        now = time.monotonic()
        if done < total and now - last_commit < 0.2:
            return
        last_commit = now
        db.session.execute(update(TranslationJob).where(TranslationJob.id == job_id)
                           .values(progress_done=min(done, total)))
        db.session.commit()
        if progress_cb is not None:
            progress_cb(min(done, total), total)

    finished: list[tuple[SubtitleTrack, Any]] = []
    try:
        provider = build_provider(job.provider)
        glossary = glossary_for(title)
        sources = _source_tracks(title.id, job.source_language, job.kind)
        if not sources:
            raise TranslationError("the source subtitles are gone")
        not_approved = [t for t in sources if t.status != TrackStatus.APPROVED]
        if not_approved:
            raise TranslationError("source subtitles changed and are no longer approved: "
                                   + ", ".join(f"E{t.episode.number:03d}" for t in not_approved))
        total = sum(t.event_count for t in sources)
        db.session.execute(update(TranslationJob).where(TranslationJob.id == job_id)
                           .values(progress_total=total, episodes=len(sources)))
        db.session.commit()
        offset = 0
        for track in sources:
            cues = current_cues(track)
            base = offset
            result = translate_track(cues, job.source_language, job.target_language, provider,
                                     glossary, memory,
                                     progress=lambda done, _n, base=base: report(base + done))
            offset += len(cues)
            finished.append((track, result))
            report(offset)
    except TranslationError as exc:
        db.session.rollback()
        return _fail(job_id, attempt, exc.reason, memory)

    db.session.rollback()  # nothing pending; start the final transaction clean
    job = db.session.get(TranslationJob, job_id)
    if job is None or job.attempts != attempt or job.status != JobStatus.RUNNING:
        return job  # superseded by another delivery
    hits = sent = misses = 0
    options_cache: dict[int, QCOptions] = {}
    for source_track, result in finished:
        episode = source_track.episode
        target = _find_track(episode, job.target_language, job.kind)
        if target is None:
            target = SubtitleTrack(title_id=title.id, episode=episode,
                                   language=job.target_language, kind=job.kind)
            target.title = title
            db.session.add(target)
            options = default_options(title, episode)
        else:
            options = track_options(target)
        options_cache[episode.id] = options
        target.origin = TrackOrigin.MACHINE
        target.status = TrackStatus.IN_REVIEW
        target.approved_at = None
        target.approved_by_id = None
        target.source_track_id = source_track.id
        target.source_track = source_track
        details = {
            "job_id": job.id, "provider": result.provider, "memory_hits": result.memory_hits,
            "sent_to_provider": result.sent_to_provider,
            "source_revision": source_track.current_revision,
            "glossary_misses": [{"event_index": m.event_index, "source_term": m.source_term,
                                 "target_term": m.expected}
                                for m in result.glossary_misses],
        }
        _add_revision(target, result.cues, RevisionReason.TRANSLATION, by=None, details=details,
                      options=options)
        hits += result.memory_hits
        sent += result.sent_to_provider
        misses += len(result.glossary_misses)
    memory.save()
    job.status = JobStatus.SUCCEEDED
    job.progress_done = job.progress_total
    job.finished_at = utcnow()
    job.memory_hits, job.sent_to_provider, job.glossary_misses = hits, sent, misses
    audit.record("subtitles.translation_succeeded", "translation_job", job.id,
                 parties=[org_id], actor=None,
                 changes={"episodes": len(finished), "memory_hits": hits, "sent": sent,
                          "glossary_misses": misses})
    db.session.commit()
    if progress_cb is not None:
        progress_cb(job.progress_total, job.progress_total)
    return job


def _fail(job_id: int, attempt: int, reason: str, memory: DatabaseTranslationMemory
          ) -> TranslationJob | None:
    job = db.session.get(TranslationJob, job_id)
    if job is None or job.attempts != attempt:
        return job
    try:
        memory.save()
    except Exception:  # the memory is a saving, never a reason to lose the failure
        log.exception("could not save translation memory for job %s", job_id)
        db.session.rollback()
        job = db.session.get(TranslationJob, job_id)
    mark_job_failed(job_id, reason)
    db.session.commit()
    return job


def jobs_of(title: Title, limit: int = 50) -> list[TranslationJob]:
    return list(db.session.scalars(select(TranslationJob).where(TranslationJob.title_id == title.id)
                                   .order_by(TranslationJob.created_at.desc(),
                                             TranslationJob.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- export

def _retime_options(fps_from, fps_to, offset_ms) -> tuple[float | None, float | None, int]:
    def number(value, name):
        if value in (None, ""):
            return None
        try:
            rate = float(value)
        except (TypeError, ValueError):
            raise LocalizationError(name, _l("The frame rate must be a number such as 25 or "
                                             "29.97.")) from None
        if not 1 <= rate <= 240:
            raise LocalizationError(name, _l("The frame rate must be between 1 and 240."))
        return rate

    f_from, f_to = number(fps_from, "fps_from"), number(fps_to, "fps_to")
    if (f_from is None) != (f_to is None):
        raise LocalizationError("fps_to" if f_to is None else "fps_from", _l(
            "Give both frame rates (from and to), or neither."))
    try:
        offset = int(offset_ms or 0)
    except (TypeError, ValueError):
        raise LocalizationError("offset_ms", _l("The offset is a whole number of "
                                                "milliseconds.")) from None
    return f_from, f_to, offset


def export_title(title: Title, *, languages: Sequence[str] | None = None,
                 formats: Sequence[str] = EXPORT_FORMATS, kinds: Sequence[str] | None = None,
                 approved_only: bool = True, fps_from=None, fps_to=None, offset_ms=0,
                 by: User | None = None) -> SubtitleExport:
    """Write a season ZIP (every episode's track in each format plus ``manifest.json``
    with language, kind, origin, QC status and SHA-256) to storage and record it."""
    formats = [f for f in dict.fromkeys(formats or ()) if f]
    if not formats:
        raise LocalizationError("formats", _l("Choose at least one format."))
    for fmt in formats:
        if fmt not in EXPORT_FORMATS:
            raise LocalizationError("formats", _l("Formats are srt, vtt and ttml."))
    wanted = [parse_language(lang, field="languages") for lang in languages or [] if lang]
    f_from, f_to, offset = _retime_options(fps_from, fps_to, offset_ms)
    tracks = [t for t in tracks_of(title)
              if (not wanted or t.language in wanted) and (not kinds or t.kind in kinds)
              and (not approved_only or t.status == TrackStatus.APPROVED)]
    if not tracks:
        message = (_l("No approved subtitles in these languages to export.") if approved_only
                   else _l("No subtitles in these languages to export."))
        raise LocalizationError("languages", message, status=409)
    items = []
    for track in tracks:
        cues = current_cues(track)
        try:
            cues = retime(cues, fps_from=f_from, fps_to=f_to, offset_ms=offset)
        except ValueError as exc:
            raise LocalizationError("offset_ms", str(exc)) from None
        items.append(ExportTrack(track.episode.number, track.language, cues, kind=track.kind,
                                 origin=track.origin, qc_status=track.qc_state, fps=f_to))
    folder = f"title-{title.id}-subtitles"
    data = build_season_zip(items, formats, title=title.original_title, folder=folder)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    key = safe_key("localization", f"title-{title.id}",
                   f"subtitles-{stamp}-{uuid.uuid4().hex[:8]}.zip")
    storage = get_storage()
    try:
        stored = storage.save(key, io.BytesIO(data), "application/zip")
    except StorageError as exc:
        raise LocalizationError("file", _l("The export could not be stored; try again. "
                                           "(%(reason)s)", reason=str(exc))) from None
    langs = sorted({t.language for t in tracks})
    export = SubtitleExport(title_id=title.id, storage_key=key, languages=langs,
                            formats=list(formats), file_count=len(items) * len(formats),
                            options={"approved_only": approved_only, "fps_from": f_from,
                                     "fps_to": f_to, "offset_ms": offset},
                            size=stored.size, sha256=stored.sha256,
                            created_by_id=by.id if by else None)
    export.title = title
    db.session.add(export)
    try:
        db.session.flush()
    except Exception:
        storage.delete(key)
        raise
    audit.record("subtitles.exported", "title", title.id, parties=[title.organization_id],
                 actor=by, changes={"languages": langs, "formats": list(formats),
                                    "files": export.file_count, "sha256": stored.sha256})
    return export


def export_for_languages(title_id: int, languages: Sequence[str],
                         formats: Sequence[str] = EXPORT_FORMATS) -> str:
    """For delivery packages: approved subtitles of ``languages`` as a season ZIP in
    storage; returns its key. Raises LocalizationError when there is nothing approved."""
    title = db.session.get(Title, title_id)
    if title is None:
        raise LocalizationError("title_id", _l("Unknown title."), status=404)
    return export_title(title, languages=languages, formats=formats, approved_only=True).storage_key


def export_url(export: SubtitleExport) -> str:
    return get_storage().url(export.storage_key,
                             int(current_app.config["PDX_PRESIGNED_URL_SECONDS"]),
                             export.filename)


def exports_of(title: Title, limit: int = 20) -> list[SubtitleExport]:
    return list(db.session.scalars(select(SubtitleExport).where(SubtitleExport.title_id == title.id)
                                   .order_by(SubtitleExport.created_at.desc(),
                                             SubtitleExport.id.desc()).limit(limit)))


def titles_with_subtitles(org_id: int | None) -> list[tuple[Title, int]]:
    """The organization's titles (all for admins: ``org_id`` None) with their track counts."""
    stmt = (select(Title, func.count(SubtitleTrack.id))
            .outerjoin(SubtitleTrack, SubtitleTrack.title_id == Title.id)
            .group_by(Title.id).order_by(Title.id.desc()))
    if org_id is not None:
        stmt = stmt.where(Title.organization_id == org_id)
    return [(title, count) for title, count in db.session.execute(stmt)]
