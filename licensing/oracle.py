"""A deliberately simple brute-force avails oracle.

It walks every cell of a request (episode x language x use x medium x country) and every
elementary time interval between two dates that any grant mentions, and applies the
rules of DESIGN.md 4.1 to the raw Grant objects one by one. No masks, no indexes: it is
slow on purpose, so that it is easy to believe. The property tests compare the engine in
`licensing.domain` with it, and `bench/bench_avails.py` uses it as the baseline.

Representatives: a segment of episodes is represented by its first episode; a language
by its tag, where a tag stands for itself and its subtags that no grant names, and "*"
stands for every language no grant names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from licensing.domain import (
    ANY_OTHER_LANGUAGE,
    HARD_STATUSES,
    SOFT_STATUSES,
    Availability,
    AvailsRequest,
    Cause,
    Grant,
    GrantKind,
    GrantStatus,
    LanguageRight,
    LanguageUse,
)
from licensing.reference import expand_territories, language_covers, media_leaves

ReasonKey = tuple[str | None, str]  # (grant id, cause)


@dataclass(frozen=True)
class Cell:
    episode: int
    language: str
    use: str
    medium: str
    country: str


@dataclass(frozen=True)
class Run:
    """One maximal stretch of time [start, end) during which a cell keeps a status."""

    start: date
    end: date | None
    status: Availability
    reasons: frozenset[ReasonKey]


def _languages_cover(rights: tuple[LanguageRight, ...] | None, language: str, use: str) -> bool:
    if rights is None:
        return True
    if language == ANY_OTHER_LANGUAGE:
        return False
    return any(
        (right.use is LanguageUse.ANY or right.use.value == use)
        and language_covers(right.language, language)
        for right in rights
    )


def _episodes_cover(grant: Grant, episode: int) -> bool:
    return grant.episodes is None or episode in grant.episodes


def _end_of(grant: Grant) -> date | None:
    end = grant.end
    if grant.status is GrantStatus.REVERTED and grant.reverted_on is not None:
        end = grant.reverted_on if end is None else min(end, grant.reverted_on)
    return end


def _during(start: date, end: date | None, day: date) -> bool:
    return start <= day and (end is None or day < end)


def _weight(grant: Grant, as_of: date) -> int:
    """2: hard (rights in: held), 1: a live soft hold, 0: no weight."""
    if grant.kind is GrantKind.RIGHTS_IN:
        return 2 if grant.status in HARD_STATUSES else 0
    if grant.status in HARD_STATUSES:
        return 2
    if grant.status in SOFT_STATUSES and grant.expires_on is not None and as_of < grant.expires_on:
        return 1
    return 0


class _Oracle:
    def __init__(self, request: AvailsRequest, grants: list[Grant], as_of: date) -> None:
        self.request = request
        self.as_of = as_of
        self.by_id = {g.id: g for g in grants}
        ignore = request.ignore_grant_ids
        self.grants = [g for g in grants if not any(link.id in ignore for link in self.chain(g))]
        # Expand each grant's territories and media once, not once per cell.
        self.countries = {g.id: g.countries for g in grants}
        self.leaves = {g.id: media_leaves(g.media) for g in grants}
        self.holdback_cells = {
            (g.id, i): (
                expand_territories(h.territories, h.territories_excluded),
                media_leaves(h.media),
            )
            for g in grants
            for i, h in enumerate(g.holdbacks)
        }

    def chain(self, grant: Grant) -> list[Grant]:
        """The grant and its parents (a sublicence lives inside each of them)."""
        chain = [grant]
        while chain[-1].parent_id is not None and chain[-1].parent_id in self.by_id:
            parent = self.by_id[chain[-1].parent_id]
            if parent in chain:
                break
            chain.append(parent)
        return chain

    def covers(self, grant: Grant, cell: Cell, day: date) -> bool:
        return all(
            cell.country in self.countries[link.id]
            and cell.medium in self.leaves[link.id]
            and _languages_cover(link.languages, cell.language, cell.use)
            and _episodes_cover(link, cell.episode)
            and _during(link.start, _end_of(link), day)
            for link in self.chain(grant)
        )

    def weight(self, grant: Grant) -> int:
        return min(_weight(link, self.as_of) for link in self.chain(grant))

    def exclusive(self, grant: Grant) -> bool:
        return all(link.exclusive for link in self.chain(grant))

    def holdback_covers(self, grant: Grant, cell: Cell, day: date) -> bool:
        for i, holdback in enumerate(grant.holdbacks):
            countries, leaves = self.holdback_cells[(grant.id, i)]
            start = holdback.start or grant.start
            end = holdback.until if holdback.until is not None else grant.end
            if grant.status is GrantStatus.REVERTED and grant.reverted_on is not None:
                end = grant.reverted_on if end is None else min(end, grant.reverted_on)
            if (
                _during(start, end, day)
                and cell.country in countries
                and cell.medium in leaves
                and _languages_cover(holdback.languages, cell.language, cell.use)
                and _episodes_cover(grant, cell.episode)
            ):
                return True
        return False

    def classify(self, cell: Cell, day: date) -> tuple[Availability, frozenset[ReasonKey]]:
        request = self.request
        rights_in = [
            g
            for g in self.grants
            if g.kind is GrantKind.RIGHTS_IN and self.weight(g) == 2 and self.covers(g, cell, day)
        ]
        usable = [g for g in rights_in if self.exclusive(g)] if request.exclusive else rights_in
        if not usable:
            if rights_in:
                return Availability.NOT_HELD, frozenset(
                    (g.id, Cause.RIGHTS_IN_NOT_EXCLUSIVE.value) for g in rights_in
                )
            return Availability.NOT_HELD, frozenset({(None, Cause.NO_RIGHTS_IN.value)})
        hard: set[ReasonKey] = set()
        soft: set[ReasonKey] = set()
        for grant in self.grants:
            weight = self.weight(grant)
            if weight == 0:
                continue
            found = hard if weight == 2 else soft
            if (
                grant.kind is GrantKind.RIGHTS_OUT
                and (request.exclusive or self.exclusive(grant))
                and self.covers(grant, cell, day)
            ):
                found.add((grant.id, Cause.DEAL.value))
            exempt = grant.licensee_id is not None and grant.licensee_id == request.licensee_id
            if grant.parent_id is None and not exempt and self.holdback_covers(grant, cell, day):
                found.add((grant.id, Cause.HOLDBACK.value))
        if hard:
            return Availability.BLOCKED, frozenset(hard)
        if soft:
            return Availability.CONTESTED, frozenset(soft)
        return Availability.FREE, frozenset()


def oracle_check(
    request: AvailsRequest, grants: Iterable[Grant], as_of: date
) -> dict[Cell, list[Run]]:
    """Every cell of `request` with its runs of status over the request's term."""
    grants = [g for g in grants if request.title_id is None or g.title_id == request.title_id]
    oracle = _Oracle(request, grants, as_of)

    tags = {right.language for right in request.languages or ()}
    for grant in grants:
        tags.update(right.language for right in grant.languages or ())
        for holdback in grant.holdbacks:
            tags.update(right.language for right in holdback.languages or ())
    languages = sorted(tags) + [ANY_OTHER_LANGUAGE]

    first = request.episodes.first if request.episodes else 1
    stop = request.episodes.stop if request.episodes else None
    episodes = {first}
    for grant in grants:
        if grant.episodes is not None:
            for point in (grant.episodes.first, grant.episodes.stop):
                if point is not None and first < point and (stop is None or point < stop):
                    episodes.add(point)

    days = {request.start}
    for grant in grants:
        points = [grant.start, grant.end, grant.reverted_on]
        for holdback in grant.holdbacks:
            points += [holdback.start, holdback.until]
        for point in points:
            if (
                point is not None
                and request.start < point
                and (request.end is None or point < request.end)
            ):
                days.add(point)
    day_list = sorted(days)
    ends: list[date | None] = day_list[1:] + [request.end]

    result: dict[Cell, list[Run]] = {}
    for country in sorted(expand_territories(request.territories, request.territories_excluded)):
        for medium in sorted(media_leaves(request.media)):
            for language in languages:
                for use in ("subtitle", "dub"):
                    if not _languages_cover(request.languages, language, use):
                        continue
                    for episode in sorted(episodes):
                        cell = Cell(episode, language, use, medium, country)
                        runs: list[Run] = []
                        for start, end in zip(day_list, ends, strict=True):
                            status, reasons = oracle.classify(cell, start)
                            if runs and runs[-1].status is status and runs[-1].reasons == reasons:
                                runs[-1] = Run(runs[-1].start, end, status, reasons)
                            else:
                                runs.append(Run(start, end, status, reasons))
                        result[cell] = runs
    return result


def oracle_available(request: AvailsRequest, grants: Iterable[Grant], as_of: date) -> bool:
    """Whether every cell of the request is free all the time (brute force)."""
    return all(
        run.status is Availability.FREE
        for runs in oracle_check(request, grants, as_of).values()
        for run in runs
    )
