"""The avails engine against the rules of DESIGN.md 4.1."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from licensing.domain import (
    Availability,
    AvailsIndex,
    AvailsRequest,
    Cause,
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    GrantValidationError,
    Holdback,
    LanguageRight,
    LanguageUse,
    check,
    search,
    validate_grants,
)
from licensing.reference import (
    InvalidLanguageError,
    UnknownMediumError,
    UnknownTerritoryError,
    expand_territories,
)

AS_OF = date(2025, 12, 1)
BLOCKED, CONTESTED, FREE, NOT_HELD = (
    Availability.BLOCKED,
    Availability.CONTESTED,
    Availability.FREE,
    Availability.NOT_HELD,
)


def reason_keys(part):
    return {r.key for r in part.reasons}


# --------------------------------------------------------------------------- worked examples


def test_example_1_holdback_blocks_avod_in_us_until_it_ends(rights_in, deal_a, make_request):
    request = make_request(
        media=("AVOD",), territories=("US",), start=date(2026, 7, 1), end=date(2027, 12, 31)
    )

    answer = check(request, [rights_in, deal_a], as_of=AS_OF)

    assert [(p.status, p.start, p.end, p.territories) for p in answer.parts] == [
        (BLOCKED, date(2026, 7, 1), date(2027, 6, 30), ("US",)),
        (FREE, date(2027, 6, 30), date(2027, 12, 31), ("US",)),
    ]
    assert reason_keys(answer.parts[0]) == {("A", "holdback")}
    assert answer.parts[0].media == ("AVOD", "FAST")  # the holdback covers AVOD's subtree
    assert answer.summary == (
        "non-exclusive AVOD in US, 2026-07-01 → 2027-12-31: blocked in US until 2027-06-30 "
        "by holdback in deal D-2026-0012; free in US from 2027-06-30"
    )


def test_example_2_exclusive_svod_in_northern_america(rights_in, deal_a, make_request):
    request = make_request(media=("SVOD",), territories=("021",), languages=("en",), exclusive=True)

    answer = check(request, [rights_in, deal_a], as_of=AS_OF)

    assert answer.territories_with(BLOCKED) == ("CA", "US")
    assert answer.free_territories() == ("BM", "GL", "PM")
    assert answer.summary == (
        "exclusive SVOD in 021 (en), 2026-01-01 → 2029-01-01: "
        "blocked in CA, US by deal D-2026-0012; free in BM, GL, PM"
    )


def test_example_2_in_all_languages_blocks_us_and_ca_only_for_english(
    rights_in, deal_a, make_request
):
    request = make_request(
        media=("SVOD",), territories=("021",), exclusive=True, end=date(2030, 1, 1)
    )

    answer = check(request, [rights_in, deal_a], as_of=AS_OF)

    assert answer.territories_with(BLOCKED) == ("CA", "US")
    assert answer.free_territories() == ("BM", "GL", "PM")
    blocked = [p for p in answer.parts if p.status is BLOCKED]
    assert len(blocked) == 1
    assert blocked[0].languages == (("en", "subtitle"), ("en", "dub"))
    assert blocked[0].end == date(2029, 1, 1)
    assert answer.summary == (
        "exclusive SVOD in 021, 2026-01-01 → 2030-01-01: blocked in CA, US (en) until 2029-01-01 "
        "by deal D-2026-0012; free in BM, GL, PM; free in CA, US (other languages); "
        "free in CA, US (en) from 2029-01-01"
    )


def test_example_3_non_exclusive_svod_world_minus_us_and_ca_is_free(
    rights_in, deal_a, make_request
):
    request = make_request(media=("SVOD",), territories=("001",), territories_excluded=("US", "CA"))

    answer = check(request, [rights_in, deal_a], as_of=AS_OF)

    assert answer.available
    assert set(answer.free_territories()) == expand_territories(["001"], ["US", "CA"])
    assert answer.summary.endswith(": free in 001 except CA, US")


def test_example_4_fast_is_under_avod(rights_in, deal_a, make_grant, make_request):
    first = make_request(
        media=("AVOD",),
        territories=("035",),
        exclusive=True,
        start=date(2026, 1, 1),
        end=date(2027, 1, 1),
    )

    assert check(first, [rights_in, deal_a], as_of=AS_OF).available

    deal_b = make_grant(
        id="B",
        label="D-2026-0020",
        media=("AVOD",),
        territories=("035",),
        start=first.start,
        end=first.end,
        exclusive=True,
        status=GrantStatus.SIGNED,
    )
    second = make_request(
        media=("FAST",), territories=("TH",), start=date(2026, 1, 1), end=date(2027, 1, 1)
    )
    answer = check(second, [rights_in, deal_a, deal_b], as_of=AS_OF)

    assert [(p.status, p.territories, p.media) for p in answer.parts] == [
        (BLOCKED, ("TH",), ("FAST",))
    ]
    assert reason_keys(answer.parts[0]) == {("B", "deal")}


# --------------------------------------------------------------------------- collisions


def test_non_exclusive_grants_never_collide(rights_in, make_grant, make_request):
    deal = make_grant(exclusive=False)
    assert check(
        make_request(media=("SVOD",), territories=("US",)), [rights_in, deal], as_of=AS_OF
    ).available


def test_exclusive_request_collides_with_non_exclusive_deal(rights_in, make_grant, make_request):
    deal = make_grant(exclusive=False)
    answer = check(
        make_request(media=("SVOD",), territories=("US",), exclusive=True),
        [rights_in, deal],
        as_of=AS_OF,
    )
    assert answer.status is BLOCKED
    assert reason_keys(answer.parts[0]) == {(deal.id, "deal")}


def test_collision_needs_the_same_time(rights_in, make_grant, make_request):
    deal = make_grant(start=date(2026, 1, 1), end=date(2027, 1, 1))
    request = make_request(
        media=("SVOD",), territories=("US",), start=date(2027, 1, 1), end=date(2028, 1, 1)
    )
    assert check(request, [rights_in, deal], as_of=AS_OF).available


def test_subtitle_and_dub_rights_are_separate_cells(rights_in, make_grant, make_request):
    deal = make_grant(languages=(LanguageRight("es", LanguageUse.SUBTITLE),))
    dub = make_request(media=("SVOD",), territories=("US",), languages=("es:dub",), exclusive=True)
    sub = make_request(media=("SVOD",), territories=("US",), languages=("es:subtitle",))
    assert check(dub, [rights_in, deal], as_of=AS_OF).available
    assert check(sub, [rights_in, deal], as_of=AS_OF).status is BLOCKED


def test_a_language_covers_its_subtags(rights_in, make_grant, make_request):
    spanish = make_grant(languages=("es",))
    latam = make_grant(languages=("es-419",), territories=("MX",))
    assert (
        check(
            make_request(media=("SVOD",), territories=("US",), languages=("es-419",)),
            [rights_in, spanish],
            as_of=AS_OF,
        ).status
        is BLOCKED
    )
    assert check(
        make_request(media=("SVOD",), territories=("MX",), languages=("es-ES",)),
        [rights_in, latam],
        as_of=AS_OF,
    ).available


# --------------------------------------------------------------------------- holdbacks


def test_holdback_does_not_bind_its_holder(rights_in, deal_a, make_request):
    request = make_request(
        media=("AVOD",), territories=("US",), start=date(2026, 7, 1), end=date(2027, 12, 31)
    )
    assert check(request, [rights_in, deal_a], as_of=AS_OF).status is BLOCKED
    own = make_request(
        media=("AVOD",),
        territories=("US",),
        start=date(2026, 7, 1),
        end=date(2027, 12, 31),
        licensee_id="buyer-a",
    )
    assert check(own, [rights_in, deal_a], as_of=AS_OF).available


def test_holdback_with_its_own_window_and_languages(rights_in, make_grant, make_request):
    deal = make_grant(
        holdbacks=(
            Holdback(
                media=("FREE_TV",),
                territories=("150",),
                languages=("fr",),
                start=date(2029, 1, 1),
                until=date(2029, 7, 1),
            ),
        ),
    )
    french_tv = make_request(
        media=("FREE_TV",),
        territories=("FR",),
        languages=("fr",),
        start=date(2028, 1, 1),
        end=date(2030, 1, 1),
    )
    answer = check(french_tv, [rights_in, deal], as_of=AS_OF)
    assert [(p.status, p.start, p.end) for p in answer.parts] == [
        (BLOCKED, date(2029, 1, 1), date(2029, 7, 1)),
        (FREE, date(2028, 1, 1), date(2029, 1, 1)),
        (FREE, date(2029, 7, 1), date(2030, 1, 1)),
    ]
    german_tv = make_request(
        media=("FREE_TV",),
        territories=("DE",),
        languages=("de",),
        start=date(2028, 1, 1),
        end=date(2030, 1, 1),
    )
    assert check(german_tv, [rights_in, deal], as_of=AS_OF).available


def test_holdback_of_an_offer_only_warns(rights_in, make_grant, make_request):
    offer = make_grant(
        status=GrantStatus.OFFER,
        expires_on=date(2026, 3, 1),
        holdbacks=(Holdback(media=("AVOD",), territories=("US",)),),
    )
    answer = check(
        make_request(media=("AVOD",), territories=("US",)), [rights_in, offer], as_of=AS_OF
    )
    assert answer.status is CONTESTED
    assert reason_keys(answer.parts[0]) == {(offer.id, "holdback")}


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (GrantStatus.INQUIRY, FREE),
        (GrantStatus.DRAFT, FREE),
        (GrantStatus.OFFER, CONTESTED),
        (GrantStatus.OPTION, CONTESTED),
        (GrantStatus.FIRST_NEGOTIATION, CONTESTED),
        (GrantStatus.FIRST_REFUSAL, CONTESTED),
        (GrantStatus.SIGNED, BLOCKED),
        (GrantStatus.ACTIVE, BLOCKED),
        (GrantStatus.EXPIRED, FREE),
        (GrantStatus.TERMINATED, FREE),
    ],
)
def test_status_decides_weight(status, expected, rights_in, make_grant, make_request):
    deal = make_grant(status=status, expires_on=date(2026, 6, 1))
    answer = check(
        make_request(media=("SVOD",), territories=("US",)), [rights_in, deal], as_of=AS_OF
    )
    assert answer.status is expected
    if expected is not FREE:
        assert reason_keys(answer.parts[0]) == {(deal.id, "deal")}


def test_offer_is_free_again_once_it_expires(rights_in, make_grant, make_request):
    offer = make_grant(status=GrantStatus.OPTION, expires_on=date(2026, 2, 1))
    request = make_request(media=("SVOD",), territories=("US",))
    before = check(request, [rights_in, offer], as_of=date(2026, 1, 31))
    assert before.status is CONTESTED
    assert "option D-" in before.summary
    assert "(expires 2026-02-01)" in before.summary
    assert check(request, [rights_in, offer], as_of=date(2026, 2, 1)).available


def test_hard_block_wins_over_a_warning_on_the_same_cells(rights_in, make_grant, make_request):
    deal = make_grant(status=GrantStatus.SIGNED)
    offer = make_grant(status=GrantStatus.OFFER, expires_on=date(2026, 6, 1))
    answer = check(
        make_request(media=("SVOD",), territories=("US",)), [rights_in, deal, offer], as_of=AS_OF
    )
    assert [(p.status, reason_keys(p)) for p in answer.parts] == [(BLOCKED, {(deal.id, "deal")})]


def test_reverted_deal_frees_its_cells_from_the_reversion_date(rights_in, make_grant, make_request):
    deal = make_grant(
        status=GrantStatus.REVERTED,
        reverted_on=date(2027, 3, 15),
        holdbacks=(Holdback(media=("AVOD",), territories=("US",)),),
    )
    answer = check(
        make_request(media=("SVOD", "AVOD"), territories=("US",)), [rights_in, deal], as_of=AS_OF
    )
    assert [(p.status, p.start, p.end, p.media) for p in answer.parts] == [
        (BLOCKED, date(2026, 1, 1), date(2027, 3, 15), ("SVOD",)),
        (BLOCKED, date(2026, 1, 1), date(2027, 3, 15), ("AVOD", "FAST")),
        (FREE, date(2027, 3, 15), date(2029, 1, 1), ("SVOD", "AVOD", "FAST")),
    ]


# --------------------------------------------------------------------------- rights in


def test_not_held_outside_the_rights_in(rights_in, make_request):
    request = make_request(media=("SVOD",), territories=("US",), start=date(2031, 1, 1), end=None)
    answer = check(request, [rights_in], as_of=AS_OF)
    assert [(p.status, p.start, p.end) for p in answer.parts] == [
        (NOT_HELD, date(2032, 1, 1), None),
        (FREE, date(2031, 1, 1), date(2032, 1, 1)),
    ]
    assert reason_keys(answer.parts[0]) == {(None, "no_rights_in")}


def test_exclusive_request_needs_exclusive_rights_in(make_grant, make_request):
    rights = make_grant(
        kind=GrantKind.RIGHTS_IN,
        media=("ALL",),
        territories=("001",),
        exclusive=False,
        start=date(2025, 1, 1),
        end=None,
    )
    request = make_request(media=("SVOD",), territories=("US",))
    assert check(request, [rights], as_of=AS_OF).available
    exclusive = check(dataclass_replace(request, exclusive=True), [rights], as_of=AS_OF)
    assert exclusive.status is NOT_HELD
    assert reason_keys(exclusive.parts[0]) == {(rights.id, "rights_in_not_exclusive")}
    assert "rights in D-" in exclusive.summary


def test_rights_in_must_be_signed_or_active(make_grant, make_request):
    draft = make_grant(
        kind=GrantKind.RIGHTS_IN, media=("ALL",), territories=("001",), status=GrantStatus.DRAFT
    )
    assert (
        check(make_request(media=("SVOD",), territories=("US",)), [draft], as_of=AS_OF).status
        is NOT_HELD
    )


def test_a_title_without_grants_is_not_held(make_request):
    index = AvailsIndex.build([])
    assert index.check(make_request(media=("SVOD",), territories=("US",)), AS_OF).status is NOT_HELD


# --------------------------------------------------------------------------- episodes


def test_episode_ranges_that_do_not_overlap_do_not_collide(rights_in, make_grant, make_request):
    first_half = make_grant(episodes=EpisodeRange(1, 40))
    request = make_request(
        media=("SVOD",), territories=("US",), exclusive=True, episodes=EpisodeRange(41, 80)
    )
    assert check(request, [rights_in, first_half], as_of=AS_OF).available


def test_overlapping_episode_ranges_collide_on_the_overlap(rights_in, make_grant, make_request):
    first_half = make_grant(episodes=EpisodeRange(1, 40))
    request = make_request(
        media=("SVOD",), territories=("US",), exclusive=True, episodes=EpisodeRange(31, 60)
    )
    answer = check(request, [rights_in, first_half], as_of=AS_OF)
    assert [(p.status, p.episodes, p.all_episodes) for p in answer.parts] == [
        (BLOCKED, EpisodeRange(31, 40), False),
        (FREE, EpisodeRange(41, 60), False),
    ]
    assert "episodes 31–40" in answer.summary


# --------------------------------------------------------------------------- sublicences


def test_valid_sublicence_sits_inside_its_parent(rights_in, make_grant, make_request):
    parent = make_grant(id="P", territories=("021",), media=("NON_LINEAR",), may_sublicense=True)
    sub = make_grant(
        id="S",
        label="S-1",
        parent_id="P",
        territories=("US",),
        media=("SVOD",),
        start=date(2026, 6, 1),
        end=date(2028, 1, 1),
    )
    assert validate_grants([rights_in, parent, sub]) == []
    answer = check(
        make_request(
            media=("SVOD",), territories=("US",), start=date(2026, 6, 1), end=date(2027, 1, 1)
        ),
        [rights_in, parent, sub],
        as_of=AS_OF,
    )
    assert reason_keys(answer.parts[0]) == {("P", "deal"), ("S", "deal")}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"territories": ("FR",)}, "covers FR, outside its parent"),
        ({"media": ("FREE_TV",)}, "covers media FREE_TV, outside its parent"),
        ({"end": date(2030, 1, 1)}, "outside its parent"),
        ({"end": None}, "outside its parent"),
        ({"languages": None}, "covers languages outside its parent"),
        ({"episodes": EpisodeRange(1, None)}, "covers episodes outside its parent"),
        ({"exclusive": True}, "is exclusive but its parent"),
    ],
)
def test_sublicence_outside_its_parent_is_an_error(fields, message, rights_in, make_grant):
    parent = make_grant(
        id="P",
        exclusive=False,
        territories=("US",),
        languages=("en",),
        episodes=EpisodeRange(1, 20),
        may_sublicense=True,
    )
    sub_fields = {
        "id": "S",
        "label": "S-1",
        "parent_id": "P",
        "exclusive": False,
        "languages": ("en",),
        "episodes": EpisodeRange(1, 10),
    }
    sub_fields.update(fields)
    sub = make_grant(**sub_fields)
    with pytest.raises(GrantValidationError, match=message):
        check(
            AvailsRequest(
                title_id="T1", media=("SVOD",), territories=("US",), start=date(2026, 1, 1)
            ),
            [rights_in, parent, sub],
            as_of=AS_OF,
        )


def test_sublicence_needs_a_parent_that_allows_it(make_grant):
    parent = make_grant(id="P")
    sub = make_grant(id="S", parent_id="P")
    assert any("does not allow sublicensing" in p for p in validate_grants([parent, sub]))
    assert any("is missing" in p for p in validate_grants([sub]))


def test_sublicence_never_upgrades_exclusivity(rights_in, make_grant, make_request):
    parent = make_grant(id="P", exclusive=False, may_sublicense=True)
    sub = make_grant(id="S", parent_id="P", exclusive=True)
    index = AvailsIndex.build([rights_in, parent, sub], strict=False)  # tolerate the bad data
    assert index.check(make_request(media=("SVOD",), territories=("US",)), AS_OF).available


def test_sublicence_dies_with_its_parent(rights_in, make_grant, make_request):
    parent = make_grant(
        id="P", may_sublicense=True, status=GrantStatus.REVERTED, reverted_on=date(2027, 1, 1)
    )
    sub = make_grant(id="S", parent_id="P", status=GrantStatus.ACTIVE)
    answer = check(
        make_request(media=("SVOD",), territories=("US",)), [rights_in, parent, sub], as_of=AS_OF
    )
    assert [(p.status, p.end) for p in answer.parts] == [
        (BLOCKED, date(2027, 1, 1)),
        (FREE, date(2029, 1, 1)),
    ]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"territories": ("USA",)}, UnknownTerritoryError, "USA"),
        ({"territories": ("999",)}, UnknownTerritoryError, "999"),
        ({"territories_excluded": ("XX",)}, UnknownTerritoryError, "XX"),
        ({"media": ("VOD",)}, UnknownMediumError, "VOD"),
        ({"languages": ("english",)}, InvalidLanguageError, "english"),
        ({"languages": ("xx",)}, InvalidLanguageError, "xx"),
    ],
)
def test_bad_codes_raise_errors_naming_the_code(fields, error, code, make_grant):
    with pytest.raises(error, match=code) as excinfo:
        make_grant(**fields)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"end": date(2025, 1, 1)}, "ends .* before it starts"),
        ({"status": GrantStatus.OFFER}, "needs expires_on"),
        ({"status": GrantStatus.REVERTED}, "needs reverted_on"),
        ({"languages": ()}, "must be None"),
        ({"media": ()}, "must not be empty"),
        ({"episodes": (0, 3)}, "start at 1"),
        ({"episodes": (5, 3)}, "ends before it starts"),
    ],
)
def test_inconsistent_grants_are_rejected(fields, message, make_grant):
    with pytest.raises(ValueError, match=message):
        make_grant(**fields)


def test_dates_must_be_dates_not_datetimes(make_grant):
    from datetime import datetime

    with pytest.raises(TypeError, match="datetime.date"):
        make_grant(start=datetime(2026, 1, 1, tzinfo=UTC))


def test_duplicate_grant_ids_are_reported(make_grant):
    problems = validate_grants([make_grant(id="X"), make_grant(id="X")])
    assert problems == ["grant id X is used twice (D-2026-0001, D-2026-0002)"]


# --------------------------------------------------------------------------- catalog


def test_search_and_free_titles_across_titles(rights_in, deal_a, make_grant, make_request):
    other_rights = make_grant(
        id="R2",
        kind=GrantKind.RIGHTS_IN,
        title_id="T2",
        media=("ALL",),
        territories=("001",),
        start=date(2025, 1, 1),
        end=None,
        status=GrantStatus.ACTIVE,
    )
    request = AvailsRequest(
        media=("SVOD",),
        territories=("US",),
        languages=("en",),
        exclusive=True,
        start=date(2026, 1, 1),
        end=date(2027, 1, 1),
    )
    answers = search(request, {"T1": [rights_in, deal_a], "T2": [other_rights]}, as_of=AS_OF)
    assert {t: a.status for t, a in answers.items()} == {"T1": BLOCKED, "T2": FREE}
    index = AvailsIndex.build([rights_in, deal_a, other_rights])
    assert index.free_titles(request, AS_OF) == ["T2"]
    assert index.titles == ("T1", "T2")


def test_ignored_grants_are_left_out(rights_in, deal_a, make_request):
    request = make_request(
        media=("SVOD",),
        territories=("US",),
        languages=("en",),
        exclusive=True,
        ignore_grant_ids=frozenset({"A"}),
    )
    assert check(request, [rights_in, deal_a], as_of=AS_OF).available


def test_part_at_finds_a_cell(rights_in, deal_a, make_request):
    answer = check(
        make_request(media=("SVOD",), territories=("021",), exclusive=True),
        [rights_in, deal_a],
        as_of=AS_OF,
    )
    assert answer.part_at("US", "SVOD", date(2026, 5, 1), language="en-GB").status is BLOCKED
    assert answer.part_at("US", "SVOD", date(2026, 5, 1), language="fr").status is FREE
    assert answer.part_at("US", "TVOD", date(2026, 5, 1)) is None
    assert answer.part_at("US", "SVOD", date(2030, 5, 1)) is None


def test_reason_texts():
    from licensing.domain import Reason

    assert Reason(Cause.DEAL, "A", "D-1", GrantStatus.SIGNED).text == "deal D-1"
    assert Reason(Cause.HOLDBACK, "A", "O-1", GrantStatus.FIRST_REFUSAL, date(2026, 1, 2)).text == (
        "holdback in first refusal O-1 (expires 2026-01-02)"
    )
    assert Reason(Cause.NO_RIGHTS_IN).text == "no rights in"


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_grant_normalizes_codes(make_grant):
    grant = make_grant(
        territories=("us", " ca "), media=("svod",), languages=("ZH-hans", "es-419:dub")
    )
    assert grant.territories == ("US", "CA")
    assert grant.media == ("SVOD",)
    assert grant.languages == (LanguageRight("zh-Hans"), LanguageRight("es-419", LanguageUse.DUB))
    assert isinstance(grant, Grant)


def test_holdback_binds_even_where_its_deal_has_no_term_left(rights_in, make_grant, make_request):
    # Found by the property test: the deal reverted before it started, but its holdback
    # began earlier and runs until the reversion.
    deal = make_grant(
        territories=("FR",),
        start=date(2026, 1, 1),
        end=date(2027, 1, 1),
        status=GrantStatus.REVERTED,
        reverted_on=date(2025, 6, 1),
        holdbacks=(Holdback(media=("AVOD",), territories=("US",), start=date(2025, 1, 1)),),
    )
    request = make_request(
        media=("AVOD",), territories=("US",), start=date(2025, 1, 1), end=date(2026, 1, 1)
    )
    answer = check(request, [rights_in, deal], as_of=AS_OF)
    assert [(p.status, p.start, p.end) for p in answer.parts] == [
        (BLOCKED, date(2025, 1, 1), date(2025, 6, 1)),
        (FREE, date(2025, 6, 1), date(2026, 1, 1)),
    ]


def test_grant_must_cover_a_country(make_grant):
    with pytest.raises(ValueError, match="covers no country"):
        make_grant(territories=("US",), territories_excluded=("021",))
    with pytest.raises(ValueError, match="covers no country"):
        Holdback(media=("AVOD",), territories=("US",), territories_excluded=("US",))
