"""Season packages: build a ZIP of subtitle files with a manifest, and read one in safely.

``build_season_zip`` writes ``E012.zh-Hans.srt``-style names (``E012.en.sdh.vtt`` for SDH,
``E012.en.forced.srt`` for forced narratives) and a ``manifest.json`` with each file's
language, kind, origin, QC status and SHA-256. The ZIP is deterministic (fixed timestamps,
sorted entries), so the same tracks give the same bytes and the same checksum.

``ingest_zip`` refuses archives that try to write outside their folder (``../``, absolute
paths, drive letters, symlinks) or that would inflate past the caps, infers episode and
language from each file name and reads every subtitle file with its own encoding.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from localization.formats import (
    Cue,
    SubtitleParseError,
    Track,
    decode_subtitle_bytes,
    format_from_filename,
    read_decoded,
    write_subtitles,
)
from localization.profiles import normalize_language

__all__ = [
    "ExportTrack",
    "IngestReport",
    "IngestedFile",
    "UnsafeArchiveError",
    "build_season_zip",
    "export_filename",
    "ingest_zip",
    "parse_subtitle_filename",
]

KINDS = ("subtitle", "sdh", "forced")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ExportTrack:
    """One track to package. ``qc_status`` is whatever the caller records (passed, failed,
    not_checked…); ``fps`` makes TTML frame-based."""

    episode: int
    language: str
    cues: Sequence[Cue]
    kind: str = "subtitle"
    origin: str = "source"
    qc_status: str = "not_checked"
    fps: float | None = None


def export_filename(episode: int, language: str, kind: str, fmt: str) -> str:
    """``E012.zh-Hans.srt``; SDH and forced tracks get ``.sdh`` / ``.forced`` before the
    extension. Parsed back by :func:`parse_subtitle_filename`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    suffix = "" if kind == "subtitle" else f".{kind}"
    return f"E{episode:03d}.{normalize_language(language)}{suffix}.{fmt}"


def build_season_zip(
    tracks: Iterable[ExportTrack],
    formats: Sequence[str] = ("srt",),
    *,
    title: str | None = None,
    folder: str | None = None,
) -> bytes:
    """A ZIP of every track in every format in ``formats`` (srt, vtt, ttml) plus
    ``manifest.json``; files sit under ``folder`` when given. Raises ValueError for an
    unknown format or two tracks with the same episode, language and kind."""
    formats = tuple(dict.fromkeys(formats))
    for fmt in formats:
        if fmt not in ("srt", "vtt", "ttml"):
            raise ValueError(f"cannot export {fmt!r}; choose from srt, vtt, ttml")
    ordered = sorted(tracks, key=lambda t: (t.episode, normalize_language(t.language), t.kind))
    seen: set[tuple[int, str, str]] = set()
    prefix = f"{folder.strip('/')}/" if folder else ""
    entries: list[tuple[str, bytes]] = []
    manifest_files = []
    for track in ordered:
        language = normalize_language(track.language)
        key = (track.episode, language, track.kind)
        if key in seen:
            raise ValueError(f"two tracks for episode {track.episode}, {language}, {track.kind}")
        seen.add(key)
        for fmt in formats:
            name = prefix + export_filename(track.episode, language, track.kind, fmt)
            data = write_subtitles(track.cues, fmt, language=language, fps=track.fps)
            entries.append((name, data))
            manifest_files.append({
                "path": name,
                "episode": track.episode,
                "language": language,
                "kind": track.kind,
                "origin": track.origin,
                "qc_status": track.qc_status,
                "format": fmt,
                "events": len(track.cues),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            })
    manifest = {"manifest_version": 1, "title": title, "files": manifest_files}
    entries.append((prefix + "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


# --------------------------------------------------------------------------- ingest

class UnsafeArchiveError(ValueError):
    """The whole archive is refused: an entry escapes the folder, or it is too big."""


@dataclass(frozen=True)
class IngestedFile:
    """One subtitle file from an archive; ``track`` is None and ``error`` set when it
    could not be read (the other files are still returned)."""

    path: str
    episode: int | None
    language: str | None
    kind: str
    format: str | None
    encoding: str | None
    track: Track | None
    error: str | None = None
    error_line: int | None = None


@dataclass(frozen=True)
class IngestReport:
    files: tuple[IngestedFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason)

    @property
    def encodings(self) -> dict[str, str | None]:
        """Path → detected encoding, for every subtitle file."""
        return {f.path: f.encoding for f in self.files}

    @property
    def mixed_encodings(self) -> bool:
        return len({f.encoding for f in self.files if f.encoding}) > 1


_EPISODE_RES = (
    re.compile(r"(?i)(?<![a-z])(?:s\d{1,2}[\s_.-]?)?(?:episode|ep|e)[\s_.-]*(\d{1,4})(?!\d)"),
    re.compile(r"第\s*(\d{1,4})\s*[集话話]"),
    re.compile(r"^(\d{1,4})(?!\d)"),
)
_KIND_TOKENS = {"sdh": "sdh", "cc": "sdh", "forced": "forced", "fn": "forced", "narrative": "forced"}


def _as_language(token: str) -> str | None:
    token = token.strip("-_ ")
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?(?:[-_](?:[A-Za-z]{2}|\d{3}))?", token):
        return None
    from babel import Locale, UnknownLocaleError  # babel knows which codes are languages

    try:
        Locale.parse(token.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None
    return normalize_language(token)


def parse_subtitle_filename(path: str) -> tuple[int | None, str | None, str]:
    """Infer (episode, language, kind) from a path: ``E012.zh-Hans.srt``, ``ep12_es.vtt``,
    ``S01E05.en.sdh.srt``, ``第12集.zh-CN.srt``, ``es/012.srt``. Unknowns are None."""
    directory, name = posixpath.split(path.replace("\\", "/"))
    stem = name.rsplit(".", 1)[0] if "." in name else name
    episode = None
    rest_before, rest_after = "", stem
    for pattern in _EPISODE_RES:
        match = pattern.search(stem)
        if match:
            episode = int(match.group(1))
            rest_before, rest_after = stem[:match.start()], stem[match.end():]
            break
    kind = "subtitle"
    language = None

    def tokens(text: str) -> list[str]:
        return [t.strip("-") for t in re.split(r"[._\s]+", text) if t.strip("-")]

    after, before = tokens(rest_after), tokens(rest_before)
    for token in after + before:
        if token.lower() in _KIND_TOKENS:
            kind = _KIND_TOKENS[token.lower()]
    for group in (after, list(reversed(before))):
        for i, token in enumerate(group):
            if token.lower() in _KIND_TOKENS:
                continue
            pair = f"{token}-{group[i + 1]}" if i + 1 < len(group) and group is after else None
            language = (_as_language(pair) if pair else None) or _as_language(token)
            if language:
                break
        if language:
            break
    if language is None and directory:
        language = _as_language(posixpath.basename(directory))
    return episode, language, kind


def _check_entry_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if "\x00" in name:
        raise UnsafeArchiveError(f"entry {name!r} has a NUL in its name")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        raise UnsafeArchiveError(f"entry {name!r} has an absolute path")
    if ".." in normalized.split("/"):
        raise UnsafeArchiveError(f"entry {name!r} points outside the archive folder")
    mode = info.external_attr >> 16
    if mode and (mode & 0o170000) == 0o120000:
        raise UnsafeArchiveError(f"entry {name!r} is a symbolic link")
    return normalized


def ingest_zip(
    source: bytes | BinaryIO,
    *,
    max_entries: int = 2000,
    max_total_bytes: int = 200 * 1024 * 1024,
    max_file_bytes: int = 20 * 1024 * 1024,
) -> IngestReport:
    """Read a ZIP of subtitle files.

    Raises UnsafeArchiveError (before extracting anything) when an entry's path escapes the
    folder, when there are more than ``max_entries`` entries or the declared uncompressed
    total passes ``max_total_bytes``; while reading, when a file inflates past
    ``max_file_bytes`` or the running total passes the cap. Directories, macOS resource
    forks and non-subtitle files are skipped and listed. Each subtitle file is read with
    its own detected encoding; a file that cannot be read is returned with its error.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchiveError(f"not a ZIP archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise UnsafeArchiveError(f"{len(infos)} entries (at most {max_entries})")
        names = [_check_entry_name(info) for info in infos]
        declared = sum(info.file_size for info in infos)
        if declared > max_total_bytes:
            raise UnsafeArchiveError(f"{declared} bytes uncompressed (at most {max_total_bytes})")
        files: list[IngestedFile] = []
        skipped: list[tuple[str, str]] = []
        total = 0
        for info, name in zip(infos, names, strict=True):
            base = posixpath.basename(name)
            if info.is_dir():
                continue
            if name.startswith("__MACOSX/") or base.startswith("."):
                skipped.append((name, "hidden or resource-fork file"))
                continue
            fmt = format_from_filename(base)
            if fmt is None:
                skipped.append((name, "not a subtitle file"))
                continue
            if info.file_size > max_file_bytes:
                raise UnsafeArchiveError(f"{name!r} is {info.file_size} bytes uncompressed (at most {max_file_bytes})")
            with archive.open(info) as handle:
                data = handle.read(max_file_bytes + 1)
            total += len(data)
            if len(data) > max_file_bytes or total > max_total_bytes:
                raise UnsafeArchiveError(f"{name!r} inflates past the size cap")
            episode, language, kind = parse_subtitle_filename(name)
            encoding = None
            try:
                decoded = decode_subtitle_bytes(data)
                encoding = decoded.encoding
                track = read_decoded(decoded, filename=base)
            except SubtitleParseError as exc:
                files.append(IngestedFile(name, episode, language, kind, fmt, encoding, None, exc.message, exc.line))
                continue
            files.append(IngestedFile(name, episode, language or track.language, kind, track.format, track.encoding, track))
    return IngestReport(tuple(files), tuple(skipped))
