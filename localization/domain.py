"""Subtitle quality control: check a track against a QC profile, fix what can be fixed
safely, and summarise a season.

How characters are counted (line length and reading speed alike): the text a viewer reads
(tags and ASS overrides removed, see ``formats.visible_text``), each CJK ideograph, kana or
Hangul syllable as one character, spaces and punctuation as one, combining marks (Thai
tone marks, Arabic harakat, Devanagari matras) as none, line breaks not at all. Reading
speed is those characters divided by the event's duration in seconds.

Everything here is pure: cues in, new cues and reports out; inputs are never changed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from localization.formats import Cue, display_length, visible_text
from localization.profiles import QCProfile

__all__ = [
    "Fix",
    "QCIssue",
    "QCReport",
    "ReadingSpeedPoint",
    "SeasonEntry",
    "SeasonSummary",
    "autofix",
    "check",
    "close_tags",
    "count_characters",
    "rebreak",
    "summarize_season",
]

Severity = Literal["error", "warning"]

# Issue codes.
EMPTY = "empty_event"
TOO_MANY_LINES = "too_many_lines"
LINE_TOO_LONG = "line_too_long"
READING_SPEED = "reading_speed"
TOO_SHORT = "duration_too_short"
TOO_LONG = "duration_too_long"
GAP_TOO_SHORT = "gap_too_short"
GAP_NOT_CLOSED = "gap_not_closed"
OVERLAP = "overlap"
OUT_OF_ORDER = "out_of_order"
UNBALANCED_TAGS = "unbalanced_tags"

# A gap is "two frames" when it is within half a millisecond of it: SRT and WebVTT store
# whole milliseconds, so two frames at 24 fps (83.33 ms) are written as 83 ms.
_MS_TOLERANCE = 0.5


@dataclass(frozen=True)
class QCIssue:
    """One finding. ``event_index`` is the cue's ``index``; ``line`` the line within it."""

    code: str
    severity: Severity
    message: str
    event_index: int | None
    line: int | None = None


@dataclass(frozen=True)
class ReadingSpeedPoint:
    """One point of the per-event reading-speed series (for a chart)."""

    event_index: int
    start_ms: int
    characters: int
    duration_ms: int
    chars_per_second: float
    limit: float


@dataclass(frozen=True)
class QCReport:
    """The result of :func:`check`. ``passed`` means no error (warnings allowed)."""

    profile: str
    language: str
    fps: float
    event_count: int
    issues: tuple[QCIssue, ...]
    reading_speeds: tuple[ReadingSpeedPoint, ...]

    @property
    def error_count(self) -> int:
        return sum(1 for issue in self.issues if issue.severity == "error")

    @property
    def warning_count(self) -> int:
        return sum(1 for issue in self.issues if issue.severity == "warning")

    @property
    def passed(self) -> bool:
        return self.error_count == 0

    @property
    def counts_by_code(self) -> dict[str, int]:
        return dict(Counter(issue.code for issue in self.issues))

    def issues_for(self, event_index: int) -> list[QCIssue]:
        return [issue for issue in self.issues if issue.event_index == event_index]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for a JSON column or an API answer); see :meth:`from_dict`."""
        return {
            "profile": self.profile,
            "language": self.language,
            "fps": self.fps,
            "event_count": self.event_count,
            "passed": self.passed,
            "error_count": self.error_count,
            "warning_count": self.warning_count,
            "counts_by_code": self.counts_by_code,
            # Built by hand: dataclasses.asdict deep-copies and was most of a season upload.
            "issues": [{"code": i.code, "severity": i.severity, "message": i.message,
                        "event_index": i.event_index, "line": i.line} for i in self.issues],
            "reading_speeds": [{"event_index": p.event_index, "start_ms": p.start_ms,
                                "characters": p.characters, "duration_ms": p.duration_ms,
                                "chars_per_second": p.chars_per_second, "limit": p.limit}
                               for p in self.reading_speeds],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QCReport:
        return cls(
            profile=data["profile"],
            language=data["language"],
            fps=data["fps"],
            event_count=data["event_count"],
            issues=tuple(QCIssue(**issue) for issue in data["issues"]),
            reading_speeds=tuple(ReadingSpeedPoint(**p) for p in data["reading_speeds"]),
        )


def count_characters(text: str) -> int:
    """Characters counted for reading speed: visible text without line breaks (see the
    module docstring)."""
    return display_length(visible_text(text).replace("\n", ""))


def _visible_lines(text: str) -> list[str]:
    return [line for line in visible_text(text).split("\n") if line.strip()]


def min_gap_ms(profile: QCProfile, fps: float) -> float:
    """The minimum gap between events, in (fractional) milliseconds."""
    return profile.min_gap_frames * 1000.0 / fps


# --------------------------------------------------------------------------- tag balance

_HTML_TAG_RE = re.compile(r"<(/?)([A-Za-z]+)[^<>]*>")
_ASS_BLOCK_RE = re.compile(r"\{(\\[^{}]*)\}")
_ASS_TOGGLE_RE = re.compile(r"\\(r|[ibus](?=[01]|\\|$))([01]?)")
_PAIRED = {"i", "b", "u", "s", "font", "c", "lang", "ruby", "rt"}


def _tag_problems(text: str) -> list[tuple[Severity, str]]:
    """Unbalanced markup in one event: HTML-style tags are errors (a player shows the
    rest of the event, or the next one, in italics); an ASS override left on is legal ASS
    and only a warning."""
    problems: list[tuple[Severity, str]] = []
    if "<" in text:
        stack: list[str] = []
        for match in _HTML_TAG_RE.finditer(text):
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in _PAIRED:
                continue  # <v Name> may stay open to the end of the cue; unknown tags are not ours
            if not closing:
                stack.append(name)
            elif stack and stack[-1] == name:
                stack.pop()
            elif name in stack:
                problems.append(("error", f"</{name}> closes <{name}> across <{stack[-1]}>"))
                stack.remove(name)
            else:
                problems.append(("error", f"</{name}> has no opening <{name}>"))
        problems.extend(("error", f"<{name}> is never closed") for name in stack)
    if "{" in text:
        state: dict[str, bool] = {}
        for block in _ASS_BLOCK_RE.finditer(text):
            for name, value in _ASS_TOGGLE_RE.findall(block.group(1)):
                if name == "r":
                    state.clear()
                elif value == "1":
                    state[name] = True
                elif value == "0":
                    if not state.get(name):
                        problems.append(("warning", f"{{\\{name}0}} without an earlier {{\\{name}1}}"))
                    state[name] = False
        problems.extend(("warning", f"{{\\{name}1}} is never turned off") for name, on in state.items() if on)
    return problems


# --------------------------------------------------------------------------- check

def check(cues: Sequence[Cue], profile: QCProfile, fps: float) -> QCReport:
    """Check every event against ``profile`` at the video's frame rate ``fps``.

    Errors: empty event, more lines than allowed, a line over the character limit,
    reading speed over the limit, duration under the minimum or over the maximum, a gap
    under the minimum frames, an overlap, an event starting before the one above it,
    unbalanced HTML-style tags. Warnings: a gap between the minimum and the
    close-under threshold (should have been closed), an ASS override left on.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    issues: list[QCIssue] = []
    speeds: list[ReadingSpeedPoint] = []
    gap_min = min_gap_ms(profile, fps)
    add = issues.append
    n = len(cues)
    for pos, cue in enumerate(cues):
        idx = cue.index
        text = cue.text
        lines = _visible_lines(text)
        chars = sum(display_length(line) for line in lines)
        duration = cue.end_ms - cue.start_ms
        if not lines:
            add(QCIssue(EMPTY, "error", "the event has no text", idx))
        if len(lines) > profile.max_lines:
            add(QCIssue(TOO_MANY_LINES, "error", f"{len(lines)} lines (at most {profile.max_lines})", idx))
        for number, line in enumerate(lines, 1):
            length = display_length(line)
            if length > profile.max_chars_per_line:
                add(QCIssue(LINE_TOO_LONG, "error", f"line {number} has {length} characters (at most {profile.max_chars_per_line})", idx, number))
        cps = chars * 1000.0 / max(duration, 1)
        speeds.append(ReadingSpeedPoint(idx, cue.start_ms, chars, duration, round(cps, 2), profile.reading_speed))
        if lines and cps > profile.reading_speed + 1e-9:
            add(QCIssue(READING_SPEED, "error", f"{cps:.1f} characters/s (at most {profile.reading_speed:g})", idx))
        if duration < profile.min_duration_ms:
            add(QCIssue(TOO_SHORT, "error", f"lasts {duration} ms (at least {profile.min_duration_ms} ms)", idx))
        elif duration > profile.max_duration_ms:
            add(QCIssue(TOO_LONG, "error", f"lasts {duration} ms (at most {profile.max_duration_ms} ms)", idx))
        if "<" in text or "{" in text:
            for severity, message in _tag_problems(text):
                add(QCIssue(UNBALANCED_TAGS, severity, message, idx))
        if pos + 1 < n:
            nxt = cues[pos + 1]
            if nxt.start_ms < cue.start_ms:
                add(QCIssue(OUT_OF_ORDER, "error", f"event {nxt.index} starts before this one", idx))
            gap = nxt.start_ms - cue.end_ms
            if gap < 0:
                add(QCIssue(OVERLAP, "error", f"overlaps event {nxt.index} by {-gap} ms", idx))
            elif gap < gap_min - _MS_TOLERANCE:
                add(QCIssue(GAP_TOO_SHORT, "error", f"gap to event {nxt.index} is {gap} ms, {gap * fps / 1000:.1f} frames (at least {profile.min_gap_frames})", idx))
            elif gap < profile.close_gaps_under_ms and gap > gap_min + 1 + _MS_TOLERANCE:
                add(QCIssue(GAP_NOT_CLOSED, "warning", f"gap to event {nxt.index} is {gap} ms: gaps under {profile.close_gaps_under_ms} ms close to {profile.min_gap_frames} frames", idx))
    return QCReport(profile.name, profile.language, fps, n, tuple(issues), tuple(speeds))


# --------------------------------------------------------------------------- line breaking

# Never end a line on one of these: the noun belongs with its article.
ARTICLES = frozenset(
    "a an the "  # English
    "el la los las un una unos unas lo "  # Spanish
    "le la les un une des du au aux "  # French
    "o a os as um uma uns umas do da dos das no na nos nas ao à aos às".split()  # Portuguese
)
_STRIP_PUNCT = "\"'“”‘’«»¿¡([{-—–"
_BREAK_AFTER_STRONG = tuple(".!?…。！？")
_BREAK_AFTER_WEAK = tuple(",;:—–，、；：")
_NO_LINE_START = set("，。！？、；：）」』”’》〉】…—,.!?;:)]")
_NO_LINE_END = set("（「『“‘《〈【([")
_CJK_RANGES = ((0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x3000, 0x303F))


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


@dataclass
class _Token:
    raw: str
    width: int
    space: bool
    word: str = ""  # visible text, for the article/name rules


_TOKEN_SPLIT_RE = re.compile(r"(<[^<>]*>|\{\\[^{}]*\})")


def _tokens(text: str, cjk: bool) -> list[_Token]:
    """Split an event's text into words (Latin) or characters (CJK) and spaces, with tags
    riding on the neighbouring word so a break never separates a tag from its text."""
    flat = text.replace("\n", " ") if not cjk else _join_cjk_lines(text)
    tokens: list[_Token] = []
    pending = ""  # opening tags waiting for the next word
    for part in _TOKEN_SPLIT_RE.split(flat):
        if not part:
            continue
        if _TOKEN_SPLIT_RE.fullmatch(part):
            closing = part.startswith("</") or re.fullmatch(r"\{\\[ibus]0\}", part) is not None
            if closing and tokens and not tokens[-1].space:
                tokens[-1].raw += part
            else:
                pending += part
            continue
        for chunk in re.findall(r"\s+|[^\s]+", part):
            if chunk.isspace():
                if not (tokens and tokens[-1].space):
                    tokens.append(_Token(" ", 1, True))
                continue
            pieces = re.findall(r"[A-Za-z0-9\u00C0-\u024F'’.\-]+|.", chunk) if cjk else [chunk]
            for piece in pieces:
                tokens.append(_Token(pending + piece, display_length(piece), False, piece))
                pending = ""
    if pending:
        if tokens and not tokens[-1].space:
            tokens[-1].raw += pending
        else:
            tokens.append(_Token(pending, 0, False, ""))
    while tokens and tokens[0].space:
        tokens.pop(0)
    while tokens and tokens[-1].space:
        tokens.pop()
    return tokens


def _join_cjk_lines(text: str) -> str:
    """Join lines of CJK text: no space between ideographs, a space between Latin words."""
    lines = text.split("\n")
    out = lines[0]
    for line in lines[1:]:
        left = visible_text(out).rstrip()[-1:]
        right = visible_text(line).lstrip()[:1]
        sep = "" if (left and _is_cjk(left)) or (right and _is_cjk(right)) else " "
        out = out.rstrip() + sep + line.lstrip()
    return out


_NAME = -1.0  # sentinel: a break inside what looks like a name (avoided, not forbidden)


def _break_penalty(before: _Token, after: _Token, cjk: bool, cpl: int) -> float | None:
    """Cost of breaking between two words; None when the break is forbidden, ``_NAME``
    when it would split what looks like a first and last name (a heuristic, so only
    avoided: used when nothing else fits)."""
    word = before.word.strip(_STRIP_PUNCT)
    if not cjk and word.lower() in ARTICLES:
        return None
    if cjk and (after.word[:1] in _NO_LINE_START or before.word[-1:] in _NO_LINE_END):
        return None
    nxt = after.word.lstrip(_STRIP_PUNCT)
    if (
        not cjk
        and word[:1].isupper()
        and nxt[:1].isupper()
        and not before.word.endswith(_BREAK_AFTER_STRONG + _BREAK_AFTER_WEAK)
        and word.isalpha()
        and nxt.rstrip(".,;:!?…'\"”’»").isalpha()
    ):
        return _NAME
    tail = before.word.rstrip("\"'”’»)")
    if tail.endswith(_BREAK_AFTER_STRONG):
        return 0.0
    if tail.endswith(_BREAK_AFTER_WEAK):
        return cpl * cpl * 0.1
    return cpl * cpl * 0.5


def rebreak(text: str, profile: QCProfile) -> str | None:
    """Re-break an event's text into at most ``profile.max_lines`` lines of at most
    ``profile.max_chars_per_line`` characters, or return None when it cannot fit (or is a
    two-speaker dialogue, whose lines must stay as they are).

    Fewest lines first; then breaks after punctuation, then balanced lines. Never
    between an article and its noun (en/es/fr/pt: None when no other break fits); not
    between two capitalised words (a first and last name) unless nothing else fits. CJK
    breaks between characters but not before closing or after opening punctuation nor
    inside a Latin word, and prefers punctuation and spaces.
    """
    lines = text.split("\n")
    if sum(1 for line in lines if visible_text(line).lstrip().startswith(("-", "–", "—"))) >= 2:
        return None
    cjk = profile.cjk
    cpl = profile.max_chars_per_line
    tokens = _tokens(text, cjk)
    if not tokens:
        return None
    n = len(tokens)
    prefix = [0]
    for tok in tokens:
        prefix.append(prefix[-1] + tok.width)

    # Break candidates: (end of this line, start of the next, penalty or None).
    cands: list[tuple[int, int, float | None]] = []
    for i, tok in enumerate(tokens):
        if tok.space:
            if 0 < i < n - 1:
                cands.append((i, i + 1, _break_penalty(tokens[i - 1], tokens[i + 1], cjk, cpl)))
        elif cjk and i > 0 and not tokens[i - 1].space:
            penalty = _break_penalty(tokens[i - 1], tok, cjk, cpl)
            if penalty is not None and tokens[i - 1].word.isascii() and tok.word.isascii():
                penalty = None  # inside a run of Latin letters in CJK text
            cands.append((i, i, penalty))

    def width(a: int, b: int) -> int:
        return prefix[b] - prefix[a]

    for split_names in (False, True):
        usable = [
            (e, s, cpl * cpl * 50.0 if p == _NAME else p)
            for e, s, p in cands
            if p is not None and (p != _NAME or split_names)
        ]
        if width(0, n) <= cpl:
            break
        # best[k][j]: cheapest way to lay tokens[0:start_j] on k lines ending at candidate j.
        starts = [0] + [s for _, s, _ in usable]
        ends = [e for e, _, _ in usable] + [n]
        penalties = [0.0] + [p for _, _, p in usable]
        m = len(starts)
        inf = math.inf
        best = [[inf] * (m + 1) for _ in range(profile.max_lines + 1)]
        back = [[-1] * (m + 1) for _ in range(profile.max_lines + 1)]
        # Node j (0..m-1) is "a line starts at starts[j]"; node m is the end of the text.
        best[0][0] = 0.0
        for k in range(profile.max_lines):
            for j in range(m):
                if best[k][j] == inf:
                    continue
                for t in range(j + 1, m + 1):
                    end = ends[t - 1] if t < m else n
                    if t < m and end <= starts[j]:
                        continue
                    w = width(starts[j], end)
                    if w > cpl:
                        break
                    cost = best[k][j] + w * w + (penalties[t] if t < m else 0.0)
                    if cost < best[k + 1][t]:
                        best[k + 1][t] = cost
                        back[k + 1][t] = j
        for k in range(1, profile.max_lines + 1):
            if best[k][m] < inf:
                nodes = [m]
                for kk in range(k, 0, -1):
                    nodes.append(back[kk][nodes[-1]])
                nodes.reverse()  # 0, ..., m
                out_lines = []
                for a, b in zip(nodes, nodes[1:], strict=False):
                    end = ends[b - 1] if b < m else n
                    out_lines.append("".join(tok.raw for tok in tokens[starts[a]:end]).strip())
                return "\n".join(out_lines)
    if width(0, n) <= cpl:
        return "".join(tok.raw for tok in tokens).strip()
    return None


# --------------------------------------------------------------------------- autofix


def close_tags(text: str) -> str:
    """Close HTML-style tags left open at the end of the event (where players end them
    anyway) and drop closing tags that close nothing. Crossed tags are left for a human."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    for match in _HTML_TAG_RE.finditer(text):
        closing, name = match.group(1) == "/", match.group(2).lower()
        out.append(text[pos:match.start()])
        pos = match.end()
        if name not in _PAIRED:
            out.append(match.group())
        elif not closing:
            stack.append(name)
            out.append(match.group())
        elif name in stack:
            if stack[-1] != name:
                return text  # crossed: <i><b></i></b>
            stack.pop()
            out.append(match.group())
        # else: a closer without an opener is dropped
    out.append(text[pos:])
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


@dataclass(frozen=True)
class Fix:
    """One change made by :func:`autofix`; ``event_index`` refers to the input cue."""

    code: str
    event_index: int
    message: str


def _needs_rebreak(text: str, profile: QCProfile) -> bool:
    lines = _visible_lines(text)
    return len(lines) > profile.max_lines or any(display_length(line) > profile.max_chars_per_line for line in lines)


def autofix(cues: Sequence[Cue], profile: QCProfile, fps: float) -> tuple[list[Cue], list[Fix]]:
    """Return fixed copies of ``cues`` (renumbered from 1) and the list of fixes made.

    In order: remove empty events; sort by start if out of order; re-break events whose
    lines are too long or too many (when the text fits, see :func:`rebreak`); close
    HTML-style tags left open and drop closers without an opener; trim an
    event that overlaps the next to end the minimum gap before it; extend an event that
    is too short — for the minimum duration or the reading speed, never beyond the
    maximum duration nor into the next event minus the minimum gap; close gaps under the
    threshold to exactly the minimum gap (never beyond the maximum duration). Start times
    never move, so sync with the speech is kept. The input is not changed; applying
    autofix to its own output changes nothing.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    fixes: list[Fix] = []
    work: list[Cue] = []
    for cue in cues:
        if not _visible_lines(cue.text):
            fixes.append(Fix("removed_empty", cue.index, "removed an event with no text"))
        else:
            work.append(cue)
    if any(b.start_ms < a.start_ms for a, b in zip(work, work[1:], strict=False)):
        work.sort(key=lambda c: (c.start_ms, c.end_ms))
        fixes.append(Fix("sorted", work[0].index, "events sorted by start time"))

    # Tags first: a dropped stray closer can leave a line to re-break.
    for pos, cue in enumerate(work):
        if "<" in cue.text:
            closed = close_tags(cue.text)
            if closed != cue.text:
                work[pos] = replace(cue, text=closed)
                fixes.append(Fix("tags_closed", cue.index, f"unbalanced tags repaired: {closed!r}"))

    for pos, cue in enumerate(work):
        if _needs_rebreak(cue.text, profile):
            new_text = rebreak(cue.text, profile)
            if new_text is not None and new_text != cue.text and not _needs_rebreak(new_text, profile):
                work[pos] = replace(cue, text=new_text)
                fixes.append(Fix("rebroken", cue.index, "line breaks redone: " + new_text.replace("\n", " | ")))
    for pos, cue in enumerate(work):
        if "<" in cue.text and close_tags(cue.text) != cue.text:
            # Re-breaking can carry a tag across a line end; repair it as part of that fix.
            work[pos] = replace(cue, text=close_tags(cue.text))

    gap = round(min_gap_ms(profile, fps))
    for pos, cue in enumerate(work):
        start, end = cue.start_ms, cue.end_ms
        nxt = work[pos + 1] if pos + 1 < len(work) else None
        limit = nxt.start_ms - gap if nxt is not None else math.inf
        if nxt is not None and nxt.start_ms < end and limit > start:
            fixes.append(Fix("overlap_trimmed", cue.index, f"end moved from {end} to {limit} ms to stop overlapping the next event"))
            end = int(limit)
        chars = count_characters(cue.text)
        wanted = max(profile.min_duration_ms, math.ceil(chars * 1000 / profile.reading_speed))
        wanted = min(wanted, profile.max_duration_ms)
        if end - start < wanted:
            new_end = min(start + wanted, limit)
            if new_end > end:
                fixes.append(Fix("extended", cue.index, f"extended from {end - start} to {int(new_end) - start} ms"))
                end = int(new_end)
        if nxt is not None:
            current_gap = nxt.start_ms - end
            if 0 <= current_gap < profile.close_gaps_under_ms and current_gap != gap:
                new_end = nxt.start_ms - gap
                if new_end > start and new_end - start <= max(profile.max_duration_ms, end - start):
                    code = "gap_closed" if current_gap > gap else "gap_widened"
                    fixes.append(Fix(code, cue.index, f"gap to the next event changed from {current_gap} to {gap} ms"))
                    end = new_end
        if end != cue.end_ms:
            work[pos] = replace(cue, end_ms=end)
    return [replace(cue, index=n) for n, cue in enumerate(work, 1)], fixes


# --------------------------------------------------------------------------- season

@dataclass(frozen=True)
class SeasonEntry:
    label: str
    passed: bool
    errors: int
    warnings: int


@dataclass(frozen=True)
class SeasonSummary:
    """How a season's tracks fared: counts, issues by code, the worst tracks first."""

    total: int
    passed: int
    failed: int
    issues_by_code: dict[str, int]
    worst: tuple[SeasonEntry, ...]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 1.0


def summarize_season(
    reports: Mapping[str, QCReport] | Iterable[tuple[str, QCReport]], *, worst: int = 5
) -> SeasonSummary:
    """Summarise many QC reports, labelled (e.g. ``"E012 zh-Hans"``): how many pass, the
    issue counts by code, and the ``worst`` tracks by errors, then warnings."""
    items = list(reports.items()) if isinstance(reports, Mapping) else list(reports)
    codes: Counter[str] = Counter()
    entries = []
    for label, report in items:
        codes.update(report.counts_by_code)
        entries.append(SeasonEntry(label, report.passed, report.error_count, report.warning_count))
    passed = sum(1 for entry in entries if entry.passed)
    ranked = sorted((e for e in entries if e.errors or e.warnings), key=lambda e: (-e.errors, -e.warnings, e.label))
    return SeasonSummary(len(entries), passed, len(entries) - passed, dict(codes), tuple(ranked[:worst]))
