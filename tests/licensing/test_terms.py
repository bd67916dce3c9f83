"""Parsing proposed rights and money: every bad field is named as the API names it."""

from __future__ import annotations

from datetime import date

import pytest

from licensing.domain import EpisodeRange, LanguageRight, LanguageUse
from licensing.terms import LicensingError, parse_fee, parse_terms

GOOD = {"media": ["SVOD"], "territories": ["BR", "419"], "languages": ["pt:subtitle"],
        "term": {"start": "2027-01-01", "end": "2030-01-01"}, "exclusive": True}


def test_terms_are_normalized():
    terms = parse_terms({**GOOD, "territories": "br, 419", "media": ["svod", "non-linear"],
                         "episodes": {"first": "1", "last": "40"}})
    assert terms.territories == ("BR", "419")
    assert terms.media == ("SVOD", "NON_LINEAR")
    assert terms.languages == (LanguageRight("pt", LanguageUse.SUBTITLE),)
    assert terms.episodes == EpisodeRange(1, 40)
    assert (terms.start, terms.end, terms.exclusive) == (date(2027, 1, 1), date(2030, 1, 1), True)
    again = type(terms).from_json(terms.to_json())
    assert again == terms


def test_no_languages_means_all_and_no_end_means_perpetual():
    terms = parse_terms({**GOOD, "languages": [], "term": {"start": "2027-01-01", "end": None}})
    assert terms.languages is None
    assert terms.end is None


@pytest.mark.parametrize(("change", "field"), [
    ({"term": {"start": "2030-01-01", "end": "2027-01-01"}}, "term.end"),
    ({"term": {"start": "2027-01-01", "end": "2027-01-01"}}, "term.end"),
    ({"term": {"start": "2027-02-30"}}, "term.start"),
    ({"term": {}}, "term.start"),
    ({"territories": ["BR", "XX"]}, "territories"),
    ({"territories": ["999"]}, "territories"),
    ({"territories": []}, "territories"),
    ({"territories_excluded": ["BR", "419"]}, "territories_excluded"),
    ({"media": ["CINEMA"]}, "media"),
    ({"media": []}, "media"),
    ({"languages": ["portuguese!"]}, "languages"),
    ({"languages": ["pt:karaoke"]}, "languages"),
    ({"episodes": {"first": 10, "last": 2}}, "episodes.last"),
    ({"holdbacks": [{"media": ["AVOD"], "territories": ["ZZ"], "until": "2028-01-01"}]},
     "holdbacks[0].territories"),
    ({"holdbacks": [{"media": ["AVOD"], "territories": ["US"], "start": "2028-01-01",
                     "until": "2027-01-01"}]}, "holdbacks[0].until"),
])
def test_bad_terms_name_the_field(change, field):
    with pytest.raises(LicensingError) as caught:
        parse_terms({**GOOD, **change})
    assert field in caught.value.errors, caught.value.errors
    assert caught.value.status == 400


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(LicensingError) as caught:
        parse_terms({**GOOD, "media": ["X"], "territories": ["ZZ"],
                     "term": {"start": "2030-01-01", "end": "2029-01-01"}})
    assert {"media", "territories", "term.end"} <= set(caught.value.errors)


def test_flat_fee_in_minor_units_with_instalments():
    fee = parse_fee({"model": "flat", "currency": "usd", "flat_fee": "50,000.00"},
                    [{"percent": "30", "trigger": "on_signature"},
                     {"percent": 70, "trigger": "on_delivery_acceptance"}])
    assert (fee.currency, fee.flat_fee_minor) == ("USD", 5_000_000)
    assert [i.percent_bp for i in fee.instalments] == [3000, 7000]
    assert fee.amounts_due() == [1_500_000, 3_500_000]


def test_rounding_goes_to_the_last_percentage_and_yen_has_no_decimals():
    fee = parse_fee({"model": "flat", "currency": "JPY", "flat_fee": "1000001"},
                    [{"percent": "33.33", "trigger": "on_signature"},
                     {"percent": "66.67", "trigger": "on_date", "due_on": "2027-06-30"}])
    assert sum(fee.amounts_due()) == 1_000_001
    with pytest.raises(LicensingError) as caught:
        parse_fee({"model": "flat", "currency": "JPY", "flat_fee": "10.5"}, [])
    assert "fee.flat_fee" in caught.value.errors


def test_mixed_amounts_and_default_schedule():
    fee = parse_fee({"model": "mg_revshare", "currency": "EUR",
                     "minimum_guarantee_minor": 1_000_000, "revenue_share_bp": 2500},
                    [{"amount_minor": 400_000, "trigger": "on_signature"},
                     {"percent": "60", "trigger": "on_delivery_acceptance"}])
    assert fee.amounts_due() == [400_000, 600_000]
    default = parse_fee({"model": "flat", "currency": "USD", "flat_fee_minor": 100}, None)
    assert [(i.trigger, i.percent_bp) for i in default.instalments] == [("on_signature", 10000)]


@pytest.mark.parametrize(("fee", "instalments", "field"), [
    ({"model": "lump", "currency": "USD"}, None, "fee.model"),
    ({"model": "flat", "currency": "XYZ", "flat_fee_minor": 100}, None, "fee.currency"),
    ({"model": "flat", "currency": "USD"}, None, "fee.flat_fee"),
    ({"model": "mg_revshare", "currency": "USD", "minimum_guarantee_minor": 100}, None,
     "fee.revenue_share"),
    ({"model": "revshare", "currency": "USD", "revenue_share_bp": 20000}, None,
     "fee.revenue_share_bp"),
    ({"model": "revshare", "currency": "USD", "revenue_share_bp": 2000},
     [{"percent": "100", "trigger": "on_signature"}], "instalments"),
    ({"model": "flat", "currency": "USD", "flat_fee_minor": 100},
     [{"percent": "30", "trigger": "on_signature"}], "instalments"),
    ({"model": "flat", "currency": "USD", "flat_fee_minor": 100},
     [{"percent": "100", "trigger": "on_date"}], "instalments[0].due_on"),
    ({"model": "flat", "currency": "USD", "flat_fee_minor": 100},
     [{"percent": "100", "trigger": "whenever"}], "instalments[0].trigger"),
    ({"model": "flat", "currency": "USD", "flat_fee_minor": 100},
     [{"percent": "50", "amount_minor": 50, "trigger": "on_signature"}],
     "instalments[0].percent"),
])
def test_bad_fees_name_the_field(fee, instalments, field):
    with pytest.raises(LicensingError) as caught:
        parse_fee(fee, instalments)
    assert field in caught.value.errors, caught.value.errors
