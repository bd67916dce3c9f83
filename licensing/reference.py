"""Reference data for rights: the media tree, UN M.49 regions, countries and languages.

Everything here is static and pure. Codes are validated with errors that name the bad
code, and display names come from Babel (CLDR) in the viewer's locale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from babel import Locale, UnknownLocaleError

from marketplace import languages

# --------------------------------------------------------------------------- errors


class ReferenceCodeError(ValueError):
    """A code (territory, medium, language) that the reference data does not know."""

    kind = "code"

    def __init__(self, code: object, detail: str = "") -> None:
        self.code = code
        message = f"unknown {self.kind} {code!r}"
        super().__init__(f"{message}: {detail}" if detail else message)


class UnknownTerritoryError(ReferenceCodeError):
    kind = "territory"


class UnknownMediumError(ReferenceCodeError):
    kind = "medium"


class InvalidLanguageError(ReferenceCodeError):
    kind = "language"


# --------------------------------------------------------------------------- media


@dataclass(frozen=True)
class Medium:
    """A node of the media tree. `own_leaf` says whether the node is itself a leaf cell
    besides its children (AVOD is: "AVOD other than FAST"); pure groupings are not."""

    code: str
    label: str
    parent: str | None
    own_leaf: bool


# The tree is data: (code, English label, parent, own leaf). Codes are stable: they are
# stored in the database and exchanged over the API. Labels are English; the UI
# translates them through its own catalog.
_MEDIA_ROWS: Final = (
    ("ALL", "All media", None, False),
    ("LINEAR", "Linear", "ALL", False),
    ("FREE_TV", "Free TV", "LINEAR", True),
    ("PAY_TV", "Pay TV", "LINEAR", True),
    ("NON_LINEAR", "Non-linear", "ALL", False),
    ("SVOD", "SVOD", "NON_LINEAR", True),
    ("TVOD", "TVOD", "NON_LINEAR", True),
    ("EST", "EST", "NON_LINEAR", True),
    ("AVOD", "AVOD", "NON_LINEAR", True),
    ("FAST", "FAST", "AVOD", True),
    ("SHORT_DRAMA_APP", "Short-drama app", "NON_LINEAR", True),
)

MEDIA: Final[dict[str, Medium]] = {
    code: Medium(code, label, parent, own_leaf) for code, label, parent, own_leaf in _MEDIA_ROWS
}
#: Leaf cells of the media dimension in a fixed order (the engine indexes bits by it).
MEDIA_LEAVES: Final[tuple[str, ...]] = tuple(m.code for m in MEDIA.values() if m.own_leaf)
MEDIA_LEAF_INDEX: Final[dict[str, int]] = {code: i for i, code in enumerate(MEDIA_LEAVES)}


def _build_media_leaves() -> dict[str, frozenset[str]]:
    children: dict[str, list[str]] = {code: [] for code in MEDIA}
    for m in MEDIA.values():
        if m.parent:
            children[m.parent].append(m.code)

    def walk(code: str) -> frozenset[str]:
        out = {code} if MEDIA[code].own_leaf else set()
        for child in children[code]:
            out |= walk(child)
        return frozenset(out)

    return {code: walk(code) for code in MEDIA}


_LEAVES_OF: Final = _build_media_leaves()


def normalize_medium(code: str) -> str:
    """Return the canonical media code, or raise UnknownMediumError naming it."""
    if not isinstance(code, str):
        raise UnknownMediumError(code)
    canonical = code.strip().upper().replace("-", "_").replace(" ", "_")
    if canonical not in MEDIA:
        raise UnknownMediumError(code, f"expected one of {', '.join(MEDIA)}")
    return canonical


def media_leaves(codes: str | Iterable[str]) -> frozenset[str]:
    """The leaf cells a media node (or several) covers: a node covers its descendants."""
    if isinstance(codes, str):
        codes = (codes,)
    out: set[str] = set()
    for code in codes:
        out |= _LEAVES_OF[normalize_medium(code)]
    return frozenset(out)


def compact_media(leaves: Iterable[str]) -> tuple[str, ...]:
    """The fewest tree nodes whose leaves are exactly `leaves` (largest nodes first)."""
    remaining = set(leaves)
    unknown = remaining - set(MEDIA_LEAVES)
    if unknown:
        raise UnknownMediumError(sorted(unknown)[0], "not a leaf medium")
    chosen: list[str] = []
    # Parents come before children in _MEDIA_ROWS, so the first full node is the largest.
    for code in MEDIA:
        node = _LEAVES_OF[code]
        if node and node <= remaining:
            chosen.append(code)
            remaining -= node
    return tuple(chosen)


def medium_label(code: str) -> str:
    """English label of a media code (the UI translates it)."""
    return MEDIA[normalize_medium(code)].label


# --------------------------------------------------------------------------- territories


@dataclass(frozen=True)
class Region:
    """A UN M.49 region: its direct members are region codes or ISO country codes."""

    code: str
    name: str
    members: tuple[str, ...]


def _load_regions() -> dict[str, Region]:
    raw = json.loads(resources.files("licensing").joinpath("data/m49.json").read_text("utf-8"))
    return {
        code: Region(code, entry["name"], tuple(entry["members"]))
        for code, entry in raw["regions"].items()
    }


REGIONS: Final[dict[str, Region]] = _load_regions()


def _expand_region(code: str) -> frozenset[str]:
    out: set[str] = set()
    for member in REGIONS[code].members:
        out |= _expand_region(member) if member in REGIONS else {member}
    return frozenset(out)


_REGION_COUNTRIES: Final[dict[str, frozenset[str]]] = {c: _expand_region(c) for c in REGIONS}
#: Every ISO 3166-1 alpha-2 country (the World's members), in a fixed sorted order.
COUNTRIES: Final[tuple[str, ...]] = tuple(sorted(_REGION_COUNTRIES["001"]))
COUNTRY_INDEX: Final[dict[str, int]] = {c: i for i, c in enumerate(COUNTRIES)}
_COUNTRY_SET: Final = frozenset(COUNTRIES)


def normalize_territory(code: str) -> str:
    """Canonical territory code: an ISO 3166-1 alpha-2 country (upper case) or a UN M.49
    region code from the table (three digits). Raises UnknownTerritoryError naming it."""
    if not isinstance(code, str):
        raise UnknownTerritoryError(code)
    candidate = code.strip().upper()
    if candidate in _COUNTRY_SET or candidate in REGIONS:
        return candidate
    if candidate.isdigit():
        raise UnknownTerritoryError(code, "not a UN M.49 region in the table")
    raise UnknownTerritoryError(code, "expected an ISO 3166-1 alpha-2 country or a UN M.49 region")


def is_region(code: str) -> bool:
    return code in REGIONS


def expand_territory(code: str) -> frozenset[str]:
    """The countries a territory code stands for (a country stands for itself)."""
    canonical = normalize_territory(code)
    return _REGION_COUNTRIES.get(canonical) or frozenset((canonical,))


def expand_territories(included: Iterable[str], excluded: Iterable[str] = ()) -> frozenset[str]:
    """Countries of `included` minus those of `excluded` (regions expand to countries)."""
    out: set[str] = set()
    for code in included:
        out |= expand_territory(code)
    for code in excluded:
        out -= expand_territory(code)
    return frozenset(out)


# Regions ordered largest first, for compaction.
_REGIONS_BY_SIZE: Final = sorted(REGIONS, key=lambda c: (-len(_REGION_COUNTRIES[c]), c))


def compact_territories(
    countries: Iterable[str], *, list_up_to: int = 8
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Describe a set of countries briefly as (included, excluded) codes.

    Small sets (up to `list_up_to`) are listed as countries. Larger ones use the smallest
    region that holds them when few countries are missing ("001 except CA, US"), or else
    the largest regions they fully contain plus the remaining countries. Expanding the
    result always gives back exactly the same countries.
    """
    wanted = frozenset(countries)
    unknown = wanted - _COUNTRY_SET
    if unknown:
        raise UnknownTerritoryError(sorted(unknown)[0], "not an ISO 3166-1 alpha-2 country")
    if len(wanted) <= list_up_to:
        return tuple(sorted(wanted)), ()
    for code in reversed(_REGIONS_BY_SIZE):  # smallest region first
        members = _REGION_COUNTRIES[code]
        if wanted <= members:
            missing = members - wanted
            if not missing:
                return (code,), ()
            if len(missing) <= min(list_up_to, len(wanted) // 2):
                return (code,), tuple(sorted(missing))
            break
    # Two greedy covers, largest regions first: one with whole regions only, one that also
    # takes a region missing at most a tenth of its countries (listed as exclusions).
    # Exclusions never hit a wanted country, so "included minus excluded" stays exact.
    best: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    for tolerance in (0.0, 0.1):
        included: list[str] = []
        excluded: set[str] = set()
        remaining = set(wanted)
        for code in _REGIONS_BY_SIZE:
            members = _REGION_COUNTRIES[code]
            inside = members & remaining
            missing = members - wanted
            if len(inside) >= 2 and len(missing) <= tolerance * len(members):
                included.append(code)
                excluded |= missing
                remaining -= members
        candidate = (tuple(included) + tuple(sorted(remaining)), tuple(sorted(excluded)))
        if best is None or len(candidate[0]) + len(candidate[1]) < len(best[0]) + len(best[1]):
            best = candidate
    assert best is not None
    return best


@cache
def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise InvalidLanguageError(locale, "not a locale Babel knows") from exc


def territory_name(code: str, locale: str = "en") -> str:
    """Display name of a country or M.49 region in `locale` (Babel/CLDR); falls back to
    the English name of the table, then to the code."""
    canonical = normalize_territory(code)
    name = _locale(locale).territories.get(canonical)
    if name:
        return name
    region = REGIONS.get(canonical)
    return region.name if region else canonical


# --------------------------------------------------------------------------- languages


def _parse_language(tag: str) -> languages.LanguageTag:
    try:
        return languages.parse(tag)
    except languages.LanguageTagError as exc:
        raise InvalidLanguageError(tag, exc.detail) from None


def normalize_language(tag: str) -> str:
    """Canonical casing of a BCP 47 tag ("zh-hans-cn" -> "zh-Hans-CN"), as
    :mod:`marketplace.languages` reads it.

    Raises InvalidLanguageError naming the tag when it is not well formed or its primary
    language is unknown to CLDR. Tags are not rewritten otherwise: "cmn" stays "cmn".
    """
    return str(_parse_language(tag))


def language_covers(general: str, specific: str) -> bool:
    """Whether a right on tag `general` covers tag `specific` (equal, or a subtag of it:
    "es" covers "es-419"). Both tags must already be normalized."""
    return specific == general or specific.startswith(general + "-")


def language_name(tag: str, locale: str = "en") -> str:
    """Display name of a BCP 47 tag in `locale`, e.g. "Spanish (Latin America)"."""
    parsed = _parse_language(tag)
    loc = _locale(locale)
    language = parsed.language
    name = loc.languages.get(language)
    if name is None:
        # Alias languages (cmn, iw …) have no own name; Babel resolves them.
        try:
            name = Locale.parse(language).get_display_name(loc) or language
        except (UnknownLocaleError, ValueError):
            name = language
    details = []
    if parsed.script:
        details.append(loc.scripts.get(parsed.script, parsed.script))
    if parsed.region:
        details.append(loc.territories.get(parsed.region, parsed.region))
    details.extend(v.upper() for v in parsed.variants)
    return f"{name} ({', '.join(details)})" if details else name
