"""The one reading of a BCP 47 tag, and the three contracts the contexts keep over it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import domain as catalog_domain
from licensing.reference import InvalidLanguageError
from licensing.reference import normalize_language as rights_language
from localization.profiles import normalize_language as subtitle_language
from marketplace.languages import LanguageTag, LanguageTagError, likely_script, normalize, parse

# Every tag the three old normalizers' tests read (catalog, licensing, localization,
# the subtitle profiles and their alias table), with its canonical form.
CANONICAL = [
    ("zh", "zh"),
    ("EN", "en"),
    ("en", "en"),
    ("pt_br", "pt-BR"),
    ("pt-br", "pt-BR"),
    ("PT-br", "pt-BR"),
    ("pt-BR", "pt-BR"),
    ("zh-hant", "zh-Hant"),
    ("zh_hans", "zh-Hans"),
    ("zh-Hans", "zh-Hans"),
    ("es-419", "es-419"),
    ("es_419", "es-419"),
    ("ES-419", "es-419"),
    ("ZH-hans-cn", "zh-Hans-CN"),
    ("zh-Hant-HK", "zh-Hant-HK"),
    ("cmn", "cmn"),
    ("yue", "yue"),
    ("sr-Latn", "sr-Latn"),
    ("en-US-x-twain", "en-US-x-twain"),
    ("en-GB", "en-GB"),
    ("fr-CA", "fr-CA"),
    ("zh-cn", "zh-CN"),
    ("zh-sg", "zh-SG"),
    ("zh-my", "zh-MY"),
    ("zh-tw", "zh-TW"),
    ("zh-hk", "zh-HK"),
    ("zh-mo", "zh-MO"),
    ("  pt_br ", "pt-BR"),
    ("de-CH-1901", "de-CH-1901"),
    ("SL-ROZAJ-BISKE", "sl-rozaj-biske"),
    ("en-U-CA-Gregory-X-AB", "en-u-ca-gregory-x-ab"),
]

# Refused by every context: not well formed, or no language CLDR knows.
NOT_TAGS = ["xx", "english", "chinese", "klingon", "", "   ", "../etc", "not a tag!", "e", "12",
            "en--US", "en_", "zh-Hans-CN-", "xx-YY", "zh-yue", "i-klingon", "x-foo"]


@pytest.mark.parametrize(("tag", "canonical"), CANONICAL)
def test_tags_are_cased_per_bcp47_and_never_rewritten(tag, canonical):
    assert normalize(tag) == canonical
    assert normalize(canonical) == canonical


@pytest.mark.parametrize("tag", NOT_TAGS)
def test_what_is_not_a_tag_is_named(tag):
    with pytest.raises(LanguageTagError) as excinfo:
        parse(tag)
    assert excinfo.value.tag == tag
    assert isinstance(excinfo.value, ValueError)


def test_a_missing_tag_is_not_a_tag():
    with pytest.raises(LanguageTagError, match="not a string"):
        parse(None)
    with pytest.raises(LanguageTagError, match="not in ISO 639/CLDR"):
        parse("xx")
    with pytest.raises(LanguageTagError, match="not a well-formed"):
        parse("en--US")


def test_parts_of_a_tag():
    assert parse("zh-hant-hk") == LanguageTag("zh", "Hant", "HK")
    assert parse("sl-IT-rozaj-biske") == LanguageTag("sl", None, "IT", ("rozaj", "biske"))
    tag = parse("en-US-u-ca-gregory-x-twain")
    assert (tag.region, tag.variants, tag.extensions) == ("US", (), "u-ca-gregory-x-twain")
    assert parse("zh-Hans-CN").simple
    assert not parse("de-1996").simple
    assert not tag.simple


@pytest.mark.parametrize(
    "tag",
    [
        "yue",  # a locale of its own, not a Chinese one
        "cmn", "iw", "sh",  # aliases: kept as written
        "skr",  # Babel has locale data but CLDR names it nowhere in English
        "tlh", "arz",  # CLDR names them; Babel has no locale data
        "und",
    ],
)
def test_primary_languages_are_those_cldr_knows_any_way(tag):
    assert normalize(tag) == tag


@given(
    st.sampled_from(["zh", "en", "es", "pt", "yue", "cmn"]),
    st.sampled_from([None, "Hans", "Hant", "Latn"]),
    st.sampled_from([None, "CN", "TW", "BR", "419"]),
    st.randoms(use_true_random=False),
    st.sampled_from(["-", "_"]),
)
def test_any_casing_of_a_tag_reads_the_same(language, script, region, rnd, sep):
    canonical = "-".join(p for p in (language, script, region) if p)
    scrambled = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in canonical)
    assert normalize(scrambled.replace("-", sep)) == canonical
    assert parse(canonical) == LanguageTag(language, script, region)


# --------------------------------------------------------------------------- likely script


@pytest.mark.parametrize(
    ("tag", "script"),
    [
        # The subtitle profiles' old alias table, now CLDR's likely subtags.
        ("zh", "Hans"), ("zh-CN", "Hans"), ("zh-SG", "Hans"), ("zh-MY", "Hans"),
        ("zh-TW", "Hant"), ("zh-HK", "Hant"), ("zh-MO", "Hant"),
        ("yue", "Hant"), ("cmn", "Hans"),
        # The tag's own script wins; a region can decide; an alias can carry a script.
        ("zh-Hant", "Hant"), ("zh-Hans-HK", "Hans"), ("zh-Latn", "Latn"), ("yue-CN", "Hans"),
        ("cmn-TW", "Hant"), ("sh", "Latn"), ("en", "Latn"), ("ja", "Jpan"), ("ar", "Arab"),
    ],
)
def test_likely_script(tag, script):
    assert likely_script(parse(tag)) == script


# --------------------------------------------------------------------------- the contracts


@pytest.mark.parametrize(("tag", "canonical"), [c for c in CANONICAL if parse(c[0]).simple])
def test_every_context_reads_a_simple_tag_alike(tag, canonical):
    assert catalog_domain.normalize_language(tag) == canonical
    assert rights_language(tag) == canonical
    assert subtitle_language(tag) == canonical


@pytest.mark.parametrize("tag", NOT_TAGS)
def test_each_context_refuses_in_its_own_way(tag):
    assert catalog_domain.normalize_language(tag) is None
    with pytest.raises(InvalidLanguageError) as excinfo:
        rights_language(tag)
    assert excinfo.value.code == tag
    with pytest.raises(ValueError, match="BCP 47"):
        subtitle_language(tag)


def test_the_catalog_takes_no_variants_or_extensions():
    # Its language columns hold 16 characters; rights and subtitles take the whole tag.
    for tag in ("en-US-x-twain", "de-CH-1901", "en-u-ca-gregory"):
        assert catalog_domain.normalize_language(tag) is None
        assert rights_language(tag) == subtitle_language(tag) == normalize(tag)
    assert catalog_domain.normalize_language(None) is None
