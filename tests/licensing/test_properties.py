"""Property tests: the indexed avails engine and the brute-force oracle agree exactly.

For random grants (rights in and out, every status, holdbacks, languages with uses,
episode ranges, sublicences) and random requests, every cell of the request must have
the same runs of status over time, with the same start and end dates and the same
responsible grants, in the engine's answer and in the oracle's.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing.domain import (
    AvailsIndex,
    AvailsRequest,
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    Holdback,
    LanguageRight,
    LanguageUse,
)
from licensing.oracle import oracle_available, oracle_check
from licensing.reference import MEDIA, expand_territories, media_leaves

# A sensible budget so the suite stays fast; raise it locally with PDX_HYPOTHESIS_EXAMPLES.
EXAMPLES = int(os.environ.get("PDX_HYPOTHESIS_EXAMPLES", "300"))
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RAN: dict[str, int] = {}

DAYS = [date(2025, 1, 1) + timedelta(days=91 * i) for i in range(14)]  # quarters, 2025–2028
GRANT_TERRITORIES = ["US", "CA", "MX", "021", "013", "TH", "035", "FR", "155", "001"]
REQUEST_TERRITORIES = ["US", "CA", "MX", "BM", "021", "TH", "VN", "FR", "DE"]
# Nodes and leaves, weighted towards the ones that overlap (ALL, NON_LINEAR, AVOD > FAST).
MEDIA_CHOICES = [*MEDIA, "ALL", "NON_LINEAR", "SVOD", "AVOD", "FAST", "AVOD"]
LANGUAGES = ["en", "en-US", "es", "es-419", "fr", "zh-Hans"]
LICENSEES = ["L1", "L2"]

days = st.sampled_from(DAYS)
media = st.lists(st.sampled_from(MEDIA_CHOICES), min_size=1, max_size=2)
uses = st.sampled_from(list(LanguageUse))
language_rights = st.one_of(
    st.none(),
    st.none(),
    st.lists(st.builds(LanguageRight, st.sampled_from(LANGUAGES), uses), min_size=1, max_size=2),
)
episode_ranges = st.one_of(
    st.none(),
    st.tuples(st.integers(1, 8), st.integers(0, 6), st.booleans()).map(
        lambda t: EpisodeRange(t[0], None if t[2] else t[0] + t[1])
    ),
)


# A third hard, a third soft, a third anything: collisions must be common.
statuses = st.one_of(
    st.sampled_from([GrantStatus.SIGNED, GrantStatus.ACTIVE, GrantStatus.REVERTED]),
    st.sampled_from(
        [
            GrantStatus.OFFER,
            GrantStatus.OPTION,
            GrantStatus.FIRST_NEGOTIATION,
            GrantStatus.FIRST_REFUSAL,
        ]
    ),
    st.sampled_from(list(GrantStatus)),
)


@st.composite
def terms(draw, open_ended: float = 0.5):
    start = draw(days)
    later = [d for d in DAYS if d > start]
    if not later or draw(st.floats(0, 1)) < open_ended:
        return start, None
    return start, draw(st.sampled_from(later))


@st.composite
def holdbacks(draw):
    start = draw(st.one_of(st.none(), days))
    until = draw(st.one_of(st.none(), days))
    if start is not None and until is not None and until <= start:
        start, until = until, start + timedelta(days=1) if until == start else start
    territories = draw(st.lists(st.sampled_from(GRANT_TERRITORIES), min_size=1, max_size=2))
    excluded = draw(st.lists(st.sampled_from(["US", "TH", "FR"]), max_size=1))
    if not expand_territories(territories, excluded):
        excluded = []
    return Holdback(
        media=draw(media),
        territories=territories,
        territories_excluded=excluded,
        languages=draw(language_rights),
        start=start,
        until=until,
    )


@st.composite
def grants(
    draw,
    gid: str,
    kind: GrantKind,
    parent: Grant | None = None,
    nested: bool = False,
    near: AvailsRequest | None = None,
):
    """A grant; with `near`, its territories and media lean towards the request's."""
    start, end = draw(terms())
    status = draw(statuses)
    territory_choices = (
        GRANT_TERRITORIES + 3 * list(near.territories) if near else GRANT_TERRITORIES
    )
    media_choices = MEDIA_CHOICES + 3 * list(near.media) if near else MEDIA_CHOICES
    fields = dict(
        id=gid,
        label=f"L-{gid}",
        kind=kind,
        title_id="T",
        media=draw(st.lists(st.sampled_from(media_choices), min_size=1, max_size=2)),
        territories=draw(st.lists(st.sampled_from(territory_choices), min_size=1, max_size=3)),
        territories_excluded=draw(st.lists(st.sampled_from(["US", "TH", "FR", "013"]), max_size=1)),
        languages=draw(language_rights),
        episodes=draw(episode_ranges),
        start=start,
        end=end,
        exclusive=draw(st.booleans()),
        status=status,
        expires_on=draw(days),
        reverted_on=draw(days) if status is GrantStatus.REVERTED else None,
        licensee_id=draw(st.sampled_from([None, *LICENSEES])),
        may_sublicense=draw(st.booleans()),
        holdbacks=tuple(draw(st.lists(holdbacks(), max_size=2)))
        if kind is GrantKind.RIGHTS_OUT
        else (),
    )
    if not expand_territories(fields["territories"], fields["territories_excluded"]):
        fields["territories_excluded"] = ()
    if parent is not None:
        fields["parent_id"] = parent.id
        if nested:
            # A well-behaved sublicence: inside its parent's cells and term.
            countries = sorted(parent.countries) or ["US"]
            fields.update(
                territories=draw(st.lists(st.sampled_from(countries), min_size=1, max_size=2)),
                territories_excluded=(),
                media=draw(
                    st.lists(
                        st.sampled_from(sorted(media_leaves(parent.media))), min_size=1, max_size=2
                    )
                ),
                languages=parent.languages,
                episodes=parent.episodes,
                start=parent.start,
                end=parent.end,
                exclusive=parent.exclusive and draw(st.booleans()),
                holdbacks=(),
            )
    return Grant(**fields)


@st.composite
def title_grants(draw, near: AvailsRequest | None = None):
    out: list[Grant] = []
    for i in range(draw(st.one_of(st.just(1), st.just(1), st.integers(0, 2)))):
        grant = draw(grants(f"in{i}", GrantKind.RIGHTS_IN))
        if draw(st.sampled_from([True, True, True, False])):
            # Usually the producer holds wide rights, mostly exclusive, from the start.
            status = draw(
                st.one_of(
                    st.just(GrantStatus.ACTIVE),
                    st.just(GrantStatus.ACTIVE),
                    st.sampled_from([GrantStatus.SIGNED, GrantStatus.REVERTED, GrantStatus.DRAFT]),
                )
            )
            grant = Grant(
                **{
                    **grant.__dict__,
                    "media": ("ALL",),
                    "territories": ("001",),
                    "territories_excluded": draw(st.sampled_from([(), (), ("FR",)])),
                    "languages": None,
                    "episodes": None,
                    "start": DAYS[0],
                    "end": draw(st.one_of(st.none(), st.sampled_from([DAYS[-1], DAYS[9]]))),
                    "exclusive": draw(st.one_of(st.just(True), st.booleans())),
                    "status": status,
                    "reverted_on": DAYS[-3] if status is GrantStatus.REVERTED else None,
                }
            )
        out.append(grant)
    deals: list[Grant] = []
    for i in range(draw(st.integers(1, 6))):
        parent = draw(st.one_of(st.none(), st.sampled_from(deals))) if deals else None
        deals.append(
            draw(
                grants(
                    f"out{i}", GrantKind.RIGHTS_OUT, parent, nested=draw(st.booleans()), near=near
                )
            )
        )
    return out + deals


@st.composite
def requests(draw, grant_ids: list[str] = ()):
    start, end = draw(terms(open_ended=0.2))
    return AvailsRequest(
        title_id="T",
        media=draw(media),
        territories=draw(st.lists(st.sampled_from(REQUEST_TERRITORIES), min_size=1, max_size=2)),
        languages=draw(language_rights),
        episodes=draw(episode_ranges),
        start=start,
        end=end,
        exclusive=draw(st.booleans()),
        licensee_id=draw(st.sampled_from([None, *LICENSEES])),
    )


@st.composite
def cases(draw):
    request = draw(requests())
    catalog = draw(title_grants(near=request))
    deal_ids = [g.id for g in catalog if g.kind is GrantKind.RIGHTS_OUT]
    if deal_ids and draw(st.integers(0, 4)) == 0:
        request = dataclasses.replace(
            request, ignore_grant_ids=frozenset({draw(st.sampled_from(deal_ids))})
        )
    return catalog, request, draw(days)


def assert_engine_matches_oracle(catalog, request, as_of) -> None:
    answer = AvailsIndex.build(catalog, strict=False).check(request, as_of)
    expected = oracle_check(request, catalog, as_of)
    countries = expand_territories(request.territories, request.territories_excluded)
    leaves = media_leaves(request.media)
    for part in answer.parts:  # nothing outside the request
        assert set(part.territories) <= countries
        assert set(part.media) <= leaves
        assert part.start >= request.start
        assert request.end is None or (part.end is not None and part.end <= request.end)
    for cell, runs in expected.items():
        for run in runs:
            holding = [
                p
                for p in answer.parts
                if p.covers_day(run.start)
                and cell.episode in p.episodes
                and cell.country in p.territories
                and cell.medium in p.media
                and (answer.resolve_language(cell.language), cell.use) in p.languages
            ]
            assert len(holding) == 1, (cell, run, holding)
            part = holding[0]
            got = (part.status, part.start, part.end, frozenset(r.key for r in part.reasons))
            assert got == (run.status, run.start, run.end, run.reasons), (
                cell,
                run,
                part,
                answer.summary,
            )


@PROFILE
@given(cases())
def _engine_matches_oracle(case) -> None:
    RAN["engine_vs_oracle"] = RAN.get("engine_vs_oracle", 0) + 1
    assert_engine_matches_oracle(*case)


def test_engine_matches_oracle(record_property):
    RAN["engine_vs_oracle"] = 0
    _engine_matches_oracle()
    ran = RAN["engine_vs_oracle"]
    record_property("hypothesis_examples", ran)
    print(f"engine vs oracle: {ran} examples")
    assert ran >= min(EXAMPLES, 100)


@st.composite
def catalogs(draw):
    catalog: list[Grant] = []
    for t in range(draw(st.integers(1, 4))):
        for grant in draw(title_grants()):
            catalog.append(
                Grant(
                    **{
                        **grant.__dict__,
                        "id": f"{t}-{grant.id}",
                        "title_id": f"T{t}",
                        "parent_id": f"{t}-{grant.parent_id}" if grant.parent_id else None,
                    }
                )
            )
    request = draw(requests())
    return catalog, request, draw(days), draw(st.booleans())


@settings(PROFILE, max_examples=max(EXAMPLES // 3, 1))
@given(catalogs())
def _free_titles_match_oracle(case) -> None:
    RAN["free_titles"] = RAN.get("free_titles", 0) + 1
    catalog, request, as_of, allow_contested = case
    index = AvailsIndex.build(catalog, strict=False)
    expected = []
    for title in index.titles:
        title_request = request.for_title(title)
        if allow_contested:
            runs = oracle_check(title_request, catalog, as_of).values()
            ok = all(run.status.value in ("free", "contested") for rs in runs for run in rs)
        else:
            ok = oracle_available(title_request, catalog, as_of)
        if ok:
            expected.append(title)
    assert index.free_titles(request, as_of, allow_contested=allow_contested) == expected


def test_free_titles_match_oracle(record_property):
    RAN["free_titles"] = 0
    _free_titles_match_oracle()
    record_property("hypothesis_examples", RAN["free_titles"])
    print(f"free_titles vs oracle: {RAN['free_titles']} examples")
    assert RAN["free_titles"] >= min(EXAMPLES // 3, 30)


POOL = sorted({date(2025, 1, 1) + timedelta(days=d * 9 + d % 7) for d in range(200)})


def _random_catalog(rng, titles: int) -> list[Grant]:
    """Many titles with grants on arbitrary days (not quarters): the catalog search's
    bitsets cut ordered dates into ranges, and any day must fall on the right side."""
    base = date(2025, 1, 1)
    out: list[Grant] = []
    serial = 0

    def day() -> date:  # 200 days, so bounds often coincide
        return POOL[rng.randrange(len(POOL))]

    def later(start: date) -> date | None:
        after = [d for d in POOL if d > start]
        return rng.choice(after) if after else None

    def pick(choices, most=2):
        return rng.sample(choices, rng.randint(1, most))

    for t in range(titles):
        title = f"T{t:03d}"
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            serial += 1
            start = rng.choice([base - timedelta(days=rng.randrange(0, 400)), POOL[0], day()])
            out.append(Grant(
                id=f"G{serial}", label=f"R-{serial}", kind=GrantKind.RIGHTS_IN, title_id=title,
                media=rng.choice([("ALL",), ("ALL",), ("NON_LINEAR",), tuple(pick(MEDIA_CHOICES))]),
                territories=rng.choice([("001",), ("001",), tuple(pick(GRANT_TERRITORIES))]),
                languages=rng.choice([None, None, None, ("en", "es:dub")]),
                episodes=rng.choice([None, None, None, EpisodeRange(1, 40)]),
                start=start, end=rng.choice([None, start + timedelta(days=rng.randrange(900, 3000))]),
                exclusive=rng.random() < 0.8,
                status=rng.choice([GrantStatus.ACTIVE, GrantStatus.ACTIVE, GrantStatus.SIGNED,
                                   GrantStatus.DRAFT, GrantStatus.REVERTED]),
                reverted_on=base + timedelta(days=rng.randrange(0, 2000)),
            ))
        deals: list[Grant] = []
        for _ in range(rng.randint(0, 12)):
            serial += 1
            start = day()
            status = rng.choice(list(GrantStatus))
            parent = rng.choice(deals) if deals and rng.random() < 0.15 else None
            fields = dict(
                id=f"G{serial}", label=f"D-{serial}", kind=GrantKind.RIGHTS_OUT, title_id=title,
                media=tuple(pick(MEDIA_CHOICES)), territories=tuple(pick(GRANT_TERRITORIES, 3)),
                territories_excluded=rng.choice([(), (), ("US",)]),
                languages=rng.choice([None, None, tuple(pick(LANGUAGES)),
                                      (LanguageRight("fr", LanguageUse.DUB),)]),
                episodes=rng.choice([None, None, None, EpisodeRange(rng.randint(1, 30), None),
                                     EpisodeRange(1, rng.randint(1, 30))]),
                start=start, end=rng.choice([None, later(start)]),
                exclusive=rng.random() < 0.5, status=status,
                expires_on=day(), reverted_on=day() if status is GrantStatus.REVERTED else None,
                licensee_id=rng.choice([None, *LICENSEES]), may_sublicense=True,
                parent_id=parent.id if parent else None,
                holdbacks=tuple(
                    Holdback(media=tuple(pick(MEDIA_CHOICES)),
                             territories=tuple(pick(GRANT_TERRITORIES)),
                             languages=rng.choice([None, None, ("en",)]),
                             start=held_from, until=rng.choice([None, later(held_from or start)]))
                    for held_from in [rng.choice([None, day()])
                                      for _ in range(rng.choice([0, 0, 0, 1, 2]))]
                ) if parent is None else (),
            )
            if not expand_territories(fields["territories"], fields["territories_excluded"]):
                fields["territories_excluded"] = ()
            deals.append(Grant(**fields))
        out.extend(deals)
    return out


def test_free_titles_agree_with_checking_each_title(monkeypatch):
    """The catalog search (bitsets over every title's blockers) against the engine's own
    answer title by title, on a catalog of many titles and dates that are any day."""
    import random

    from licensing import domain

    rng = random.Random(2026)
    for cuts in (64, 3):  # few cuts: most bounds fall between two stored prefixes
        monkeypatch.setattr(domain, "_CUTS", cuts)
        catalog = _random_catalog(rng, 90)
        index = AvailsIndex.build(catalog, strict=False)
        deal_ids = [g.id for g in catalog if g.kind is GrantKind.RIGHTS_OUT]
        for n in range(150):
            start = rng.choice(POOL[:-1])
            request = AvailsRequest(
                media=tuple(rng.sample(MEDIA_CHOICES, rng.randint(1, 2))),
                territories=tuple(rng.sample(REQUEST_TERRITORIES, rng.randint(1, 2))),
                languages=rng.choice([None, None, ("en",), ("es-419", "fr:dub")]),
                episodes=rng.choice([None, None, EpisodeRange(rng.randint(1, 40), None),
                                     EpisodeRange(rng.randint(1, 20), rng.randint(20, 40)),
                                     EpisodeRange(1, rng.randint(1, 30))]),
                start=start,
                end=rng.choice([None, rng.choice([d for d in POOL if d > start])]),
                exclusive=rng.random() < 0.5,
                licensee_id=rng.choice([None, *LICENSEES]),
                ignore_grant_ids=frozenset(rng.sample(deal_ids, 2)) if n % 10 == 0 else (),
            )
            as_of = rng.choice(POOL)
            allow_contested = n % 3 == 0
            expected = []
            for title in index.titles:
                answer = index.check(request.for_title(title), as_of)
                wanted = ("free", "contested") if allow_contested else ("free",)
                if all(part.status.value in wanted for part in answer.parts):
                    expected.append(title)
            got = index.free_titles(request, as_of, allow_contested=allow_contested)
            assert got == expected, (cuts, n, request)
