"""Rights grants and the avails engine (DESIGN.md 4.1), free of Flask and the database.

A grant covers a title (or an episode range) x media x territories x languages with a use
x a half-open term [start, end). The engine answers where and when a request is free,
contested (live offers, options, first negotiation/refusal), blocked (signed or active
deals, holdbacks) or not held (no rights in cover it), naming the grants responsible.

How the engine is fast: every grant is compiled once into bit masks (countries as a
256-bit mask, media leaves as an 8-bit mask, intervals as day ordinals). A check lays the
request's cells out as one big integer, blocks of 256 country bits for each (episode
segment, language atom, use, medium leaf), so that "which cells does this grant touch" is
one multiplication and the status of every cell in a time segment is a handful of
integer ANDs and ORs, whatever the number of countries. `licensing.oracle` answers the
same question cell by cell; the property tests hold the two to the same answer.

A catalog search turns it around: one bit per blocker of every title, and a bitset over
them for each country, medium, bound of the window and weight, so the titles a question
leaves free come out of a few integer operations for the whole index (`_SearchBits`);
only titles whose rights in are pieced together get a check of their own.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from typing import Final

from licensing.reference import (
    COUNTRIES,
    COUNTRY_INDEX,
    MEDIA_LEAF_INDEX,
    MEDIA_LEAVES,
    compact_media,
    compact_territories,
    expand_territories,
    expand_territory,
    language_covers,
    media_leaves,
    medium_label,
    normalize_language,
    normalize_medium,
    normalize_territory,
)

# --------------------------------------------------------------------------- vocabulary


class GrantKind(StrEnum):
    RIGHTS_IN = "rights_in"  # what the producer holds (its chain of title)
    RIGHTS_OUT = "rights_out"  # deals, offers and sublicences


class GrantStatus(StrEnum):
    INQUIRY = "inquiry"
    DRAFT = "draft"
    OFFER = "offer"
    OPTION = "option"
    FIRST_NEGOTIATION = "first_negotiation"
    FIRST_REFUSAL = "first_refusal"
    SIGNED = "signed"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"
    REVERTED = "reverted"


#: Statuses that weigh as a warning until their expiry date.
SOFT_STATUSES: Final = frozenset(
    {
        GrantStatus.OFFER,
        GrantStatus.OPTION,
        GrantStatus.FIRST_NEGOTIATION,
        GrantStatus.FIRST_REFUSAL,
    }
)
#: Statuses that weigh as a hard block (reverted: only until its reversion date).
HARD_STATUSES: Final = frozenset({GrantStatus.SIGNED, GrantStatus.ACTIVE, GrantStatus.REVERTED})


class LanguageUse(StrEnum):
    SUBTITLE = "subtitle"
    DUB = "dub"
    ANY = "any"  # both subtitle and dub


#: The two concrete uses a language cell has; ANY covers both.
CELL_USES: Final = (LanguageUse.SUBTITLE, LanguageUse.DUB)


class Availability(StrEnum):
    FREE = "free"
    CONTESTED = "contested"  # soft: live offer/option/first negotiation/first refusal
    BLOCKED = "blocked"  # hard: signed/active deal or holdback
    NOT_HELD = "not_held"  # no (exclusive, for an exclusive request) rights in

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY: Final = {
    Availability.FREE: 0,
    Availability.CONTESTED: 1,
    Availability.NOT_HELD: 2,
    Availability.BLOCKED: 3,
}


class Cause(StrEnum):
    DEAL = "deal"  # another grant on the same cells, at least one side exclusive
    HOLDBACK = "holdback"  # a holdback of another grant covers the cells
    NO_RIGHTS_IN = "no_rights_in"
    RIGHTS_IN_NOT_EXCLUSIVE = "rights_in_not_exclusive"


# --------------------------------------------------------------------------- value types


def _as_date(value: object, name: str) -> date:
    # datetime is a date subclass; silently dropping a time of day hides bugs.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date, got {value!r}")
    return value


def _as_codes(
    values: object, normalize, name: str, *, allow_empty: bool = False
) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of codes, got {values!r}")
    out: list[str] = []
    for value in values:
        code = normalize(value)
        if code not in out:
            out.append(code)
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return tuple(out)


@dataclass(frozen=True)
class LanguageRight:
    """A language (BCP 47) with the use granted: subtitles, dubbing or any."""

    language: str
    use: LanguageUse = LanguageUse.ANY

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", normalize_language(self.language))
        object.__setattr__(self, "use", LanguageUse(self.use))

    @classmethod
    def parse(cls, text: str) -> LanguageRight:
        """Parse "en", "es-419:dub", "fr:subtitle" (EMA's "sub"/"subdub" accepted too)."""
        tag, _, use = text.partition(":")
        use = use.strip().lower()
        use = {"": "any", "sub": "subtitle", "subdub": "any", "audio": "dub"}.get(use, use)
        try:
            return cls(tag, LanguageUse(use))
        except ValueError as exc:
            if use not in LanguageUse.__members__.values():
                raise ValueError(f"unknown language use {use!r} in {text!r}") from exc
            raise

    def covers(self, language: str, use: LanguageUse) -> bool:
        """Whether this right covers the cell (`language`, concrete `use`)."""
        return (self.use is LanguageUse.ANY or self.use is use) and language_covers(
            self.language, language
        )

    def __str__(self) -> str:
        return self.language if self.use is LanguageUse.ANY else f"{self.language}:{self.use}"


def _as_episodes(value: object) -> EpisodeRange | None:
    if value is None or isinstance(value, EpisodeRange):
        return value
    if isinstance(value, tuple | list) and len(value) == 2:
        return EpisodeRange(*value)
    raise TypeError(f"episodes must be an EpisodeRange or (first, last), got {value!r}")


@lru_cache(maxsize=4096)
def _parse_right(text: str) -> LanguageRight:
    return LanguageRight.parse(text)  # frozen: one object serves every grant


def _as_languages(values: object, name: str) -> tuple[LanguageRight, ...] | None:
    if values is None:
        return None
    if isinstance(values, str | LanguageRight):
        values = (values,)
    out: list[LanguageRight] = []
    for value in values:  # type: ignore[union-attr]
        right = value if isinstance(value, LanguageRight) else _parse_right(value)
        if right not in out:
            out.append(right)
    if not out:
        raise ValueError(f"{name} must be None (all languages) or list at least one language")
    return tuple(out)


@dataclass(frozen=True)
class EpisodeRange:
    """Episodes first..last inclusive; last None means to the last episode."""

    first: int = 1
    last: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.first, int) or self.first < 1:
            raise ValueError(f"episode range must start at 1 or later, got {self.first!r}")
        if self.last is not None and (not isinstance(self.last, int) or self.last < self.first):
            raise ValueError(f"episode range {self.first}-{self.last} ends before it starts")

    @property
    def stop(self) -> int | None:
        """Exclusive end (last + 1), None when open."""
        return None if self.last is None else self.last + 1

    def __contains__(self, episode: int) -> bool:
        return self.first <= episode and (self.last is None or episode <= self.last)

    def __str__(self) -> str:
        if self.last is None:
            return f"episodes {self.first}–" if self.first > 1 else "all episodes"
        return (
            f"episode {self.first}"
            if self.first == self.last
            else f"episodes {self.first}–{self.last}"
        )


@dataclass(frozen=True, kw_only=True)
class Holdback:
    """A promise by the licensor not to exploit these cells for anyone else.

    `start` None means the grant's start, `until` None the grant's end; the holdback
    applies to the grant's episodes and, unless listed, all languages.
    """

    media: tuple[str, ...]
    territories: tuple[str, ...]
    territories_excluded: tuple[str, ...] = ()
    languages: tuple[LanguageRight, ...] | None = None
    start: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "media", _as_codes(self.media, normalize_medium, "holdback media"))
        object.__setattr__(
            self,
            "territories",
            _as_codes(self.territories, normalize_territory, "holdback territories"),
        )
        object.__setattr__(
            self,
            "territories_excluded",
            _as_codes(
                self.territories_excluded,
                normalize_territory,
                "holdback exclusions",
                allow_empty=True,
            ),
        )
        object.__setattr__(self, "languages", _as_languages(self.languages, "holdback languages"))
        if self.start is not None:
            _as_date(self.start, "holdback start")
        if self.until is not None:
            _as_date(self.until, "holdback until")
        if self.start is not None and self.until is not None and self.until <= self.start:
            raise ValueError(f"holdback ends ({self.until}) on or before it starts ({self.start})")
        if not _country_mask(self.territories, self.territories_excluded):
            raise ValueError("holdback covers no country once exclusions are removed")


@dataclass(frozen=True, kw_only=True)
class Grant:
    """Rights in (held by the producer) or out (deals), on one title.

    The term is half-open [start, end); end None is perpetual. Offers, options, first
    negotiation and first refusal need `expires_on`; a reverted deal needs `reverted_on`
    (its cells are free from that day). `parent_id` makes this a sublicence of that deal.
    """

    id: str
    label: str
    kind: GrantKind
    title_id: str
    media: tuple[str, ...]
    territories: tuple[str, ...]
    start: date
    end: date | None = None
    territories_excluded: tuple[str, ...] = ()
    languages: tuple[LanguageRight, ...] | None = None
    episodes: EpisodeRange | None = None
    exclusive: bool = False
    holdbacks: tuple[Holdback, ...] = ()
    may_sublicense: bool = False
    parent_id: str | None = None
    status: GrantStatus = GrantStatus.DRAFT
    expires_on: date | None = None
    reverted_on: date | None = None
    licensee_id: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kind", GrantKind(self.kind))
        set_(self, "status", GrantStatus(self.status))
        set_(self, "media", _as_codes(self.media, normalize_medium, f"grant {self.label} media"))
        set_(
            self,
            "territories",
            _as_codes(self.territories, normalize_territory, f"grant {self.label} territories"),
        )
        set_(
            self,
            "territories_excluded",
            _as_codes(
                self.territories_excluded,
                normalize_territory,
                f"grant {self.label} exclusions",
                allow_empty=True,
            ),
        )
        if not _country_mask(self.territories, self.territories_excluded):
            raise ValueError(f"grant {self.label} covers no country once exclusions are removed")
        set_(self, "languages", _as_languages(self.languages, f"grant {self.label} languages"))
        set_(self, "holdbacks", tuple(self.holdbacks))
        set_(self, "episodes", _as_episodes(self.episodes))
        _as_date(self.start, f"grant {self.label} start")
        if self.end is not None:
            _as_date(self.end, f"grant {self.label} end")
            if self.end <= self.start:
                raise ValueError(
                    f"grant {self.label} ends ({self.end}) on or before it starts ({self.start})"
                )
        if self.status in SOFT_STATUSES and self.expires_on is None:
            raise ValueError(f"grant {self.label} is a {self.status} and needs expires_on")
        if self.expires_on is not None:
            _as_date(self.expires_on, f"grant {self.label} expires_on")
        if self.status is GrantStatus.REVERTED and self.reverted_on is None:
            raise ValueError(f"grant {self.label} is reverted and needs reverted_on")
        if self.reverted_on is not None:
            _as_date(self.reverted_on, f"grant {self.label} reverted_on")

    @property
    def countries(self) -> frozenset[str]:
        return expand_territories(self.territories, self.territories_excluded)

    @classmethod
    def from_canonical(cls, **values: object) -> Grant:
        """A grant from values already in the form the constructor gives them: codes
        from canonical_codes, languages from canonical_languages, enums, Holdback and
        EpisodeRange objects, dates. Only the rules across fields are checked. For
        loaders of many stored grants, which normalize each distinct stored value once
        instead of once per grant."""
        grant = object.__new__(cls)
        grant.__dict__.update(_GRANT_DEFAULTS)
        grant.__dict__.update(values)  # frozen: there is no __setattr__ to go through
        if not _country_mask(grant.territories, grant.territories_excluded):
            raise ValueError(f"grant {grant.label} covers no country once exclusions are removed")
        if grant.end is not None and grant.end <= grant.start:
            raise ValueError(
                f"grant {grant.label} ends ({grant.end}) on or before it starts ({grant.start})"
            )
        if grant.status in SOFT_STATUSES and grant.expires_on is None:
            raise ValueError(f"grant {grant.label} is a {grant.status} and needs expires_on")
        if grant.status is GrantStatus.REVERTED and grant.reverted_on is None:
            raise ValueError(f"grant {grant.label} is reverted and needs reverted_on")
        return grant


_GRANT_DEFAULTS: Final = {
    f.name: f.default for f in dataclasses.fields(Grant) if f.default is not dataclasses.MISSING
}


@lru_cache(maxsize=1 << 15)
def canonical_codes(codes: tuple[str, ...], dimension: str) -> tuple[str, ...]:
    """Media or territory codes as a Grant holds them (normalized, each once), remembered
    per distinct list. `dimension` is "media", "territories" or "territories_excluded"."""
    if dimension == "media":
        return _as_codes(codes, normalize_medium, "media")
    return _as_codes(
        codes, normalize_territory, dimension, allow_empty=dimension == "territories_excluded"
    )


@lru_cache(maxsize=1 << 12)
def canonical_languages(tags: tuple[str, ...] | None) -> tuple[LanguageRight, ...] | None:
    """Language rights as a Grant holds them ("pt:subtitle" parsed), remembered per
    distinct list."""
    return _as_languages(tags, "languages")


@dataclass(frozen=True, kw_only=True)
class AvailsRequest:
    """What a buyer asks for: media x territories x languages x [start, end), exclusive or not.

    `languages` None asks for every language; `episodes` None for every episode.
    `licensee_id` exempts the buyer from its own deals' holdbacks; `ignore_grant_ids`
    leaves grants out (e.g. the offer being checked, when it is already stored).
    """

    media: tuple[str, ...]
    territories: tuple[str, ...]
    start: date
    end: date | None = None
    title_id: str | None = None
    territories_excluded: tuple[str, ...] = ()
    languages: tuple[LanguageRight, ...] | None = None
    exclusive: bool = False
    episodes: EpisodeRange | None = None
    licensee_id: str | None = None
    ignore_grant_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "media", _as_codes(self.media, normalize_medium, "request media"))
        set_(
            self,
            "territories",
            _as_codes(self.territories, normalize_territory, "request territories"),
        )
        set_(
            self,
            "territories_excluded",
            _as_codes(
                self.territories_excluded,
                normalize_territory,
                "request exclusions",
                allow_empty=True,
            ),
        )
        set_(self, "languages", _as_languages(self.languages, "request languages"))
        set_(self, "ignore_grant_ids", frozenset(self.ignore_grant_ids))
        set_(self, "episodes", _as_episodes(self.episodes))
        _as_date(self.start, "request start")
        if self.end is not None:
            _as_date(self.end, "request end")
            if self.end <= self.start:
                raise ValueError(f"request ends ({self.end}) on or before it starts ({self.start})")
        if not _country_mask(self.territories, self.territories_excluded):
            raise ValueError("request covers no country once exclusions are removed")

    def for_title(self, title_id: str) -> AvailsRequest:
        return dataclasses.replace(self, title_id=title_id)

    def describe(self) -> str:
        """Short English description, e.g. "exclusive SVOD in 021, 2026-01-01 → 2029-01-01"."""
        words = ["exclusive" if self.exclusive else "non-exclusive", ", ".join(self.media)]
        text = " ".join(words) + " in " + ", ".join(self.territories)
        if self.territories_excluded:
            text += " except " + ", ".join(self.territories_excluded)
        if self.languages is not None:
            text += " (" + ", ".join(str(lang) for lang in self.languages) + ")"
        if self.episodes is not None:
            text += f", {self.episodes}"
        return f"{text}, {self.start} → {self.end or 'perpetual'}"


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Reason:
    """Why part of a request is not free: the grant responsible and how."""

    cause: Cause
    grant_id: str | None = None
    label: str | None = None
    status: GrantStatus | None = None
    expires_on: date | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.grant_id, self.cause.value)

    @property
    def text(self) -> str:
        if self.cause is Cause.NO_RIGHTS_IN:
            return "no rights in"
        if self.cause is Cause.RIGHTS_IN_NOT_EXCLUSIVE:
            return f"rights in {self.label} are not exclusive"
        if self.status in SOFT_STATUSES:
            what = f"{self.status.value.replace('_', ' ')} {self.label} (expires {self.expires_on})"
        else:
            what = f"deal {self.label}"
        return f"holdback in {what}" if self.cause is Cause.HOLDBACK else what


ANY_OTHER_LANGUAGE: Final = "*"


@dataclass(frozen=True)
class AnswerPart:
    """One rectangle of the answer: these countries x media x languages x episodes, over
    [start, end), have this status for these reasons.

    `languages` lists (tag, use) cells; the tag "*" stands for every language the answer
    does not name (see Answer.language_atoms), a named tag for itself and its subtags not
    named separately.
    """

    status: Availability
    start: date
    end: date | None
    territories: tuple[str, ...]
    media: tuple[str, ...]
    languages: tuple[tuple[str, str], ...]
    all_languages: bool
    episodes: EpisodeRange
    all_episodes: bool
    reasons: tuple[Reason, ...]

    def covers_day(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def _languages_text(part: AnswerPart) -> str:
    uses: dict[str, set[str]] = {}
    for tag, use in part.languages:
        uses.setdefault(tag, set()).add(use)
    words = []
    for tag in sorted(uses, key=lambda t: (t == ANY_OTHER_LANGUAGE, t)):
        name = "other languages" if tag == ANY_OTHER_LANGUAGE else tag
        if len(uses[tag]) == 1:
            name += " dub" if "dub" in uses[tag] else " subtitles"
        words.append(name)
    return ", ".join(words)


def _media_text(leaves: Iterable[str]) -> str:
    remaining = set(leaves)
    names = []
    try:
        nodes = compact_media(remaining)
    except ValueError:
        nodes = ()
    for node in nodes:
        remaining -= media_leaves(node)
        names.append(medium_label(node))
    for leaf in MEDIA_LEAVES:  # leaves no node expresses alone, e.g. AVOD without FAST
        if leaf in remaining:
            covered = media_leaves(leaf) - {leaf}
            label = medium_label(leaf)
            names.append(f"{label} (not {', '.join(sorted(covered))})" if covered else label)
    return ", ".join(names)


def _territories_text(countries: Iterable[str]) -> str:
    included, excluded = compact_territories(countries)
    text = ", ".join(included)
    return f"{text} except {', '.join(excluded)}" if excluded else text


@dataclass(frozen=True)
class Answer:
    """The engine's answer for one title: a partition of the request into parts."""

    title_id: str
    request: AvailsRequest
    as_of: date
    parts: tuple[AnswerPart, ...]
    language_atoms: tuple[str, ...]

    @property
    def status(self) -> Availability:
        """The worst status of any part."""
        return max(
            (p.status for p in self.parts), key=lambda s: s.severity, default=Availability.FREE
        )

    @property
    def available(self) -> bool:
        """Free everywhere and all the time the request asks for."""
        return all(p.status is Availability.FREE for p in self.parts)

    def territories_with(self, status: Availability) -> tuple[str, ...]:
        """Countries that have `status` somewhere in the request."""
        return tuple(sorted({c for p in self.parts if p.status is status for c in p.territories}))

    def free_territories(self) -> tuple[str, ...]:
        """Countries free for all the media, languages, episodes and time requested: the
        "free instead" list when the request as a whole is not free."""
        seen = {c for p in self.parts for c in p.territories}
        not_free = {
            c for p in self.parts if p.status is not Availability.FREE for c in p.territories
        }
        return tuple(sorted(seen - not_free))

    def resolve_language(self, language: str) -> str:
        """The language atom of this answer that holds `language` ("*" when none does)."""
        if language == ANY_OTHER_LANGUAGE:
            return language
        tag = normalize_language(language)
        best = ANY_OTHER_LANGUAGE
        for atom in self.language_atoms:
            if atom != ANY_OTHER_LANGUAGE and language_covers(atom, tag):
                if best == ANY_OTHER_LANGUAGE or len(atom) > len(best):
                    best = atom
        return best

    def part_at(
        self,
        country: str,
        medium: str,
        day: date,
        *,
        language: str = ANY_OTHER_LANGUAGE,
        use: LanguageUse = LanguageUse.SUBTITLE,
        episode: int = 1,
    ) -> AnswerPart | None:
        """The part holding one cell on one day, or None outside the request."""
        atom = (self.resolve_language(language), LanguageUse(use).value)
        for part in self.parts:
            if (
                part.covers_day(day)
                and episode in part.episodes
                and country in part.territories
                and medium in part.media
                and atom in part.languages
            ):
                return part
        return None

    @property
    def summary(self) -> str:
        """A sentence a person can read, e.g. "exclusive SVOD in 021, 2026-01-01 →
        2030-01-01: blocked in CA, US (en) until 2029-01-01 by deal D-2026-0012; free in
        BM, GL, PM; …"."""
        request = self.request
        leaves = media_leaves(request.media)
        clauses = []
        for part in self.parts:
            clause = (
                f"{part.status.value.replace('_', ' ')} in {_territories_text(part.territories)}"
            )
            qualifiers = []
            if set(part.media) != leaves:
                qualifiers.append(_media_text(part.media))
            if not part.all_languages:
                qualifiers.append(_languages_text(part))
            if not part.all_episodes:
                qualifiers.append(str(part.episodes))
            if qualifiers:
                clause += " (" + "; ".join(qualifiers) + ")"
            if part.start != request.start:
                clause += f" from {part.start}"
            if part.end != request.end:
                clause += f" until {part.end}"
            if part.reasons and part.status is not Availability.FREE:
                clause += " by " + ", ".join(r.text for r in part.reasons)
            clauses.append(clause)
        return f"{request.describe()}: " + "; ".join(clauses)


# --------------------------------------------------------------------------- validation


class GrantValidationError(ValueError):
    """Grants that break a rule the engine relies on (e.g. a sublicence outside its
    parent). `problems` lists each one in words."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


def _languages_within(
    inner: tuple[LanguageRight, ...] | None, outer: tuple[LanguageRight, ...] | None
) -> bool:
    if outer is None:
        return True
    if inner is None:
        return False
    for right in inner:
        needed = CELL_USES if right.use is LanguageUse.ANY else (right.use,)
        for use in needed:
            if not any(o.covers(right.language, use) for o in outer):
                return False
    return True


def _episodes_within(inner: EpisodeRange | None, outer: EpisodeRange | None) -> bool:
    if outer is None:
        return True
    if inner is None:
        inner = EpisodeRange()
    if inner.first < outer.first:
        return False
    return outer.last is None or (inner.last is not None and inner.last <= outer.last)


def sublicence_problems(sub: Grant, parent: Grant) -> list[str]:
    """What is wrong with `sub` as a sublicence of `parent` (empty when it is fine):
    it must sit inside the parent's cells and term and never upgrade exclusivity."""
    name = f"sublicence {sub.label}"
    problems = []
    if parent.kind is not GrantKind.RIGHTS_OUT or sub.kind is not GrantKind.RIGHTS_OUT:
        problems.append(
            f"{name}: a sublicence and its parent {parent.label} must both be rights out"
        )
    if parent.title_id != sub.title_id:
        problems.append(
            f"{name} is on title {sub.title_id} but its parent {parent.label} on {parent.title_id}"
        )
    if not parent.may_sublicense:
        problems.append(f"{name}: parent {parent.label} does not allow sublicensing")
    if sub.exclusive and not parent.exclusive:
        problems.append(f"{name} is exclusive but its parent {parent.label} is not")
    outside = sub.countries - parent.countries
    if outside:
        problems.append(
            f"{name} covers {', '.join(sorted(outside))}, outside its parent {parent.label}"
        )
    media_outside = media_leaves(sub.media) - media_leaves(parent.media)
    if media_outside:
        problems.append(
            f"{name} covers media {', '.join(sorted(media_outside))}, outside its parent {parent.label}"
        )
    if not _languages_within(sub.languages, parent.languages):
        problems.append(f"{name} covers languages outside its parent {parent.label}")
    if not _episodes_within(sub.episodes, parent.episodes):
        problems.append(f"{name} covers episodes outside its parent {parent.label}")
    if sub.start < parent.start or (
        parent.end is not None and (sub.end is None or sub.end > parent.end)
    ):
        problems.append(
            f"{name} runs {sub.start} → {sub.end or 'perpetual'}, outside its parent "
            f"{parent.label} ({parent.start} → {parent.end or 'perpetual'})"
        )
    if sub.holdbacks:
        problems.append(
            f"{name} has holdbacks; holdbacks bind the licensor through the parent deal only"
        )
    return problems


def validate_grants(grants: Iterable[Grant]) -> list[str]:
    """Every problem in a set of grants: duplicate ids, missing or cyclic parents, and
    sublicences outside their parent. Empty when the grants are consistent."""
    grants = list(grants)
    problems: list[str] = []
    by_id: dict[str, Grant] = {}
    for grant in grants:
        if grant.id in by_id:
            problems.append(
                f"grant id {grant.id} is used twice ({by_id[grant.id].label}, {grant.label})"
            )
        by_id[grant.id] = grant
    for grant in grants:
        if grant.parent_id is None:
            continue
        parent = by_id.get(grant.parent_id)
        if parent is None:
            problems.append(f"sublicence {grant.label}: parent grant {grant.parent_id} is missing")
            continue
        seen = {grant.id}
        ancestor: Grant | None = parent
        while ancestor is not None:
            if ancestor.id in seen:
                problems.append(f"sublicence {grant.label}: its chain of parents loops")
                break
            seen.add(ancestor.id)
            ancestor = by_id.get(ancestor.parent_id) if ancestor.parent_id else None
        else:
            problems.extend(sublicence_problems(grant, parent))
    return problems


# --------------------------------------------------------------------------- compiled grants

_INF: Final = 1 << 40  # beyond any day ordinal or episode number
_W: Final = 256  # bits per block: 249 countries, padded so blocks are byte aligned
_WBYTES: Final = _W // 8
_ZERO_BLOCK: Final = bytes(_WBYTES)
_ALL_LEAVES: Final = (1 << len(MEDIA_LEAVES)) - 1

# Roles of compiled effects.
_HELD, _DEAL, _HOLDBACK = 0, 1, 2


@lru_cache(maxsize=1 << 16)
def _country_mask(included: tuple[str, ...], excluded: tuple[str, ...]) -> int:
    """The countries of `included` minus those of `excluded` (expand_territories) as
    a mask: zero when none is left."""
    mask = 0
    for code in included:
        mask |= _territory_mask(code)
    for code in excluded:
        mask &= ~_territory_mask(code)
    return mask


@lru_cache(maxsize=1024)
def _territory_mask(code: str) -> int:
    mask = 0
    for country in expand_territory(code):
        mask |= 1 << COUNTRY_INDEX[country]
    return mask


@lru_cache(maxsize=1024)
def _leaf_mask(media: tuple[str, ...]) -> int:
    mask = 0
    for leaf in media_leaves(media):
        mask |= 1 << MEDIA_LEAF_INDEX[leaf]
    return mask


@lru_cache(maxsize=16384)
def _countries_of(mask: int) -> tuple[str, ...]:
    out = []
    while mask:
        low = mask & -mask
        out.append(COUNTRIES[low.bit_length() - 1])
        mask ^= low
    return tuple(out)  # COUNTRIES is sorted, so is this


@lru_cache(maxsize=16384)
def _country_indexes(mask: int) -> tuple[int, ...]:
    """Positions of the set bits of a country mask."""
    return tuple(COUNTRY_INDEX[c] for c in _countries_of(mask))


# Set bit positions of every byte value, to list the members of a bitset quickly.
_BYTE_BITS: Final = tuple(tuple(b for b in range(8) if value >> b & 1) for value in range(256))


def _bit_indexes(bits: int) -> list[int]:
    """Positions of the set bits of a non-negative integer, ascending."""
    out: list[int] = []
    if bits <= 0:
        return out
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for position, byte in enumerate(data):
        if byte:
            base = position * 8
            out.extend(base + b for b in _BYTE_BITS[byte])
    return out


def _ord(day: date | None) -> int:
    return _INF if day is None else day.toordinal()


def _grant_weight(grant: Grant) -> tuple[int, int]:
    """(level, live_until): level 2 hard/held, 1 soft (live while as_of < live_until), 0 none."""
    if grant.kind is GrantKind.RIGHTS_IN:
        return (2, _INF) if grant.status in HARD_STATUSES else (0, _INF)
    if grant.status in HARD_STATUSES:
        return 2, _INF
    if grant.status in SOFT_STATUSES:
        return 1, _ord(grant.expires_on)
    return 0, _INF


def _effective_end(grant: Grant) -> int:
    end = _ord(grant.end)
    if grant.status is GrantStatus.REVERTED and grant.reverted_on is not None:
        end = min(end, grant.reverted_on.toordinal())
    return end


class _Effect:
    """A grant (or one of its holdbacks) compiled to masks and ordinals.

    Lean on purpose: a catalog index holds hundreds of thousands of these. The reason
    is made on first use (a search reads none), and a grant without a parent keeps no
    set of chain ids of its own.
    """

    __slots__ = (
        "role",
        "grant_id",
        "_chain_ids",
        "exclusive",
        "licensee_id",
        "countries",
        "leaves",
        "langs",
        "e0",
        "e1",
        "t0",
        "t1",
        "level",
        "live_until",
        "_label",
        "_status",
        "_expires_on",
        "_reason",
    )

    def __init__(
        self,
        role: int,
        grant: Grant,
        chain_ids: frozenset[str] | None,
        exclusive: bool,
        countries: int,
        leaves: int,
        langs: tuple[tuple[LanguageRight, ...], ...],
        e0: int,
        e1: int,
        t0: int,
        t1: int,
        level: int,
        live_until: int,
    ) -> None:
        self.role = role
        self.grant_id = grant.id
        self._chain_ids = chain_ids  # None: the grant alone
        self.exclusive = exclusive
        self.licensee_id = grant.licensee_id
        self.countries = countries
        self.leaves = leaves
        self.langs = langs
        self.e0 = e0
        self.e1 = e1
        self.t0 = t0
        self.t1 = t1
        self.level = level
        self.live_until = live_until
        self._label = grant.label
        self._status = grant.status
        self._expires_on = grant.expires_on
        self._reason = None

    @property
    def chain_ids(self) -> frozenset[str]:
        """The grant and its ancestors (a sublicence's weight and cells come from all)."""
        chain = self._chain_ids
        return frozenset((self.grant_id,)) if chain is None else chain

    @property
    def reason(self) -> Reason:
        reason = self._reason
        if reason is None:
            if self.role == _HOLDBACK:
                cause = Cause.HOLDBACK
            elif self.role == _HELD:
                cause = Cause.RIGHTS_IN_NOT_EXCLUSIVE
            else:
                cause = Cause.DEAL
            reason = self._reason = Reason(
                cause, self.grant_id, self._label, self._status, self._expires_on
            )
        return reason


def _spec_covers(spec: tuple[LanguageRight, ...], atom: str, use: LanguageUse) -> bool:
    if atom == ANY_OTHER_LANGUAGE:
        return False
    return any(right.covers(atom, use) for right in spec)


def _specs_meet(specs: Sequence[tuple[LanguageRight, ...] | None]) -> bool:
    """Whether language specs (None: every language) share at least one cell.

    A right covers a subtree of tags, and subtrees meet only along a chain: the specs
    share a cell exactly when some tag T they name, with some use u, is covered by
    every spec.
    """
    named = [spec for spec in specs if spec is not None]
    if not named:
        return True
    tags = {right.language for spec in named for right in spec}
    for tag in tags:
        for use in CELL_USES:
            if all(any(right.covers(tag, use) for right in spec) for spec in named):
                return True
    return False


@lru_cache(maxsize=4096)
def _specs_of(languages: tuple[LanguageRight, ...]) -> tuple[tuple[LanguageRight, ...], ...]:
    return (languages,)  # one shared tuple per distinct spec: fewer objects to collect


def _compile_title(grants: Sequence[Grant]) -> list[_Effect]:
    by_id = {g.id: g for g in grants}
    effects: list[_Effect] = []
    for grant in grants:
        if grant.parent_id is None or grant.parent_id not in by_id:
            # Most grants stand alone: their own cells, term and weight.
            level, live_until = _grant_weight(grant)
            if level == 0:
                continue
            chain_ids = None  # the grant alone
            countries = _country_mask(grant.territories, grant.territories_excluded)
            leaves = _leaf_mask(grant.media)
            langs = () if grant.languages is None else _specs_of(grant.languages)
            episodes = grant.episodes
            if episodes is None:
                e0, e1 = 1, _INF
            else:
                e0, e1 = episodes.first, _INF if episodes.last is None else episodes.last + 1
            t0, t1 = grant.start.toordinal(), _effective_end(grant)
            exclusive = grant.exclusive
        else:
            chain = [grant]
            while chain[-1].parent_id is not None and chain[-1].parent_id in by_id:
                parent = by_id[chain[-1].parent_id]
                if parent in chain:
                    break
                chain.append(parent)
            # A sublicence lives inside every ancestor: intersect cells, term and weight.
            countries, leaves, e0, e1, t0, t1 = -1, _ALL_LEAVES, 1, _INF, -_INF, _INF
            level, live_until = 2, _INF
            specs: list[tuple[LanguageRight, ...]] = []
            for link in chain:
                countries &= _country_mask(link.territories, link.territories_excluded)
                leaves &= _leaf_mask(link.media)
                if link.languages is not None:
                    specs.append(link.languages)
                if link.episodes is not None:
                    e0 = max(e0, link.episodes.first)
                    e1 = min(e1, _INF if link.episodes.stop is None else link.episodes.stop)
                t0 = max(t0, link.start.toordinal())
                t1 = min(t1, _effective_end(link))
                link_level, link_until = _grant_weight(link)
                level, live_until = min(level, link_level), min(live_until, link_until)
            if level == 0:
                continue
            chain_ids = frozenset(link.id for link in chain) if len(chain) > 1 else None
            langs = tuple(specs)
            exclusive = all(link.exclusive for link in chain)
        if t1 > t0 and countries and leaves and e1 > e0:
            role = _HELD if grant.kind is GrantKind.RIGHTS_IN else _DEAL
            effects.append(
                _Effect(
                    role, grant, chain_ids, exclusive, countries, leaves, langs,
                    e0, e1, t0, t1, level, live_until,
                )
            )
        # Holdbacks stand on their own dates and cells, even where the grant's own
        # term or cells are empty (e.g. a holdback that starts before the grant).
        if grant.parent_id is not None or not grant.holdbacks:
            continue  # sublicences carry no holdbacks of their own (see validation)
        for holdback in grant.holdbacks:
            h0 = _ord(holdback.start) if holdback.start is not None else grant.start.toordinal()
            h1 = _ord(holdback.until) if holdback.until is not None else _ord(grant.end)
            if grant.status is GrantStatus.REVERTED and grant.reverted_on is not None:
                h1 = min(h1, grant.reverted_on.toordinal())
            h_countries = _country_mask(holdback.territories, holdback.territories_excluded)
            h_leaves = _leaf_mask(holdback.media)
            if h1 <= h0 or not h_countries:
                continue
            effects.append(
                _Effect(
                    _HOLDBACK, grant, chain_ids, True, h_countries, h_leaves,
                    (holdback.languages,) if holdback.languages is not None else (),
                    e0, e1, h0, h1, level, live_until,
                )
            )
    return effects


# --------------------------------------------------------------------------- the check


def _today() -> date:
    return datetime.now(UTC).date()


def _split(mask: int, effects: Sequence[tuple[Reason, int]]) -> dict[tuple[Reason, ...], int]:
    """Partition `mask` by which effects cover each bit: {reasons: bits}."""
    pieces: dict[tuple[Reason, ...], int] = {(): mask}
    for reason, effect_mask in effects:
        if not effect_mask:
            continue
        new: dict[tuple[Reason, ...], int] = {}
        for key, bits in pieces.items():
            inter = bits & effect_mask
            if inter and reason not in key:
                new_key = key + (reason,)
                new[new_key] = new.get(new_key, 0) | inter
                rest = bits ^ inter
                if rest:
                    new[key] = new.get(key, 0) | rest
            else:
                new[key] = new.get(key, 0) | bits
        pieces = new
    return pieces


_NO_RIGHTS_IN: Final = Reason(Cause.NO_RIGHTS_IN)


def _reason_order(reason: Reason) -> tuple[str, str]:
    return (reason.label or "", reason.cause.value)


class _RequestLayout:
    """The request's cells laid out as blocks of country bits."""

    def __init__(self, request: AvailsRequest, relevant: Sequence[_Effect]) -> None:
        self.countries = _country_mask(request.territories, request.territories_excluded)
        self.leaf_mask = _leaf_mask(request.media)
        self.leaves = [i for i in range(len(MEDIA_LEAVES)) if self.leaf_mask >> i & 1]
        self.t0 = request.start.toordinal()
        self.t1 = _ord(request.end)
        self.e0 = request.episodes.first if request.episodes else 1
        stop = request.episodes.stop if request.episodes else None
        self.e1 = _INF if stop is None else stop
        self.spec = request.languages

        tags = {right.language for right in request.languages or ()}
        bounds = {self.e0, self.e1}
        for effect in relevant:
            for spec in effect.langs:
                tags.update(right.language for right in spec)
            for b in (effect.e0, effect.e1):
                if self.e0 < b < self.e1:
                    bounds.add(b)
        self.atoms = tuple(sorted(tags)) + (ANY_OTHER_LANGUAGE,)
        self.language_cells = [
            (atom, use)
            for atom in self.atoms
            for use in CELL_USES
            if self.spec is None or _spec_covers(self.spec, atom, use)
        ]
        edges = sorted(bounds)
        self.episode_segments = list(zip(edges, edges[1:], strict=False))

        self.n_media = len(self.leaves)
        self.n_lang = len(self.language_cells)
        self.n_blocks = len(self.episode_segments) * self.n_lang * self.n_media
        self._patterns: dict[tuple, int] = {}
        self.universe = self.countries * self._pattern(_ALL_LEAVES, (), 1, _INF)

    def _pattern(self, leaves: int, langs: tuple, e0: int, e1: int) -> int:
        key = (leaves, langs, e0, e1)
        pattern = self._patterns.get(key)
        if pattern is not None:
            return pattern
        media_part = 0
        for position, leaf in enumerate(self.leaves):
            if leaves >> leaf & 1:
                media_part |= 1 << (position * _W)
        lang_part = 0
        stride = self.n_media * _W
        for position, (atom, use) in enumerate(self.language_cells):
            if all(_spec_covers(spec, atom, use) for spec in langs):
                lang_part |= 1 << (position * stride)
        episode_part = 0
        stride *= self.n_lang
        for position, (lo, hi) in enumerate(self.episode_segments):
            if e0 <= lo and hi <= e1:
                episode_part |= 1 << (position * stride)
        # The three parts have bits at disjoint strides, so the product places a 1 at
        # every combination: an OR without a loop over the product.
        pattern = media_part * lang_part * episode_part
        self._patterns[key] = pattern
        return pattern

    def mask(self, effect: _Effect) -> int:
        return (effect.countries & self.countries) * self._pattern(
            effect.leaves, effect.langs, effect.e0, effect.e1
        )

    def block(self, index: int) -> tuple[int, int, int]:
        """(episode segment, language cell, medium position) of a block index."""
        per_episode = self.n_lang * self.n_media
        return index // per_episode, (index // self.n_media) % self.n_lang, index % self.n_media


def _iter_relevant(
    effects: Iterable[_Effect], request: AvailsRequest, as_of: int, probe: tuple
) -> Iterator[tuple[_Effect, int]]:
    """The effects that touch the request's cells, with their weight as of `as_of`."""
    countries, leaf_mask, t0, t1, e0, e1 = probe
    ignore = request.ignore_grant_ids
    languages = request.languages
    for effect in effects:
        level = effect.level if as_of < effect.live_until else 0
        if not level:
            continue
        if effect.t1 <= t0 or effect.t0 >= t1 or effect.e1 <= e0 or effect.e0 >= e1:
            continue
        if not (effect.countries & countries and effect.leaves & leaf_mask):
            continue
        if effect.role == _DEAL and not (request.exclusive or effect.exclusive):
            continue  # two non-exclusive grants never collide
        if (
            effect.role == _HOLDBACK
            and effect.licensee_id is not None
            and effect.licensee_id == request.licensee_id
        ):
            continue  # a holdback never binds its own holder
        if ignore and effect.chain_ids & ignore:
            continue
        specs = effect.langs
        if (len(specs) > 1 or (specs and languages)) and not _specs_meet((*specs, languages)):
            continue
        yield effect, level


def _relevant(
    effects: Iterable[_Effect], request: AvailsRequest, as_of: int, probe: tuple
) -> list[tuple[_Effect, int]]:
    return list(_iter_relevant(effects, request, as_of, probe))


def _probe(request: AvailsRequest) -> tuple[int, int, int, int, int, int]:
    e0 = request.episodes.first if request.episodes else 1
    stop = request.episodes.stop if request.episodes else None
    return (
        _country_mask(request.territories, request.territories_excluded),
        _leaf_mask(request.media),
        request.start.toordinal(),
        _ord(request.end),
        e0,
        _INF if stop is None else stop,
    )


def _answer(
    title_id: str, effects: Sequence[_Effect], request: AvailsRequest, as_of: date
) -> Answer:
    as_of_ord = as_of.toordinal()
    relevant = _relevant(effects, request, as_of_ord, _probe(request))
    layout = _RequestLayout(request, [e for e, _ in relevant])
    compiled = [(effect, level, layout.mask(effect)) for effect, level in relevant]
    compiled = [c for c in compiled if c[2]]

    edges = {layout.t0, layout.t1}
    for effect, _, _ in compiled:
        for b in (effect.t0, effect.t1):
            if layout.t0 < b < layout.t1:
                edges.add(b)
    times = sorted(edges)
    universe = layout.universe

    # Runs of (status, reasons) over time, per bit: open runs continue while the same
    # bits keep the same status and reasons; they close when a bit changes.
    open_runs: dict[tuple[Availability, tuple[Reason, ...]], list[tuple[int, int]]] = {}
    closed: list[tuple[Availability, tuple[Reason, ...], int, int, int]] = []
    for a in times[:-1]:
        held_any = held_exclusive = 0
        not_exclusive: list[tuple[Reason, int]] = []
        hard: list[tuple[Reason, int]] = []
        soft: list[tuple[Reason, int]] = []
        for effect, level, mask in compiled:
            if not (effect.t0 <= a < effect.t1):
                continue
            if effect.role == _HELD:
                held_any |= mask
                if effect.exclusive:
                    held_exclusive |= mask
                else:
                    not_exclusive.append((effect.reason, mask))
            elif level == 2:
                hard.append((effect.reason, mask))
            else:
                soft.append((effect.reason, mask))
        held = held_exclusive if request.exclusive else held_any
        segment: dict[tuple[Availability, tuple[Reason, ...]], int] = {}
        not_held = universe & ~held
        if not_held:
            pieces = _split(not_held, not_exclusive) if request.exclusive else {(): not_held}
            for key, bits in pieces.items():
                segment[(Availability.NOT_HELD, key or (_NO_RIGHTS_IN,))] = bits
        remainder = universe & held
        for status, effects_now in ((Availability.BLOCKED, hard), (Availability.CONTESTED, soft)):
            if not remainder:
                break
            pieces = _split(remainder, effects_now)
            remainder = pieces.pop((), 0)
            for key, bits in pieces.items():
                segment[(status, key)] = bits
        if remainder:
            segment[(Availability.FREE, ())] = remainder

        for key in list(open_runs):
            now = segment.get(key, 0)
            kept = []
            covered = 0
            for start, bits in open_runs[key]:
                continuing = bits & now
                ended = bits ^ continuing
                if ended:
                    closed.append((key[0], key[1], start, a, ended))
                if continuing:
                    kept.append((start, continuing))
                    covered |= continuing
            fresh = now & ~covered
            if fresh:
                kept.append((a, fresh))
            if kept:
                open_runs[key] = kept
            else:
                del open_runs[key]
        for key, bits in segment.items():
            if key not in open_runs:
                open_runs[key] = [(a, bits)]
    for key, runs in open_runs.items():
        for start, bits in runs:
            closed.append((key[0], key[1], start, layout.t1, bits))

    return Answer(
        title_id=title_id,
        request=request,
        as_of=as_of,
        parts=_decode(closed, layout),
        language_atoms=layout.atoms,
    )


def _free_everywhere(
    effects: Sequence[_Effect], request: AvailsRequest, as_of: date, allow_contested: bool
) -> bool:
    """Whether every cell of the request is held and unblocked all the time (with
    allow_contested: only hard blocks count). The sweep of _answer without building
    the answer: it stops at the first cell that is not free."""
    relevant = _relevant(effects, request, as_of.toordinal(), _probe(request))
    layout = _RequestLayout(request, [e for e, _ in relevant])
    compiled = [(effect, level, layout.mask(effect)) for effect, level in relevant]
    edges = {layout.t0, layout.t1}
    for effect, _, _ in compiled:
        for b in (effect.t0, effect.t1):
            if layout.t0 < b < layout.t1:
                edges.add(b)
    universe = layout.universe
    for a in sorted(edges)[:-1]:
        held = blocked = 0
        for effect, level, mask in compiled:
            if not (effect.t0 <= a < effect.t1):
                continue
            if effect.role == _HELD:
                if effect.exclusive or not request.exclusive:
                    held |= mask
            elif level == 2 or not allow_contested:
                blocked |= mask
        if universe & ~held or blocked:
            return False
    return True


def _decode(
    runs: Sequence[tuple[Availability, tuple[Reason, ...], int, int, int]], layout: _RequestLayout
) -> tuple[AnswerPart, ...]:
    """Turn runs of bits into rectangles: countries x media x languages x episodes."""
    n_bytes = layout.n_blocks * _WBYTES
    segments = layout.episode_segments
    last_segment = len(segments) - 1
    grouped: dict[tuple, int] = {}
    for status, reasons, t0, t1, bits in runs:
        data = bits.to_bytes(n_bytes, "little")
        by_chunk: dict[int, list[int]] = {}
        for index in range(layout.n_blocks):
            chunk = data[index * _WBYTES : (index + 1) * _WBYTES]
            if chunk != _ZERO_BLOCK:
                by_chunk.setdefault(int.from_bytes(chunk, "little"), []).append(index)
        # Group countries that have exactly the same cells, so a country's cells stay
        # together ("free in BM, GL, PM" rather than split by language).
        groups = [0]
        for chunk in by_chunk:
            groups[0] |= chunk
        for chunk in by_chunk:
            refined = []
            for group in groups:
                inside = group & chunk
                if inside and inside != group:
                    refined.extend((inside, group ^ inside))
                else:
                    refined.append(group)
            groups = refined
        for countries in groups:
            blocks = [
                b for chunk, indexes in by_chunk.items() if chunk & countries for b in indexes
            ]
            # episode segment -> medium -> language cells
            cells: dict[int, dict[int, set[int]]] = {}
            for index in blocks:
                episode, language, medium = layout.block(index)
                cells.setdefault(episode, {}).setdefault(medium, set()).add(language)
            shapes: dict[tuple[frozenset[int], frozenset[int]], list[int]] = {}
            for episode, media in cells.items():
                by_languages: dict[frozenset[int], set[int]] = {}
                for medium, languages in media.items():
                    by_languages.setdefault(frozenset(languages), set()).add(medium)
                for languages, media_positions in by_languages.items():
                    shapes.setdefault((languages, frozenset(media_positions)), []).append(episode)
            for (languages, media_positions), episodes in shapes.items():
                episodes.sort()
                first = previous = episodes[0]
                for episode in episodes[1:] + [None]:
                    if episode is not None and episode == previous + 1:
                        previous = episode
                        continue
                    key = (status, reasons, t0, t1, first, previous, languages, media_positions)
                    grouped[key] = grouped.get(key, 0) | countries
                    if episode is not None:
                        first = previous = episode
    parts = []
    for (
        status,
        reasons,
        t0,
        t1,
        first,
        last,
        languages,
        media_positions,
    ), countries in grouped.items():
        lo = segments[first][0]
        hi = segments[last][1]
        parts.append(
            AnswerPart(
                status=status,
                start=date.fromordinal(t0),
                end=None if t1 >= _INF else date.fromordinal(t1),
                territories=_countries_of(countries),
                media=tuple(MEDIA_LEAVES[layout.leaves[p]] for p in sorted(media_positions)),
                languages=tuple(
                    (layout.language_cells[i][0], layout.language_cells[i][1].value)
                    for i in sorted(languages)
                ),
                all_languages=len(languages) == layout.n_lang,
                episodes=EpisodeRange(lo, None if hi >= _INF else hi - 1),
                all_episodes=first == 0 and last == last_segment,
                reasons=tuple(sorted(reasons, key=_reason_order)),
            )
        )
    parts.sort(
        key=lambda p: (
            -p.status.severity,
            p.start,
            p.territories,
            tuple(MEDIA_LEAF_INDEX[m] for m in p.media),
            p.languages,
            p.episodes.first,
        )
    )
    return tuple(parts)


# --------------------------------------------------------------------------- public API


# Bit tables for transposing per-effect masks into per-country (per-leaf) bitsets: the
# byte of each effect holding bit b, mapped to 1 << k when that bit is set.
_PICK: Final = tuple(
    tuple(bytes(((value >> b) & 1) << k for value in range(256)) for k in range(8))
    for b in range(8)
)
#: Most prefix bitsets an ordered column keeps; values between them are added bit by bit.
_CUTS: Final = 128


def _columns(records: bytes, width: int, n: int, bits: Iterable[int]) -> dict[int, int]:
    """Transpose `n` little-endian masks of `width` bytes each (n a multiple of 8):
    {bit: bitset of the records that have it}. Strided slices and byte translation do
    the work, so the cost grows with the bits asked for, not with records x bits."""
    out: dict[int, int] = {}
    stride = 8 * width
    for bit in bits:
        offset, tables = bit >> 3, _PICK[bit & 7]
        packed = 0
        for k in range(8):
            column = records[offset + k * width : n * width : stride]
            packed |= int.from_bytes(column.translate(tables[k]), "little")
        out[bit] = packed
    return out


class _Ordered:
    """Positions ordered by a value: which of them have a value below a bound is one
    stored prefix bitset plus at most a few positions."""

    __slots__ = ("values", "positions", "cuts", "prefixes", "everything")

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        pairs.sort()
        self.values = [value for value, _ in pairs]
        self.positions = [position for _, position in pairs]
        n = len(pairs)
        # Cut where the value changes; with many distinct values, about _CUTS evenly.
        changes = [i for i in range(1, n) if self.values[i] != self.values[i - 1]]
        if len(changes) > _CUTS:
            step = len(changes) / _CUTS
            changes = [changes[int(j * step)] for j in range(_CUTS)]
        self.cuts = [0, *changes, n]
        self.prefixes = []
        bits = bytearray((max(self.positions, default=0) >> 3) + 1)
        done = 0
        for cut in self.cuts:
            for position in self.positions[done:cut]:
                bits[position >> 3] |= 1 << (position & 7)
            done = cut
            self.prefixes.append(int.from_bytes(bits, "little"))
        self.everything = self.prefixes[-1]

    def below(self, bound: int) -> int:
        """Positions whose value is < bound."""
        i = bisect_left(self.values, bound)
        cuts = self.cuts
        j = bisect_right(cuts, i) - 1
        mask = self.prefixes[j]
        if cuts[j] < i:
            for position in self.positions[cuts[j] : i]:
                mask |= 1 << position
        return mask

    def at_least(self, bound: int) -> int:
        """Positions whose value is >= bound."""
        return self.everything ^ self.below(bound)


class _SearchBits:
    """An index's blockers bit-sliced for catalog search.

    Every blocker (deal, sublicence or holdback effect) of every title gets a bit, a
    title's blockers side by side, then spare bits up to the top bit of a byte: the
    title's "guard" bit. Each condition of a question (countries, media, window,
    weight, exclusivity, languages) is a bitset over the blockers, so the blockers that
    touch the question in the whole index are a few integer ANDs, whatever the number
    of titles. Adding a run of ones over each title's blockers and spare bits then
    carries into its guard bit exactly when one of its blockers is set: one addition
    turns "relevant blockers" into "titles with a relevant blocker". Sets of titles
    (held, enveloped, free) live on the guard bits, and the bytes holding the guards,
    gathered in title order, give them back as one byte per title.
    """

    def __init__(self, titles: Sequence[str], effects: Mapping[str, list[_Effect]]) -> None:
        blockers: list[_Effect | None] = []  # by position; None at guards
        self.title_at: dict[int, str] = {}  # guard position -> title
        masks = bytearray()  # per position: 32 bytes of countries, then one of leaves
        flags = bytearray()
        starts, ends, lives = [], [], []
        # Rights in, for the held test: the union of each title's rights in (any, and
        # exclusive only), and the titles one whole-language, all-episode grant holds.
        envelopes: dict[tuple[str, bool], tuple[int, int, int, int]] = {}
        self.wide_rights_in: dict[str, list[_Effect]] = {}
        self.wide: dict[tuple[bool, int, int, int, int], int] = {}
        for title in titles:
            for effect in effects[title]:
                if effect.role == _HELD:
                    for exclusive_only in (False, True) if effect.exclusive else (False,):
                        c, lv, a, b = envelopes.get((title, exclusive_only), (0, 0, _INF, -_INF))
                        envelopes[(title, exclusive_only)] = (
                            c | effect.countries,
                            lv | effect.leaves,
                            min(a, effect.t0),
                            max(b, effect.t1),
                        )
                    continue
                position = len(blockers)
                blockers.append(effect)
                masks += effect.countries.to_bytes(_WBYTES, "little")
                masks.append(effect.leaves)
                specs = effect.langs
                flags.append(
                    (_F_ALWAYS if effect.role == _HOLDBACK or effect.exclusive else _F_NONEXCL)
                    | (_F_HARD if effect.level == 2 else _F_SOFT)
                    | (_F_LANG_OK if len(specs) < 2 or _specs_meet(specs) else 0)
                    | (_F_NO_LANGS if not specs else 0)
                )
                starts.append((effect.t0, position))
                ends.append((effect.t1, position))
                lives.append((effect.live_until, position))
            # The guard goes on the top bit of a byte (spare bits below it): then the
            # bytes holding the guards, in title order, say which titles a set holds.
            spare = 7 - len(blockers) % 8
            blockers.extend([None] * (spare + 1))
            masks += bytes((_WBYTES + 1) * (spare + 1))
            flags += bytes(spare + 1)
            guard = len(blockers) - 1
            self.title_at[guard] = title
        self.blockers = blockers
        self.guard_bytes = [guard >> 3 for guard in self.title_at]
        self._gather = itemgetter(*self.guard_bytes) if len(self.guard_bytes) > 1 else None
        n = len(blockers)
        padded = -(-n // 8) * 8
        masks += bytes((padded - n) * (_WBYTES + 1))
        flags += bytes(padded - n)
        self.guards = 0
        for guard in self.title_at:
            self.guards |= 1 << guard
        # Ones over every blocker position: all positions that are not guards.
        self.fill = ((1 << n) - 1) ^ self.guards
        records = bytes(masks)
        columns = _columns(records, _WBYTES + 1, padded, range(len(COUNTRIES)))
        self.by_country = [columns[i] for i in range(len(COUNTRIES))]
        columns = _columns(records, _WBYTES + 1, padded,
                           range(8 * _WBYTES, 8 * _WBYTES + len(MEDIA_LEAVES)))
        self.by_leaf = [columns[8 * _WBYTES + i] for i in range(len(MEDIA_LEAVES))]
        columns = _columns(bytes(flags), 1, padded, range(6))
        self.always, self.nonexclusive, self.hard, self.soft, self.lang_ok, self.no_langs = (
            columns[i] for i in range(6)
        )
        self.starts, self.ends, self.lives = _Ordered(starts), _Ordered(ends), _Ordered(lives)
        self.episodes: tuple[_Ordered, _Ordered] | None = None  # made on first use
        self.holdbacks_of: dict[str, int] | None = None  # licensee -> its holdbacks
        self._countries: dict[int, int] = {}
        self._rights_in: dict[tuple[bool, int, int], tuple[list, list]] = {}
        self._languages: dict[tuple[LanguageRight, ...], int] = {}

        guard_of = {title: guard for guard, title in self.title_at.items()}
        self.envelopes: dict[tuple[bool, tuple[int, int, int, int]], int] = {}
        for (title, exclusive_only), envelope in envelopes.items():
            key = (exclusive_only, envelope)
            self.envelopes[key] = self.envelopes.get(key, 0) | (1 << guard_of[title])
        for title in titles:
            for effect in effects[title]:
                if effect.role == _HELD and not effect.langs and effect.e0 == 1 and effect.e1 == _INF:
                    self.wide_rights_in.setdefault(title, []).append(effect)
                    shape = (effect.exclusive, effect.countries, effect.leaves, effect.t0, effect.t1)
                    self.wide[shape] = self.wide.get(shape, 0) | (1 << guard_of[title])

    def selectors(self, titles: int) -> bytes:
        """A set of titles (guard bits) as one byte per title, in title order: non-zero
        for the titles in the set (for itertools.compress)."""
        data = titles.to_bytes(len(self.blockers) >> 3, "little")
        if self._gather is None:
            return bytes(data[b] for b in self.guard_bytes)
        return bytes(self._gather(data))

    def rights_in(self, exclusive: bool, countries: int, leaves: int) -> tuple[list, list]:
        """For a request's cells, as (start, end, titles) by term: the envelopes that
        cover them, and the wide rights in that do (see free_selectors)."""
        key = (exclusive, countries, leaves)
        found = self._rights_in.get(key)
        if found is None:
            envelopes: dict[tuple[int, int], int] = {}
            for (exclusive_only, (c, lv, first, last)), titles in self.envelopes.items():
                if exclusive_only == exclusive and c & countries == countries and (
                    lv & leaves == leaves
                ):
                    envelopes[(first, last)] = envelopes.get((first, last), 0) | titles
            wide: dict[tuple[int, int], int] = {}
            for (excl, c, lv, first, last), titles in self.wide.items():
                if (excl or not exclusive) and c & countries == countries and (
                    lv & leaves == leaves
                ):
                    wide[(first, last)] = wide.get((first, last), 0) | titles
            found = (
                [(first, last, titles) for (first, last), titles in envelopes.items()],
                [(first, last, titles) for (first, last), titles in wide.items()],
            )
            if len(self._rights_in) > 64:
                self._rights_in.clear()
            self._rights_in[key] = found
        return found

    def countries(self, countries: int) -> int:
        """Blockers on any of these countries."""
        found = self._countries.get(countries)
        if found is None:
            found = 0
            for index in _country_indexes(countries):
                found |= self.by_country[index]
            if len(self._countries) > 64:
                self._countries.clear()
            self._countries[countries] = found
        return found

    def languages(self, languages: tuple[LanguageRight, ...]) -> int:
        """Blockers whose languages meet the request's (see _iter_relevant)."""
        found = self._languages.get(languages)
        if found is None:
            found = self.no_langs
            for position, effect in enumerate(self.blockers):
                if effect is not None and effect.langs and _specs_meet((*effect.langs, languages)):
                    found |= 1 << position
            if len(self._languages) > 64:
                self._languages.clear()
            self._languages[languages] = found
        return found

    def episode_range(self, e0: int, e1: int) -> int:
        """Blockers on some episode of [e0, e1)."""
        if self.episodes is None:
            firsts = [(b.e0, p) for p, b in enumerate(self.blockers) if b is not None]
            stops = [(b.e1, p) for p, b in enumerate(self.blockers) if b is not None]
            self.episodes = (_Ordered(firsts), _Ordered(stops))
        firsts, stops = self.episodes
        return firsts.below(e1) & stops.at_least(e0 + 1)

    def exempt(self, licensee_id: str) -> int:
        """Holdbacks of the licensee's own deals (they never bind it)."""
        if self.holdbacks_of is None:
            holdbacks: dict[str, int] = {}
            for position, effect in enumerate(self.blockers):
                if effect is not None and effect.role == _HOLDBACK and effect.licensee_id:
                    holdbacks[effect.licensee_id] = holdbacks.get(effect.licensee_id, 0) | (
                        1 << position
                    )
            self.holdbacks_of = holdbacks
        return self.holdbacks_of.get(licensee_id, 0)

    def ignored(self, grant_ids: frozenset[str]) -> int:
        """Blockers with one of these grants in their chain."""
        found = 0
        for position, effect in enumerate(self.blockers):
            if effect is not None and effect.chain_ids & grant_ids:
                found |= 1 << position
        return found

    def blocked(
        self, request: AvailsRequest, as_of: int, allow_contested: bool, probe: tuple
    ) -> int:
        """Titles (guard bits) with a blocker that makes part of the request unfree:
        exactly the blockers `_iter_relevant` yields, weighed as `free_titles` does."""
        countries, leaf_mask, t0, t1, e0, e1 = probe
        relevant = self.countries(countries)
        leaves = 0
        for leaf in range(len(MEDIA_LEAVES)):
            if leaf_mask >> leaf & 1:
                leaves |= self.by_leaf[leaf]
        relevant &= leaves
        # Overlapping the window: starting before its end and ending after its start.
        relevant &= self.starts.below(t1) & self.ends.at_least(t0 + 1)
        # Weighing as of that day: hard, or (unless contested titles are wanted) soft.
        weight = self.hard if allow_contested else self.hard | self.soft
        relevant &= weight & self.lives.at_least(as_of + 1)
        # Two non-exclusive grants never collide.
        relevant &= self.always | self.nonexclusive if request.exclusive else self.always
        relevant &= self.languages(request.languages) if request.languages else self.lang_ok
        if e0 > 1 or e1 < _INF:
            relevant &= self.episode_range(e0, e1)
        if request.licensee_id is not None:
            relevant &= ~self.exempt(request.licensee_id)
        if request.ignore_grant_ids:
            relevant &= ~self.ignored(request.ignore_grant_ids)
        return (relevant + self.fill) & self.guards


_F_ALWAYS, _F_NONEXCL, _F_HARD, _F_SOFT, _F_LANG_OK, _F_NO_LANGS = (1 << i for i in range(6))


class AvailsIndex:
    """Grants of many titles compiled once; checks one title or searches the catalog.

    Build it with `AvailsIndex.build(grants)` (validates sublicences unless
    strict=False), then `check(request)` per title and `free_titles(request)` across
    the catalog.
    """

    def __init__(self, effects_by_title: Mapping[str, list[_Effect]]) -> None:
        self._effects = dict(effects_by_title)
        self._titles = tuple(sorted(self._effects))
        self._bits: _SearchBits | None = None  # built by the first catalog search

    @classmethod
    def build(cls, grants: Iterable[Grant], *, strict: bool = True) -> AvailsIndex:
        """Compile grants of any number of titles. With strict (the default) inconsistent
        grants raise GrantValidationError listing every problem."""
        grants = list(grants)
        if strict:
            problems = validate_grants(grants)
            if problems:
                raise GrantValidationError(problems)
        by_title: dict[str, list[Grant]] = {}
        for grant in grants:
            by_title.setdefault(grant.title_id, []).append(grant)
        return cls({title: _compile_title(items) for title, items in by_title.items()})

    @property
    def titles(self) -> tuple[str, ...]:
        return self._titles

    def check(self, request: AvailsRequest, as_of: date | None = None) -> Answer:
        """Answer `request` for its title (request.title_id). A title without grants is
        not held anywhere. `as_of` (default: today, UTC) decides which offers have expired."""
        if request.title_id is None:
            raise ValueError("the request names no title; use free_titles() to search the catalog")
        return _answer(
            request.title_id, self._effects.get(request.title_id, ()), request, as_of or _today()
        )

    def prepare_search(self) -> None:
        """Build what free_titles needs now rather than on the first search."""
        if self._bits is None:
            self._bits = _SearchBits(self._titles, self._effects)

    def free_titles(
        self, request: AvailsRequest, as_of: date | None = None, *, allow_contested: bool = False
    ) -> list[str]:
        """Titles on which the whole request is free (with allow_contested, free or only
        contested), sorted. The request's title_id is ignored."""
        return list(compress(self._titles, self.free_selectors(
            request, as_of, allow_contested=allow_contested)))

    def free_selectors(
        self, request: AvailsRequest, as_of: date | None = None, *, allow_contested: bool = False
    ) -> bytes:
        """free_titles as one byte per title of `titles`, non-zero where free (for
        itertools.compress over any list in that order, e.g. the titles' numeric ids)."""
        as_of = as_of or _today()
        self.prepare_search()
        bits = self._bits
        assert bits is not None
        probe = _probe(request)
        countries, leaf_mask, t0, t1 = probe[:4]
        blocked = bits.blocked(request, as_of.toordinal(), allow_contested, probe)
        envelopes, wide = bits.rights_in(request.exclusive, countries, leaf_mask)
        # Titles whose rights in reach every requested cell at all (else not held).
        enveloped = 0
        for first, last, titles in envelopes:
            if first <= t0 and t1 <= last:
                enveloped |= titles
        candidates = enveloped & ~blocked  # nothing blocks them: free if fully held
        # Titles one whole-language, all-episode grant of rights in holds throughout.
        held = 0
        if not request.ignore_grant_ids:  # else ignored chains decide, title by title
            for first, last, titles in wide:
                if first <= t0 and t1 <= last:
                    held |= titles
        free = candidates & held
        unsure = candidates ^ free
        if unsure:
            for guard in _bit_indexes(unsure):
                title = bits.title_at[guard]
                if self._fully_held_fast(title, request, probe) or _free_everywhere(
                    self._effects[title], request, as_of, allow_contested
                ):
                    free |= 1 << guard
        return bits.selectors(free)

    def _fully_held_fast(self, title: str, request: AvailsRequest, probe: tuple) -> bool:
        countries, leaf_mask, t0, t1, _, _ = probe
        ignore = request.ignore_grant_ids
        assert self._bits is not None
        for effect in self._bits.wide_rights_in.get(title, ()):
            if (
                (effect.exclusive or not request.exclusive)
                and not (ignore and effect.chain_ids & ignore)
                and effect.t0 <= t0
                and t1 <= effect.t1
                and effect.countries & countries == countries
                and effect.leaves & leaf_mask == leaf_mask
            ):
                return True
        return False


def check(request: AvailsRequest, grants: Iterable[Grant], as_of: date | None = None) -> Answer:
    """Answer `request` against the grants of one title (rights in and rights out).

    Grants of other titles are ignored; if the request names no title, the grants must
    all be of one title. Raises GrantValidationError for inconsistent grants.
    """
    grants = list(grants)
    title_id = request.title_id
    if title_id is None:
        titles = {g.title_id for g in grants}
        if len(titles) != 1:
            raise ValueError("the request names no title and the grants are not all of one title")
        title_id = titles.pop()
        request = request.for_title(title_id)
    return AvailsIndex.build(g for g in grants if g.title_id == title_id).check(request, as_of)


def search(
    request: AvailsRequest,
    grants_by_title: Mapping[str, Iterable[Grant]],
    as_of: date | None = None,
) -> dict[str, Answer]:
    """Answer `request` for every title: {title_id: Answer}."""
    index = AvailsIndex.build(g for grants in grants_by_title.values() for g in grants)
    as_of = as_of or _today()
    return {title: index.check(request.for_title(title), as_of) for title in grants_by_title}


__all__ = [
    "ANY_OTHER_LANGUAGE",
    "Answer",
    "AnswerPart",
    "Availability",
    "AvailsIndex",
    "AvailsRequest",
    "Cause",
    "EpisodeRange",
    "Grant",
    "GrantKind",
    "GrantStatus",
    "GrantValidationError",
    "HARD_STATUSES",
    "Holdback",
    "LanguageRight",
    "LanguageUse",
    "Reason",
    "SOFT_STATUSES",
    "canonical_codes",
    "canonical_languages",
    "check",
    "search",
    "sublicence_problems",
    "validate_grants",
]
