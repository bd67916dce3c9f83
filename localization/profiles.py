"""Subtitle QC profiles as data: DESIGN.md §4.2 (Netflix timed-text limits per language,
common timing rules) plus a ``vertical`` layout for 9:16 video (BBC: up to 3 lines of about
25 Latin characters).

A profile is chosen from a BCP-47 tag: a Chinese language by its script, written in the
tag (``zh-Hant``) or else the one CLDR finds likely for its language and region (``zh-TW``,
``yue`` → Traditional Chinese; ``zh``, ``cmn``, ``wuu`` → Simplified); else by the base
language (``es-419`` → ``es``), then the Latin default. Numbers marked secondary in the design
(Arabic reading speed, Japanese characters per line) are overridable per call, so the lead
can put them in config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from marketplace import languages

__all__ = [
    "LANGUAGE_LIMITS",
    "LanguageLimits",
    "QCProfile",
    "get_profile",
    "normalize_language",
]

#: Canonical casing of a BCP-47 tag (``zh_hans`` → ``zh-Hans``, ``ES-419`` → ``es-419``);
#: ValueError for something that is not a language tag. The marketplace's one reading.
normalize_language = languages.normalize

Audience = Literal["adult", "children"]
Layout = Literal["standard", "vertical"]


@dataclass(frozen=True)
class LanguageLimits:
    """One row of the DESIGN 4.2 table."""

    name: str
    chars_per_line: int
    reading_speed_adult: float
    reading_speed_children: float
    cjk: bool = False  # counted per character, broken by character rather than at spaces


#: The DESIGN 4.2 table, keyed by BCP-47 language (script or base). ``latin`` is the
#: default for every language not listed ("most Latin-script languages").
LANGUAGE_LIMITS: dict[str, LanguageLimits] = {
    "en": LanguageLimits("English", 42, 20, 17),
    "latin": LanguageLimits("Latin-script default", 42, 17, 13),
    "es": LanguageLimits("Spanish", 42, 17, 13),
    "pt": LanguageLimits("Portuguese", 42, 17, 13),
    "fr": LanguageLimits("French", 42, 17, 13),
    # Reading speed 20 per Netflix; a second source says 17 (override: {"ar": {"reading_speed_adult": 17}}).
    "ar": LanguageLimits("Arabic", 42, 20, 17),
    "zh-Hans": LanguageLimits("Simplified Chinese", 16, 9, 7, cjk=True),
    # Not in the design table; Netflix gives Traditional Chinese the same limits.
    "zh-Hant": LanguageLimits("Traditional Chinese", 16, 9, 7, cjk=True),
    "ko": LanguageLimits("Korean", 16, 12, 9, cjk=True),
    # 13 characters per line per Netflix; a second source says 23 (override chars_per_line).
    "ja": LanguageLimits("Japanese", 13, 4, 4, cjk=True),
    "th": LanguageLimits("Thai", 35, 17, 13),
    "hi": LanguageLimits("Hindi", 42, 22, 18),
}

# Common rules (DESIGN 4.2).
MAX_LINES = 2
MIN_DURATION_MS = 833  # 5/6 s
MAX_DURATION_MS = 7000
MIN_GAP_FRAMES = 2
CLOSE_GAPS_UNDER_MS = 500

# 9:16: the BBC's 3 lines of about 25 Latin characters; CJK scaled 16 → 12.
VERTICAL_MAX_LINES = 3
VERTICAL_LATIN_RATIO = 25 / 42
VERTICAL_CJK_RATIO = 12 / 16


@dataclass(frozen=True)
class QCProfile:
    """Everything the QC engine checks against. Times in ms, speeds in characters/s."""

    name: str
    language: str
    max_chars_per_line: int
    max_lines: int
    reading_speed: float
    cjk: bool
    min_duration_ms: int = MIN_DURATION_MS
    max_duration_ms: int = MAX_DURATION_MS
    min_gap_frames: int = MIN_GAP_FRAMES
    close_gaps_under_ms: int = CLOSE_GAPS_UNDER_MS
    audience: Audience = "adult"
    layout: Layout = "standard"


def _limits_key(language: str) -> str:
    tag = languages.parse(language)
    # A Chinese language (zh, cmn, yue, wuu …) goes by the script it is written in; in
    # Latin letters (pinyin, jyutping) it follows the Latin rules.
    if languages.likely_script(languages.LanguageTag(tag.language)) in ("Hans", "Hant"):
        script = languages.likely_script(tag)
        if script != "Latn":
            return "zh-Hant" if script == "Hant" else "zh-Hans"
    return tag.language if tag.language in LANGUAGE_LIMITS else "latin"


def get_profile(
    language: str,
    *,
    layout: Layout = "standard",
    audience: Audience = "adult",
    overrides: Mapping[str, Mapping[str, float]] | None = None,
) -> QCProfile:
    """The QC profile for a BCP-47 language.

    ``overrides`` maps a table key (``ar``, ``ja``, ``zh-Hans``, ``latin`` …) to
    LanguageLimits fields to replace, e.g. ``{"ar": {"reading_speed_adult": 17},
    "ja": {"chars_per_line": 23}}``. The ``vertical`` layout allows 3 lines and scales
    characters per line to 25/42 (Latin) or 12/16 (CJK) of the language's limit.
    """
    key = _limits_key(language)
    limits = LANGUAGE_LIMITS[key]
    if overrides and key in overrides:
        limits = replace(limits, **overrides[key])
    speed = limits.reading_speed_adult if audience == "adult" else limits.reading_speed_children
    chars, lines = limits.chars_per_line, MAX_LINES
    if layout == "vertical":
        ratio = VERTICAL_CJK_RATIO if limits.cjk else VERTICAL_LATIN_RATIO
        chars, lines = max(1, round(chars * ratio)), VERTICAL_MAX_LINES
    elif layout != "standard":
        raise ValueError(f"unknown layout {layout!r} (standard or vertical)")
    name = f"{limits.name}, {layout}, {audience}"
    return QCProfile(
        name=name,
        language=normalize_language(language),
        max_chars_per_line=chars,
        max_lines=lines,
        reading_speed=float(speed),
        cjk=limits.cjk,
        audience=audience,
        layout=layout,
    )
