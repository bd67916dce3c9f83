"""Subtitle files in and out: SRT, WebVTT, ASS/SSA and TTML read from bytes; SRT, WebVTT,
TTML/IMSC 1.1 (and ASS for burn-in) written.

The text model shared by every reader, writer and the QC engine: ``Cue.text`` holds the
event's lines joined by ``"\\n"``; inline markup is kept as the source wrote it — SRT/WebVTT
tags such as ``<i>``, ``<b>``, ``<u>``, ``<c.yellow>``, ``<v Name>`` and ASS override blocks
such as ``{\\i1}``. Writers translate what the target format can carry and drop the rest;
:func:`visible_text` gives what a viewer reads.

Readers are strict where pysubs2 is lenient: pysubs2 skips lines it cannot parse, which on
a marketplace means a silently truncated episode. Here a timecode that does not parse, a
negative time or an event that ends before it starts is refused with a
:class:`SubtitleParseError` naming the line.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from xml.etree import ElementTree as ET
from xml.parsers import expat

__all__ = [
    "FORMATS",
    "Cue",
    "DecodedText",
    "SubtitleParseError",
    "Track",
    "decode_subtitle_bytes",
    "detect_format",
    "format_from_filename",
    "parse_ass",
    "parse_srt",
    "parse_ttml",
    "parse_vtt",
    "read_decoded",
    "read_subtitles",
    "retime",
    "visible_text",
    "write_ass",
    "write_srt",
    "write_subtitles",
    "write_ttml",
    "write_vtt",
]

#: Formats this module writes, by the name used in file extensions.
FORMATS = ("srt", "vtt", "ttml")

_EXTENSIONS = {
    ".srt": "srt",
    ".vtt": "vtt",
    ".webvtt": "vtt",
    ".ass": "ass",
    ".ssa": "ssa",
    ".ttml": "ttml",
    ".dfxp": "ttml",
    ".xml": "ttml",
}


class SubtitleParseError(ValueError):
    """A subtitle file that cannot be read. ``line`` is 1-based (None when unknown)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle event. Times are integer milliseconds; ``end_ms >= start_ms >= 0``.

    ``style`` is the ASS style or TTML style id when the source had one; ``settings`` the
    WebVTT cue settings (``line:0 align:start``) and ``identifier`` the WebVTT cue id, kept
    so a WebVTT round trip loses nothing.
    """

    index: int
    start_ms: int
    end_ms: int
    text: str
    style: str | None = None
    settings: str = ""
    identifier: str = ""

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass(frozen=True)
class Track:
    """What a reader returns: the cues in time order plus what was learnt about the file."""

    cues: tuple[Cue, ...]
    format: str
    encoding: str
    bom: bool = False
    language: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecodedText:
    """Bytes turned into text. ``encoding`` is a Python codec name suitable for reporting
    and for writing the file back the same way; ``method`` says how it was found
    (``bom``, ``utf-8``, ``null-pattern``, ``detected``, ``cjk-preference``)."""

    text: str
    encoding: str
    bom: bool
    method: str


# --------------------------------------------------------------------------- text helpers

# Inline markup: an HTML-like tag (a letter or "/" right after "<"), a WebVTT timestamp tag,
# or an ASS override block. "<3" and "a < b" are text, not tags.
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>|\{\\[^{}]*\}")


def _zero_width_class() -> str:
    """Build a character class of combining marks and format characters (BMP).

    They take no column of their own on screen (Thai tone marks and above/below vowels,
    Arabic harakat, Devanagari matras, zero-width joiners), so counting them would make
    Thai or Hindi lines look longer than they are.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    parts = [
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    ]
    return "[" + "".join(parts) + "]"


_ZERO_WIDTH_RE = re.compile(_zero_width_class())


def visible_text(text: str) -> str:
    """The text a viewer reads: tags removed, ASS hard spaces as spaces, line breaks kept."""
    if "<" in text or "{" in text:
        text = _TAG_RE.sub("", text)
    if "\\h" in text:
        text = text.replace("\\h", " ")
    return text


def display_length(text: str) -> int:
    """Characters that take a place on screen, counting each CJK ideograph as one and
    skipping combining marks; ``text`` should already be tag-free (see visible_text)."""
    if text.isascii():
        return len(text)
    return len(_ZERO_WIDTH_RE.sub("", text))


# --------------------------------------------------------------------------- encodings

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# charset-normalizer's names folded onto the codec we decode with and report.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}
_CJK_FAMILY = _GB_FAMILY | _BIG5_FAMILY | {
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "euc_kr", "cp949", "iso2022_kr", "johab",
}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def _han_ratio(text: str) -> float:
    """Share of non-ASCII characters that are common Han ideographs or CJK punctuation."""
    total = han = 0
    for ch in text:
        if ch.isascii():
            continue
        total += 1
        cp = ord(ch)
        if 0x4E00 <= cp <= 0x9FFF or 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF:
            han += 1
    return han / total if total else 0.0


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode_big5(data: bytes) -> str | None:
    # Python's big5 lacks characters that cp950 (Windows) and HKSCS files use.
    for codec in ("big5", "cp950", "big5hkscs"):
        text = _try_decode(data, codec)
        if text is not None:
            return text
    return None


def _check_not_binary(text: str) -> None:
    match = _CONTROL_RE.search(text)
    if match is not None:
        line = text.count("\n", 0, match.start()) + 1
        raise SubtitleParseError(
            line, f"binary data (control character U+{ord(match.group()):04X}), not a subtitle file"
        )


def decode_subtitle_bytes(data: bytes) -> DecodedText:
    """Decode a subtitle file, detecting its encoding.

    Order: a BOM wins (UTF-8, UTF-16 LE/BE, UTF-32); then BOM-less UTF-16 recognised by its
    NUL bytes; then strict UTF-8; then charset-normalizer. When that guesses a single-byte
    Western code page but the bytes are valid GB18030 or Big5 and read as Chinese, Chinese
    wins: most files here come from Chinese studios and any byte string is valid cp1252.
    Text with control characters is refused as binary.
    """
    if not data:
        raise SubtitleParseError(1, "the file is empty")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise SubtitleParseError(
                    None, f"the file starts with a {codec} byte-order mark but is not {codec}: {exc}"
                ) from exc
            _check_not_binary(text)
            return DecodedText(text, codec, True, "bom")

    if len(data) >= 8 and len(data) % 2 == 0:
        # ASCII in UTF-16 puts a NUL in every other byte; real text in any 8-bit encoding
        # never contains NUL at all.
        even_nul = data[0::2].count(0)
        odd_nul = data[1::2].count(0)
        half = len(data) // 2
        for nul_side, other, codec in ((odd_nul, even_nul, "utf-16-le"), (even_nul, odd_nul, "utf-16-be")):
            if nul_side > half * 0.3 and other <= nul_side * 0.1:
                text = _try_decode(data, codec)
                if text is not None:
                    _check_not_binary(text)
                    return DecodedText(text, codec, False, "null-pattern")

    text = _try_decode(data, "utf-8")
    if text is not None:
        _check_not_binary(text)
        return DecodedText(text, "utf-8", False, "utf-8")

    if b"\x00" in data:
        raise SubtitleParseError(1, "binary data (NUL bytes), not a subtitle file")

    import charset_normalizer  # imported here: slow to import and only needed off the UTF-8 path

    best = charset_normalizer.from_bytes(data).best()
    guess = best.encoding.lower() if best is not None else None
    if guess in _GB_FAMILY:
        text = _try_decode(data, "gb18030")
        if text is not None:
            _check_not_binary(text)
            return DecodedText(text, "gb18030", False, "detected")
    if guess in _BIG5_FAMILY:
        text = _decode_big5(data)
        if text is not None:
            _check_not_binary(text)
            return DecodedText(text, "big5", False, "detected")
    if guess in _CJK_FAMILY:
        # A Japanese or Korean guess is trusted: EUC-KR bytes are also valid GB18030.
        text = str(best)
        _check_not_binary(text)
        return DecodedText(text, guess, False, "detected")

    candidates = []
    for codec, decoded in (("gb18030", _try_decode(data, "gb18030")), ("big5", _decode_big5(data))):
        if decoded is not None:
            ratio = _han_ratio(decoded)
            if ratio >= 0.8:
                candidates.append((ratio, codec == "gb18030", codec, decoded))
    if candidates:
        _, _, codec, text = max(candidates)
        _check_not_binary(text)
        return DecodedText(text, codec, False, "cjk-preference")
    if best is not None:
        text = str(best)
        _check_not_binary(text)
        return DecodedText(text, guess or "unknown", False, "detected")
    raise SubtitleParseError(1, "could not detect the text encoding: binary data, not a subtitle file")


# --------------------------------------------------------------------------- time helpers

_CLOCK_RE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?")


def _parse_clock(token: str, line: int, *, hours_required: bool) -> int:
    """Parse ``[h:]mm:ss[.,fff]`` strictly into milliseconds."""
    token = token.strip()
    if token.startswith("-"):
        raise SubtitleParseError(line, f"negative time {token!r}")
    match = _CLOCK_RE.fullmatch(token)
    if match is None or (hours_required and match.group(1) is None):
        raise SubtitleParseError(line, f"timecode {token!r} does not parse")
    h, m, s, frac = match.groups()
    minutes, seconds = int(m), int(s)
    if minutes > 59 or seconds > 59:
        raise SubtitleParseError(line, f"timecode {token!r} has minutes or seconds above 59")
    ms = int(frac.ljust(3, "0")) if frac else 0
    return ((int(h or 0) * 60 + minutes) * 60 + seconds) * 1000 + ms


def _ms_to_clock(ms: int, sep: str) -> str:
    ms = max(0, int(ms))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, rest = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{rest:03d}"


def _split_lines(text: str) -> list[str]:
    # str.splitlines() also splits on U+2028, form feeds and friends, which would shift the
    # line numbers we report against what an editor shows.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _finish(raw: list[tuple[int, int, int, str, dict]], warnings: list[str]) -> list[Cue]:
    """Sort (stable) by start time, warn about disorder, and number the cues from 1."""
    ordered = True
    for prev, cur in zip(raw, raw[1:], strict=False):
        if cur[1] < prev[1]:
            warnings.append(
                f"line {cur[0]}: cue starts before the cue above it; cues were sorted by start time"
            )
            ordered = False
            break
    if not ordered:
        raw = sorted(raw, key=lambda r: (r[1], r[2]))
    return [Cue(n, start, end, text, **extra) for n, (_, start, end, text, extra) in enumerate(raw, 1)]


# --------------------------------------------------------------------------- SRT

_SRT_TIMING_RE = re.compile(r"\s*\S+\s*-->\s*\S+.*")
_LOOKS_LIKE_TIME_RE = re.compile(r"\s*-?\d{1,2}:\d{2}:\d{2}")


def _parse_timing(line_text: str, line: int, *, hours_required: bool) -> tuple[int, int, str]:
    left, _, right = line_text.partition("-->")
    right_parts = right.strip().split(None, 1)
    if not left.strip() or not right_parts:
        raise SubtitleParseError(line, f"timing line {line_text.strip()!r} does not parse")
    start = _parse_clock(left, line, hours_required=hours_required)
    end = _parse_clock(right_parts[0], line, hours_required=hours_required)
    if end < start:
        raise SubtitleParseError(
            line, f"the event ends ({right_parts[0]}) before it starts ({left.strip()})"
        )
    return start, end, right_parts[1] if len(right_parts) > 1 else ""


def parse_srt(text: str) -> tuple[list[Cue], list[str]]:
    """Parse SubRip text into cues (sorted by start) and warnings.

    Tolerated with a warning: cues out of order (sorted), a paragraph after a blank line
    inside a cue (kept with that cue). Tolerated silently: missing cue numbers, a missing
    blank line before the next number/timing line, trailing SRT position coordinates.
    """
    lines = _split_lines(text)
    raw: list[tuple[int, int, int, str, dict]] = []
    warnings: list[str] = []
    n = len(lines)
    i = 0
    while i < n:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if "-->" in stripped:
            timing_at = i
        elif stripped.isdigit() and i + 1 < n and "-->" in lines[i + 1]:
            timing_at = i + 1
        elif _LOOKS_LIKE_TIME_RE.match(stripped):
            raise SubtitleParseError(i + 1, f"timing line {stripped!r} has no '-->'")
        elif stripped.isdigit() and i + 1 < n and _LOOKS_LIKE_TIME_RE.match(lines[i + 1]):
            raise SubtitleParseError(i + 2, f"timing line {lines[i + 1].strip()!r} has no '-->'")
        elif raw:
            # A blank line inside a cue's text: keep the paragraph with the cue above.
            extra = []
            while i < n and lines[i].strip():
                extra.append(lines[i].strip())
                i += 1
            warnings.append(f"line {i - len(extra) + 1}: text after a blank line kept with the cue above")
            lineno, start, end, cue_text, info = raw[-1]
            raw[-1] = (lineno, start, end, "\n".join(filter(None, [cue_text, *extra])), info)
            continue
        else:
            raise SubtitleParseError(i + 1, f"expected a cue number or a timing line, found {stripped[:40]!r}")

        start, end, _ = _parse_timing(lines[timing_at], timing_at + 1, hours_required=True)
        i = timing_at + 1
        text_lines: list[str] = []
        while i < n:
            current = lines[i].strip()
            if not current:
                break
            if "-->" in current and _SRT_TIMING_RE.fullmatch(current):
                # The blank line before the next cue is missing; drop its number from our text.
                if text_lines and text_lines[-1].isdigit():
                    text_lines.pop()
                break
            text_lines.append(current)
            i += 1
        raw.append((timing_at + 1, start, end, "\n".join(text_lines), {}))
    return _finish(raw, warnings), warnings


# --------------------------------------------------------------------------- WebVTT

_VTT_HEADER_RE = re.compile(r"WEBVTT(?:[ \t].*)?")


def parse_vtt(text: str) -> tuple[list[Cue], list[str]]:
    """Parse WebVTT into cues and warnings. NOTE, STYLE and REGION blocks are skipped;
    cue identifiers and settings are kept; character references are decoded."""
    lines = _split_lines(text)
    if not lines or not _VTT_HEADER_RE.fullmatch(lines[0].lstrip("\ufeff").rstrip()):
        raise SubtitleParseError(1, "a WebVTT file must start with 'WEBVTT'")
    raw: list[tuple[int, int, int, str, dict]] = []
    warnings: list[str] = []
    n = len(lines)
    i = 1
    while i < n and lines[i].strip():  # header metadata lines
        i += 1
    while i < n:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        word = stripped.split(None, 1)[0]
        if word in ("NOTE", "STYLE", "REGION") and "-->" not in stripped:
            while i < n and lines[i].strip():
                i += 1
            continue
        identifier = ""
        if "-->" in stripped:
            timing_at = i
        else:
            identifier = stripped
            if i + 1 >= n or "-->" not in lines[i + 1]:
                if _LOOKS_LIKE_TIME_RE.match(stripped) or re.match(r"\s*-?\d{1,2}:\d{2}", stripped):
                    raise SubtitleParseError(i + 1, f"timing line {stripped!r} has no '-->'")
                raise SubtitleParseError(i + 2, f"expected a timing line after the cue identifier {stripped[:40]!r}")
            timing_at = i + 1
        start, end, settings = _parse_timing(lines[timing_at], timing_at + 1, hours_required=False)
        i = timing_at + 1
        text_lines = []
        while i < n and lines[i].strip() and "-->" not in lines[i]:
            text_lines.append(lines[i].strip())
            i += 1
        cue_text = "\n".join(text_lines)
        if "&" in cue_text:
            cue_text = html.unescape(cue_text)
        raw.append((timing_at + 1, start, end, cue_text, {"settings": settings, "identifier": identifier}))
    return _finish(raw, warnings), warnings


# --------------------------------------------------------------------------- ASS / SSA

_ASS_DEFAULT_FORMAT = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"]


def parse_ass(text: str) -> tuple[list[Cue], list[str]]:
    """Parse the [Events] of an ASS/SSA script: Dialogue lines become cues (Comment lines
    are skipped), ``\\N`` becomes a line break, override blocks stay in the text and the
    style name goes to ``Cue.style``."""
    lines = _split_lines(text)
    raw: list[tuple[int, int, int, str, dict]] = []
    warnings: list[str] = []
    section = ""
    fmt: list[str] | None = None
    saw_script = False
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.lower()
            saw_script = True
            continue
        if section != "[events]":
            continue
        kind, sep, rest = stripped.partition(":")
        if not sep:
            continue
        kind = kind.strip().lower()
        if kind == "format":
            fmt = [f.strip().lower() for f in rest.split(",")]
            if "start" not in fmt or "end" not in fmt or fmt[-1] != "text":
                raise SubtitleParseError(lineno, "the [Events] Format line needs Start, End and Text (last)")
            continue
        if kind not in ("dialogue", "comment"):
            continue
        columns = fmt or _ASS_DEFAULT_FORMAT
        fields = rest.split(",", len(columns) - 1)
        if len(fields) != len(columns):
            raise SubtitleParseError(lineno, f"expected {len(columns)} fields, found {len(fields)}")
        values = dict(zip(columns, fields, strict=True))
        start = _parse_clock(values["start"], lineno, hours_required=True)
        end = _parse_clock(values["end"], lineno, hours_required=True)
        if end < start:
            raise SubtitleParseError(lineno, f"the event ends ({values['end'].strip()}) before it starts ({values['start'].strip()})")
        if kind == "comment":
            continue
        body = values["text"].strip().replace("\\N", "\n").replace("\\n", "\n")
        style = values.get("style", "").strip() or None
        raw.append((lineno, start, end, body, {"style": style}))
    if not saw_script:
        raise SubtitleParseError(1, "no [Script Info] or [Events] section: not an ASS/SSA script")
    return _finish(raw, warnings), warnings


# --------------------------------------------------------------------------- TTML

TT_NS = "http://www.w3.org/ns/ttml"
_TT_NAMESPACES = (TT_NS, "http://www.w3.org/2006/10/ttaf1", "http://www.w3.org/2006/04/ttaf1")
TTS_NS = "http://www.w3.org/ns/ttml#styling"
TTP_NS = "http://www.w3.org/ns/ttml#parameter"
TTM_NS = "http://www.w3.org/ns/ttml#metadata"
XML_NS = "http://www.w3.org/XML/1998/namespace"
IMSC11_TEXT_PROFILE = "http://www.w3.org/ns/ttml/profile/imsc1.1/text"

# The conventional prefixes, so written documents read as TTML authors expect
# (ElementTree's prefix registry is process-wide; these are the standard names).
for _prefix, _uri in (("", TT_NS), ("tts", TTS_NS), ("ttp", TTP_NS), ("ttm", TTM_NS)):
    ET.register_namespace(_prefix, _uri)


class _Node:
    __slots__ = ("attrib", "children", "line", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.line = line
        self.children: list[_Node | str] = []

    @property
    def local(self) -> str:
        return self.tag.rsplit("}", 1)[-1]

    def get(self, local: str, ns: str | None = None) -> str | None:
        """Attribute by local name; TTML files differ in whether they namespace tts/ttp
        attributes correctly, so fall back to any namespace with that local name."""
        if ns is not None and f"{ns}}}{local}" in self.attrib:
            return self.attrib[f"{ns}}}{local}"]
        if local in self.attrib:
            return self.attrib[local]
        for key, value in self.attrib.items():
            if key.rsplit("}", 1)[-1] == local:
                return value
        return None


def _refuse(what: str, parser_ref: list) -> object:
    def handler(*_args: object) -> None:
        raise SubtitleParseError(parser_ref[0].CurrentLineNumber, f"{what} are refused in TTML files")

    return handler


def _parse_xml(text: str) -> _Node:
    """Parse XML with expat into a small tree that remembers line numbers.

    DTDs, entity declarations and external entities are refused outright (the care
    defusedxml takes): a subtitle file has no use for them and they are how XML bombs and
    external-entity reads work.
    """
    match = re.search(r"<!(?:DOCTYPE|ENTITY)", text, re.IGNORECASE)
    if match is not None:
        raise SubtitleParseError(text.count("\n", 0, match.start()) + 1, "DTDs and entity declarations are refused in TTML files")
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator="}")
    ref = [parser]
    parser.StartDoctypeDeclHandler = _refuse("DTDs", ref)
    parser.EntityDeclHandler = _refuse("entity declarations", ref)
    parser.ExternalEntityRefHandler = _refuse("external entities", ref)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    stack: list[_Node] = []
    root: list[_Node] = []

    def qualify(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        node = _Node(qualify(name), {qualify(k): v for k, v in attrs.items()}, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].children.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text.lstrip("\ufeff"), True)
    except expat.ExpatError as exc:
        raise SubtitleParseError(exc.lineno, f"not well-formed XML: {expat.ErrorString(exc.code)}") from exc
    return root[0]


_TT_CLOCK_RE = re.compile(r"(\d{2,}):(\d{2}):(\d{2})(?:(\.\d+)|:(\d{2,})(?:\.(\d+))?)?")
_TT_OFFSET_RE = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|f|t)")


@dataclass(frozen=True)
class _TTTiming:
    fps: float
    tick_rate: float


def _tt_time(expr: str, timing: _TTTiming, line: int) -> float:
    expr = expr.strip()
    if expr.startswith("-"):
        raise SubtitleParseError(line, f"negative time {expr!r}")
    match = _TT_CLOCK_RE.fullmatch(expr)
    if match is not None:
        h, m, s, frac, frames, _sub = match.groups()
        if int(m) > 59 or int(s) > 59:
            raise SubtitleParseError(line, f"time {expr!r} has minutes or seconds above 59")
        ms = ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000.0
        if frac:
            ms += float(frac) * 1000
        if frames:
            ms += int(frames) * 1000 / timing.fps
        return ms
    match = _TT_OFFSET_RE.fullmatch(expr)
    if match is not None:
        value, unit = float(match.group(1)), match.group(2)
        scale = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1, "f": 1000 / timing.fps, "t": 1000 / timing.tick_rate}
        return value * scale[unit]
    raise SubtitleParseError(line, f"time expression {expr!r} does not parse")


@dataclass(frozen=True)
class _Look:
    italic: bool = False
    bold: bool = False
    underline: bool = False


def _look_of(node: _Node, base: _Look, styles: dict[str, _Node]) -> _Look:
    look = base
    for ref in (node.get("style") or "").split():
        style_node = styles.get(ref)
        if style_node is not None:
            look = _look_of(style_node, look, {})  # referential styles: one level is enough here
    italic, bold, underline = look.italic, look.bold, look.underline
    font_style = node.get("fontStyle", TTS_NS)
    if font_style is not None:
        italic = font_style in ("italic", "oblique")
    weight = node.get("fontWeight", TTS_NS)
    if weight is not None:
        bold = weight == "bold"
    decoration = node.get("textDecoration", TTS_NS)
    if decoration is not None:
        if "noUnderline" in decoration:
            underline = False
        elif "underline" in decoration:
            underline = True
    return _Look(italic, bold, underline)


def _tt_text(node: _Node, parent_look: _Look, styles: dict[str, _Node]) -> str:
    look = _look_of(node, parent_look, styles)
    out: list[str] = []
    for child in node.children:
        if isinstance(child, str):
            out.append(re.sub(r"[ \t\r\n]+", " ", child))
        elif child.local == "br":
            out.append("\n")
        elif child.local == "span":
            inner = _tt_text(child, look, styles)
            child_look = _look_of(child, look, styles)
            for flag, tag in (("italic", "i"), ("bold", "b"), ("underline", "u")):
                if getattr(child_look, flag) and not getattr(look, flag):
                    inner = f"<{tag}>{inner}</{tag}>"
            out.append(inner)
    return "".join(out)


def parse_ttml(text: str) -> tuple[list[Cue], list[str], str | None]:
    """Parse TTML (TTML1/2, IMSC, DFXP, SMPTE-TT text) into cues, warnings and the
    document language. Handles clock times with fractions or frames, offset times
    (h, m, s, ms, f, t), nested ``par`` timing on body/div/p, ``dur``, ``<br/>`` and
    italic/bold/underline spans and referenced styles."""
    root = _parse_xml(text)
    if root.local != "tt" or root.tag.split("}")[0].lstrip("{") not in _TT_NAMESPACES:
        raise SubtitleParseError(root.line, "the root element is not a TTML <tt> element")
    frame_rate = float(root.get("frameRate", TTP_NS) or 30)
    multiplier = (root.get("frameRateMultiplier", TTP_NS) or "1 1").split()
    try:
        fps = frame_rate * float(multiplier[0]) / float(multiplier[1])
        tick_rate = float(root.get("tickRate", TTP_NS) or (fps if root.get("frameRate", TTP_NS) else 1))
    except (ValueError, IndexError, ZeroDivisionError) as exc:
        raise SubtitleParseError(root.line, "ttp:frameRate, frameRateMultiplier or tickRate does not parse") from exc
    timing = _TTTiming(fps, tick_rate)
    language = root.get("lang", XML_NS) or None

    styles: dict[str, _Node] = {}
    body: _Node | None = None
    for child in root.children:
        if isinstance(child, str):
            continue
        if child.local == "head":
            for head_child in child.children:
                if not isinstance(head_child, str) and head_child.local == "styling":
                    for style in head_child.children:
                        if not isinstance(style, str) and style.local == "style":
                            style_id = style.get("id", XML_NS)
                            if style_id:
                                styles[style_id] = style
        elif child.local == "body":
            body = child
    raw: list[tuple[int, int, int, str, dict]] = []
    if body is None:
        return [], [], language

    def interval(node: _Node, parent_begin: float, parent_end: float | None) -> tuple[float, float | None]:
        container = node.get("timeContainer")
        if container not in (None, "par"):
            raise SubtitleParseError(node.line, f"timeContainer={container!r} is not supported (only 'par')")
        begin_attr = node.get("begin")
        begin = parent_begin + (_tt_time(begin_attr, timing, node.line) if begin_attr else 0.0)
        end_attr, dur_attr = node.get("end"), node.get("dur")
        if end_attr:
            end: float | None = parent_begin + _tt_time(end_attr, timing, node.line)
        elif dur_attr:
            end = begin + _tt_time(dur_attr, timing, node.line)
        else:
            end = parent_end
        return begin, end

    def walk(node: _Node, parent_begin: float, parent_end: float | None, look: _Look) -> None:
        begin, end = interval(node, parent_begin, parent_end)
        node_look = _look_of(node, look, styles)
        for child in node.children:
            if isinstance(child, str):
                continue
            if child.local == "div":
                walk(child, begin, end, node_look)
            elif child.local == "p":
                p_begin, p_end = interval(child, begin, end)
                if p_end is None:
                    raise SubtitleParseError(child.line, "a <p> has no end time (no end, dur, or timed parent)")
                if p_end < p_begin:
                    raise SubtitleParseError(child.line, "the event ends before it starts")
                body_text = _tt_text(child, node_look, styles)
                p_look = _look_of(child, node_look, styles)
                for flag, tag in (("italic", "i"), ("bold", "b"), ("underline", "u")):
                    if getattr(p_look, flag):
                        body_text = f"<{tag}>{body_text}</{tag}>"
                body_text = "\n".join(part.strip() for part in body_text.split("\n")).strip()
                style = (child.get("style") or "").split()
                raw.append((child.line, round(p_begin), round(p_end), body_text, {"style": style[0] if style else None}))

    walk(body, 0.0, None, _Look())
    warnings: list[str] = []
    return _finish(raw, warnings), warnings, language


# --------------------------------------------------------------------------- reading

def format_from_filename(filename: str | None) -> str | None:
    """The subtitle format a file name's extension names (``srt``, ``vtt``, ``ass``,
    ``ssa``, ``ttml``), or None."""
    if not filename:
        return None
    lowered = filename.lower()
    for ext, fmt in _EXTENSIONS.items():
        if lowered.endswith(ext):
            return fmt
    return None


def detect_format(text: str, filename: str | None = None) -> str:
    """Recognise the format from the content (the extension only breaks ties)."""
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.startswith("<"):
        if re.search(r"<(?:\w+:)?tt[\s>]", head):
            return "ttml"
        raise SubtitleParseError(1, "an XML file that is not TTML")
    lowered = head.lower()
    if "[script info]" in lowered or "[v4+ styles]" in lowered or "[v4 styles]" in lowered or "[events]" in lowered:
        if "[v4 styles]" in lowered or re.search(r"scripttype:\s*v4\.00\s*$", lowered, re.MULTILINE):
            return "ssa"
        return "ass"
    by_name = format_from_filename(filename)
    if by_name == "vtt":
        return "vtt"  # a .vtt without its header should be told so, not parsed as SRT
    if "-->" in head:
        return "srt"
    if by_name is not None:
        return by_name
    raise SubtitleParseError(1, "not a recognised subtitle format (SRT, WebVTT, ASS/SSA, TTML)")


def read_subtitles(data: bytes, filename: str | None = None, format: str | None = None) -> Track:
    """Read a subtitle file from bytes.

    Detects the encoding (reported in ``Track.encoding``) and, unless ``format`` is given,
    the format. Returns cues sorted by start time and numbered from 1 (a WebVTT, ASS or
    TTML file may hold no cue; an SRT file without one is refused). Raises
    :class:`SubtitleParseError` (with the line) for binary junk, a timecode that does not
    parse, a negative time or an event ending before it starts.
    """
    return read_decoded(decode_subtitle_bytes(data), filename, format)


def read_decoded(decoded: DecodedText, filename: str | None = None, format: str | None = None) -> Track:
    """The second half of :func:`read_subtitles`, for callers that decoded already."""
    fmt = format or detect_format(decoded.text, filename)
    language = None
    if fmt == "srt":
        cues, warnings = parse_srt(decoded.text)
    elif fmt == "vtt":
        cues, warnings = parse_vtt(decoded.text)
    elif fmt in ("ass", "ssa"):
        cues, warnings = parse_ass(decoded.text)
    elif fmt == "ttml":
        cues, warnings, language = parse_ttml(decoded.text)
    else:
        raise ValueError(f"unknown subtitle format {fmt!r}")
    if fmt == "srt" and not cues:
        raise SubtitleParseError(1, "no subtitle cues found")
    return Track(tuple(cues), fmt, decoded.encoding, decoded.bom, language, tuple(warnings))


# --------------------------------------------------------------------------- retiming

def retime(
    cues: Iterable[Cue],
    *,
    fps_from: float | None = None,
    fps_to: float | None = None,
    offset_ms: int = 0,
) -> list[Cue]:
    """Return new cues with times scaled from one frame rate to another and then shifted.

    Converting 25 → 23.976 stretches every time by 25/23.976 (the PAL speed-up undone).
    Raises ValueError when an offset would push a cue before zero: dropping or clipping
    subtitles silently is worse than asking.
    """
    if (fps_from is None) != (fps_to is None):
        raise ValueError("give both fps_from and fps_to, or neither")
    if fps_from is not None and fps_to is not None and (fps_from <= 0 or fps_to <= 0):
        raise ValueError("frame rates must be positive")
    ratio = fps_from / fps_to if fps_from and fps_to else 1.0
    out = []
    for cue in cues:
        start = round(cue.start_ms * ratio) + offset_ms
        end = round(cue.end_ms * ratio) + offset_ms
        if start < 0:
            raise ValueError(f"cue {cue.index} would start at {start} ms: the offset is too negative")
        out.append(replace(cue, start_ms=start, end_ms=end))
    return out


# --------------------------------------------------------------------------- writers

_ASS_TOGGLE_RE = re.compile(r"\\([ibus])([01])")
_ASS_BLOCK_RE = re.compile(r"\{\\[^{}]*\}")


def _ass_blocks_to_html(text: str) -> str:
    """Turn ASS override blocks into <i>/<b>/<u>/<s> tags; drop every other override."""
    if "{" not in text:
        return text

    def block(match: re.Match[str]) -> str:
        return "".join(
            f"<{tag}>" if on == "1" else f"</{tag}>" for tag, on in _ASS_TOGGLE_RE.findall(match.group())
        )

    return _ASS_BLOCK_RE.sub(block, text)


_SRT_KEEP_RE = re.compile(r"</?(?:i|b|u|s|font)(?:\s[^<>]*)?>", re.IGNORECASE)
_VTT_KEEP_RE = re.compile(r"</?(?:i|b|u|c|v|lang|ruby|rt)(?:[.\s][^<>]*)?>|<\d[\d:.]*>")


def _keep_tags(text: str, keep: re.Pattern[str], escape: bool) -> str:
    """Keep the tags ``keep`` matches, drop other tags; with ``escape``, escape & and <."""
    out: list[str] = []
    pos = 0
    for match in _TAG_RE.finditer(text):
        chunk = text[pos:match.start()]
        out.append(_vtt_escape(chunk) if escape else chunk)
        if keep.fullmatch(match.group()):
            out.append(match.group())
        pos = match.end()
    tail = text[pos:]
    out.append(_vtt_escape(tail) if escape else tail)
    return "".join(out)


def _vtt_escape(chunk: str) -> str:
    return chunk.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clean_lines(text: str) -> str:
    # A blank line would end the cue early in SRT and WebVTT.
    return "\n".join(line for line in text.replace("\\h", "\u00a0").split("\n") if line.strip())


def write_srt(cues: Sequence[Cue]) -> str:
    """SubRip text, cues renumbered from 1; ASS italics/bold/underline become HTML tags."""
    out = []
    for n, cue in enumerate(cues, 1):
        text = _clean_lines(_keep_tags(_ass_blocks_to_html(cue.text), _SRT_KEEP_RE, escape=False))
        out.append(f"{n}\n{_ms_to_clock(cue.start_ms, ',')} --> {_ms_to_clock(cue.end_ms, ',')}\n{text}\n")
    return "\n".join(out)


def write_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT with cue identifiers and settings kept; text escaped, non-WebVTT tags dropped."""
    out = ["WEBVTT\n"]
    for cue in cues:
        text = _clean_lines(_keep_tags(_ass_blocks_to_html(cue.text), _VTT_KEEP_RE, escape=True))
        timing = f"{_ms_to_clock(cue.start_ms, '.')} --> {_ms_to_clock(cue.end_ms, '.')}"
        if cue.settings:
            timing += " " + cue.settings
        ident = f"{cue.identifier}\n" if cue.identifier and "-->" not in cue.identifier else ""
        out.append(f"{ident}{timing}\n{text}\n")
    return "\n".join(out)


_NTSC_RATES = {23.976: 24, 29.97: 30, 59.94: 60, 47.952: 48, 119.88: 120}


def _frame_rate_attrs(fps: float) -> tuple[int, str | None, float]:
    """(ttp:frameRate, ttp:frameRateMultiplier or None, the exact rate)."""
    for approx, nominal in _NTSC_RATES.items():
        if abs(fps - approx) < 0.01 or abs(fps - nominal * 1000 / 1001) < 1e-6:
            return nominal, "1000 1001", nominal * 1000 / 1001
    nominal = round(fps)
    if abs(fps - nominal) > 1e-6:
        raise ValueError(f"frame rate {fps} is neither integral nor an NTSC rate")
    return nominal, None, float(nominal)


def _tt_clock(ms: int, fps: float | None, nominal: int | None) -> str:
    """A TTML clock time; with a frame rate, ``HH:MM:SS:FF`` where (media time base, TTML
    §10.3.1) the time is seconds + FF / effective frame rate."""
    ms = max(0, int(ms))
    if fps is None or nominal is None:
        return _ms_to_clock(ms, ".")
    seconds, rest = divmod(ms, 1000)
    frames = round(rest * fps / 1000)
    if frames >= nominal:
        seconds, frames = seconds + 1, 0
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{frames:02d}"


def write_ttml(
    cues: Sequence[Cue],
    *,
    language: str,
    fps: float | None = None,
    extent: tuple[int, int] | None = (1080, 1920),
    title: str | None = None,
) -> str:
    """A TTML document conforming to the IMSC 1.1 Text Profile.

    ``tt`` carries ``xml:lang``, ``ttp:profile`` (the IMSC 1.1 text designator),
    ``ttp:timeBase="media"``, ``tts:extent`` in pixels (default 1080×1920, 9:16) and, when
    ``fps`` is given, ``ttp:frameRate`` (+ ``frameRateMultiplier`` for 23.976/29.97/59.94)
    with frame-based times ``HH:MM:SS:FF``; without ``fps`` times are ``HH:MM:SS.mmm``.
    Two regions (bottom, and top for cues positioned at the top with ``{\\an8}``),
    one style, ``body/div/p`` with ``begin``/``end``, ``<br/>`` between lines and
    italic/bold/underline as styled spans.
    """
    nominal = multiplier = None
    exact_fps = None
    if fps is not None:
        nominal, multiplier, exact_fps = _frame_rate_attrs(fps)
    attrs = {
        f"{{{XML_NS}}}lang": language,
        f"{{{TTP_NS}}}profile": IMSC11_TEXT_PROFILE,
        f"{{{TTP_NS}}}timeBase": "media",
        f"{{{TTP_NS}}}cellResolution": "20 36" if extent and extent[1] > extent[0] else "32 15",
    }
    if nominal is not None:
        attrs[f"{{{TTP_NS}}}frameRate"] = str(nominal)
        if multiplier:
            attrs[f"{{{TTP_NS}}}frameRateMultiplier"] = multiplier
    if extent is not None:
        attrs[f"{{{TTS_NS}}}extent"] = f"{extent[0]}px {extent[1]}px"
    tt = ET.Element(f"{{{TT_NS}}}tt", attrs)
    head = ET.SubElement(tt, f"{{{TT_NS}}}head")
    if title:
        metadata = ET.SubElement(head, f"{{{TT_NS}}}metadata")
        ET.SubElement(metadata, f"{{{TTM_NS}}}title").text = title
    styling = ET.SubElement(head, f"{{{TT_NS}}}styling")
    ET.SubElement(styling, f"{{{TT_NS}}}style", {
        f"{{{XML_NS}}}id": "s1",
        f"{{{TTS_NS}}}fontFamily": "proportionalSansSerif",
        f"{{{TTS_NS}}}fontSize": "1c",
        f"{{{TTS_NS}}}lineHeight": "125%",
        f"{{{TTS_NS}}}textAlign": "center",
        f"{{{TTS_NS}}}color": "#FFFFFF",
        f"{{{TTS_NS}}}backgroundColor": "#000000B3",
    })
    layout = ET.SubElement(head, f"{{{TT_NS}}}layout")
    for region_id, origin, align in (("bottom", "5% 70%", "after"), ("top", "5% 10%", "before")):
        ET.SubElement(layout, f"{{{TT_NS}}}region", {
            f"{{{XML_NS}}}id": region_id,
            f"{{{TTS_NS}}}origin": origin,
            f"{{{TTS_NS}}}extent": "90% 20%",
            f"{{{TTS_NS}}}displayAlign": align,
            f"{{{TTS_NS}}}overflow": "visible",
        })
    body = ET.SubElement(tt, f"{{{TT_NS}}}body", {"style": "s1"})
    div = ET.SubElement(body, f"{{{TT_NS}}}div")
    paragraphs = []
    for n, cue in enumerate(cues, 1):
        region = "top" if re.search(r"\{[^}]*\\an[789]", cue.text) else "bottom"
        p = ET.SubElement(div, f"{{{TT_NS}}}p", {
            f"{{{XML_NS}}}id": f"sub{n}",
            "begin": _tt_clock(cue.start_ms, exact_fps, nominal),
            "end": _tt_clock(cue.end_ms, exact_fps, nominal),
            "region": region,
        })
        paragraphs.append((p, cue))
    # Indent before the paragraphs get their text: indenting mixed content would add
    # whitespace inside <p>, which is subtitle text.
    ET.indent(tt, space="  ")
    for p, cue in paragraphs:
        _append_runs(p, _clean_lines(_ass_blocks_to_html(cue.text)))
    body_xml = ET.tostring(tt, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body_xml + "\n"


_RUN_TAG_RE = re.compile(r"<(/?)(i|b|u)>", re.IGNORECASE)


def _append_runs(p: ET.Element, text: str) -> None:
    """Fill a <p> with text, <br/> for line breaks and styled <span>s for <i>/<b>/<u>."""
    state = {"i": False, "b": False, "u": False}
    text = _keep_basic_tags(text)
    last: ET.Element | None = None  # the element whose tail receives the next plain text

    def add_text(chunk: str) -> None:
        nonlocal last
        lines = chunk.split("\n")
        for k, piece in enumerate(lines):
            if k:
                last = ET.SubElement(p, f"{{{TT_NS}}}br")
            if not piece:
                continue
            if any(state.values()):
                span_attrs = {}
                if state["i"]:
                    span_attrs[f"{{{TTS_NS}}}fontStyle"] = "italic"
                if state["b"]:
                    span_attrs[f"{{{TTS_NS}}}fontWeight"] = "bold"
                if state["u"]:
                    span_attrs[f"{{{TTS_NS}}}textDecoration"] = "underline"
                span = ET.SubElement(p, f"{{{TT_NS}}}span", span_attrs)
                span.text = piece
                last = span
            elif last is None:
                p.text = (p.text or "") + piece
            else:
                last.tail = (last.tail or "") + piece

    pos = 0
    for match in _RUN_TAG_RE.finditer(text):
        add_text(text[pos:match.start()])
        state[match.group(2).lower()] = not match.group(1)
        pos = match.end()
    add_text(text[pos:])


def _keep_basic_tags(text: str) -> str:
    """Remove every tag except <i>, <b>, <u> (and their closers)."""
    return _TAG_RE.sub(lambda m: m.group() if _RUN_TAG_RE.fullmatch(m.group()) else "", text)


def write_ass(
    cues: Sequence[Cue],
    *,
    play_res: tuple[int, int] = (1080, 1920),
    font: str = "Noto Sans CJK SC",
    font_size: int | None = None,
    margin_v: int | None = None,
) -> str:
    """An ASS script for burning subtitles in (via pysubs2), sized to the video.

    PlayResX/PlayResY match the video so libass does not scale from its 384×288 default;
    line breaks are explicit ``\\N`` because libass does not wrap Chinese without spaces.
    """
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(play_res[0])
    subs.info["PlayResY"] = str(play_res[1])
    subs.info["WrapStyle"] = "2"  # no automatic wrapping: our breaks are the breaks
    style = subs.styles["Default"]
    style.fontname = font
    style.fontsize = font_size or max(16, round(play_res[0] / 20))
    style.marginv = margin_v if margin_v is not None else round(play_res[1] * 0.12)
    style.outline = 2
    style.shadow = 0
    for cue in cues:
        text = _TAG_RE.sub(_html_to_ass, cue.text).replace("\n", "\\N")
        subs.events.append(pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms, text=text))
    return subs.to_string("ass")


def _html_to_ass(match: re.Match[str]) -> str:
    tag = match.group()
    basic = _RUN_TAG_RE.fullmatch(tag)
    if basic:
        return f"{{\\{basic.group(2).lower()}{0 if basic.group(1) else 1}}}"
    return tag if tag.startswith("{") else ""


def write_subtitles(cues: Sequence[Cue], fmt: str, *, language: str = "und", fps: float | None = None) -> bytes:
    """Serialise cues as UTF-8 bytes in ``fmt`` (srt, vtt, ttml, ass). ``language`` and
    ``fps`` matter for TTML only (see write_ttml)."""
    if fmt == "srt":
        return write_srt(cues).encode("utf-8")
    if fmt == "vtt":
        return write_vtt(cues).encode("utf-8")
    if fmt == "ttml":
        return write_ttml(cues, language=language, fps=fps).encode("utf-8")
    if fmt == "ass":
        return write_ass(cues).encode("utf-8")
    raise ValueError(f"cannot write subtitle format {fmt!r}; choose one of srt, vtt, ttml, ass")
