"""Reference data: the media tree, UN M.49 regions, Babel names and code validation."""

from __future__ import annotations

import pytest
from babel import Locale
from hypothesis import given, settings
from hypothesis import strategies as st

from licensing.reference import (
    COUNTRIES,
    MEDIA,
    MEDIA_LEAVES,
    REGIONS,
    InvalidLanguageError,
    UnknownMediumError,
    UnknownTerritoryError,
    compact_media,
    compact_territories,
    expand_territories,
    expand_territory,
    language_covers,
    language_name,
    media_leaves,
    normalize_language,
    normalize_medium,
    normalize_territory,
    territory_name,
)

REQUIRED_REGIONS = (
    "001 002 015 202 011 014 017 018 019 419 029 013 005 021 142 143 030 034 035 145 "
    "150 151 154 039 155 009 053 054 057 061"
).split()
NOT_ISO_3166 = {
    "AC",
    "CP",
    "CQ",
    "DG",
    "EA",
    "EU",
    "EZ",
    "IC",
    "QO",
    "TA",
    "UN",
    "XA",
    "XB",
    "XK",
    "ZZ",
}


# --------------------------------------------------------------------------- media


def test_media_tree_leaves():
    assert MEDIA_LEAVES == (
        "FREE_TV",
        "PAY_TV",
        "SVOD",
        "TVOD",
        "EST",
        "AVOD",
        "FAST",
        "SHORT_DRAMA_APP",
    )
    assert media_leaves("ALL") == frozenset(MEDIA_LEAVES)
    assert media_leaves("LINEAR") == {"FREE_TV", "PAY_TV"}
    assert media_leaves("NON_LINEAR") == {"SVOD", "TVOD", "EST", "AVOD", "FAST", "SHORT_DRAMA_APP"}
    assert media_leaves("AVOD") == {"AVOD", "FAST"}  # a grant on a node covers its descendants
    assert media_leaves("FAST") == {"FAST"}


def test_compact_media_is_the_inverse_of_leaves():
    for code in MEDIA:
        assert media_leaves(compact_media(media_leaves(code))) == media_leaves(code)
    assert compact_media(media_leaves(["LINEAR", "NON_LINEAR"])) == ("ALL",)
    assert compact_media({"SVOD", "FAST"}) == ("SVOD", "FAST")


def test_unknown_medium_is_named():
    assert normalize_medium("short-drama app") == "SHORT_DRAMA_APP"
    with pytest.raises(UnknownMediumError, match="unknown medium 'Cinema'"):
        normalize_medium("Cinema")


# --------------------------------------------------------------------------- territories


def test_required_m49_regions_are_in_the_table():
    assert set(REQUIRED_REGIONS) <= set(REGIONS)


def test_world_is_exactly_the_iso_3166_countries():
    babel_codes = {
        c for c in Locale("en").territories if len(c) == 2 and c.isalpha()
    } - NOT_ISO_3166
    assert set(COUNTRIES) == babel_codes
    assert len(COUNTRIES) == 249


def test_each_country_sits_in_exactly_one_sub_region():
    sub_regions = [
        code for code, region in REGIONS.items() if not any(m in REGIONS for m in region.members)
    ]
    seen: dict[str, str] = {}
    for code in sub_regions:
        for country in expand_territory(code):
            assert country not in seen, (country, seen.get(country), code)
            seen[country] = code
    assert set(COUNTRIES) - set(seen) == {"AQ"}  # Antarctica belongs to the World only


@pytest.mark.parametrize(
    ("region", "countries"),
    [
        ("021", {"BM", "CA", "GL", "PM", "US"}),
        ("053", {"AU", "CX", "CC", "HM", "NZ", "NF"}),
        ("143", {"KZ", "KG", "TJ", "TM", "UZ"}),
    ],
)
def test_small_regions(region, countries):
    assert expand_territory(region) == countries


def test_regions_are_the_union_of_their_members():
    for code, region in REGIONS.items():
        union = frozenset().union(*(expand_territory(m) for m in region.members))
        assert expand_territory(code) == union
    assert expand_territory("419") == expand_territory("029") | expand_territory(
        "013"
    ) | expand_territory("005")
    assert "TH" in expand_territory("035")
    assert "TW" in expand_territory("030")


def test_exclusions():
    assert expand_territories(["001"], ["US", "CA"]) == set(COUNTRIES) - {"US", "CA"}
    assert expand_territories(["150"], ["155"]) == expand_territory("150") - expand_territory("155")


@pytest.mark.parametrize("code", ["USA", "999", "21", "XK", "", "U"])
def test_unknown_territory_is_named(code):
    with pytest.raises(UnknownTerritoryError) as excinfo:
        normalize_territory(code)
    assert excinfo.value.code == code
    assert repr(code) in str(excinfo.value)


def test_territory_codes_are_normalized():
    assert normalize_territory(" us ") == "US"
    assert normalize_territory("419") == "419"


@pytest.mark.parametrize(
    ("code", "locale", "name"),
    [
        ("US", "en", "United States"),
        ("US", "zh", "美国"),
        ("021", "en", "Northern America"),
        ("021", "zh", "美洲北部"),
        ("035", "fr", "Asie du Sud-Est"),
        ("001", "en", "world"),
        ("CN", "zh_Hant", "中國"),
    ],
)
def test_territory_names_come_from_babel(code, locale, name):
    assert territory_name(code, locale) == name


def test_compact_territories_examples():
    assert compact_territories({"BM", "GL", "PM"}) == (("BM", "GL", "PM"), ())
    assert compact_territories(expand_territories(["001"], ["US", "CA"])) == (
        ("001",),
        ("CA", "US"),
    )
    assert compact_territories(expand_territory("150")) == (("150",), ())
    assert compact_territories(expand_territories(["142", "150"])) == (("142", "150"), ())


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(COUNTRIES)), st.sets(st.sampled_from(sorted(REGIONS)), max_size=3))
def test_compact_territories_round_trips(countries, regions):
    wanted = frozenset(countries) | expand_territories(regions)
    included, excluded = compact_territories(wanted)
    assert expand_territories(included, excluded) == wanted


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("en", "en"),
        ("ZH-hans-cn", "zh-Hans-CN"),
        ("es_419", "es-419"),
        ("pt-br", "pt-BR"),
        ("cmn", "cmn"),
        ("sr-Latn", "sr-Latn"),
        ("en-US-x-twain", "en-US-x-twain"),
    ],
)
def test_language_tags_are_normalized(tag, canonical):
    assert normalize_language(tag) == canonical


@pytest.mark.parametrize("tag", ["english", "e", "xx", "en--US", "en_", "zh-Hans-CN-", "12"])
def test_bad_language_tags_are_named(tag):
    with pytest.raises(InvalidLanguageError) as excinfo:
        normalize_language(tag)
    assert excinfo.value.code == tag


@pytest.mark.parametrize(
    ("tag", "locale", "name"),
    [
        ("en", "en", "English"),
        ("es-419", "en", "Spanish (Latin America)"),
        ("zh-Hans", "zh", "中文 (简体)"),
        ("pt-BR", "fr", "portugais (Brésil)"),
        ("th", "th", "ไทย"),
    ],
)
def test_language_names_come_from_babel(tag, locale, name):
    assert language_name(tag, locale) == name


def test_language_coverage_follows_subtags():
    assert language_covers("es", "es-419")
    assert language_covers("es", "es")
    assert not language_covers("es-419", "es")
    assert not language_covers("e", "es")
