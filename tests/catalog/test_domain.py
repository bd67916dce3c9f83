"""The catalog's pure rules: input cleaning, provenance, badge, compliance, C2PA, MEC."""

from __future__ import annotations

from datetime import date

import pytest

from catalog import domain
from catalog.domain import (
    COMPLIANCE_RULES,
    ComplianceFacts,
    Provenance,
    TitleInput,
    ValidationError,
)
from tests.fixtures.catalog import PROVENANCE_AI


def _input(**kw):
    base = {"original_title": "霸道总裁爱上我", "original_language": "zh"}
    return TitleInput(**{**base, **kw})


def test_clean_title_input_normalizes():
    clean = domain.clean_title_input(_input(
        original_language="ZH_hans", country="cn", genres="Romance, CEO；revenge",
        tags=["豪门", "豪门", "逆袭"], localizations={"en": ("The CEO", "A story."),
                                                     "pt_br": ("O CEO", "")}))
    assert clean.original_language == "zh-Hans"
    assert clean.country == "CN"
    assert clean.genres == ["romance", "ceo", "revenge"]
    assert clean.tags == ["豪门", "逆袭"]
    assert set(clean.localizations) == {"en", "pt-BR"}


@pytest.mark.parametrize(("field", "kwargs"), [
    ("original_title", {"original_title": "  "}),
    ("original_language", {"original_language": "klingon-xx"}),
    ("original_language", {"original_language": "qq"}),
    ("country", {"country": "China"}),
    ("year", {"year": 1900}),
    ("episode_count", {"episode_count": 0}),
    ("genres", {"genres": ["romance", "western"]}),
    ("aspect_ratio", {"aspect_ratio": "4:5"}),
    ("localizations.xx-yy", {"localizations": {"xx-yy": ("T", "S")}}),
    ("localizations.en", {"localizations": {"en": ("", "synopsis without a title")}}),
])
def test_clean_title_input_names_the_bad_field(field, kwargs):
    with pytest.raises(ValidationError) as err:
        domain.clean_title_input(_input(**kwargs), today=date(2026, 1, 1))
    assert field in err.value.errors


def test_search_text_holds_every_language():
    text = domain.search_text("霸道总裁", [("The Tyrant CEO", "He owns the city."),
                                         ("El CEO", None)], ["豪门"])
    assert "霸道总裁" in text
    assert "He owns" in text
    assert "El CEO" in text
    assert "豪门" in text


def test_provenance_round_trip_and_validation():
    prov = domain.clean_provenance(PROVENANCE_AI)
    assert prov.ai_components == ["visuals", "voice", "music"]
    assert prov.digital_source_type_uri.endswith("/trainedAlgorithmicMedia")
    assert Provenance.from_dict(prov.to_dict()) == prov
    with pytest.raises(ValidationError) as err:
        domain.clean_provenance({**PROVENANCE_AI, "involvement": "none"})
    assert "involvement" in err.value.errors
    with pytest.raises(ValidationError) as err:
        domain.clean_provenance({**PROVENANCE_AI, "digital_source_type": "digitalCapture"})
    assert "digital_source_type" in err.value.errors
    with pytest.raises(ValidationError) as err:
        domain.clean_provenance({**PROVENANCE_AI, "implicit_label": {"Label": "9"}})
    assert "implicit_label.Label" in err.value.errors


def test_episode_override_lays_keys_over_the_title():
    prov = domain.effective_provenance(PROVENANCE_AI, {"involvement": "fully_generated",
                                                       "explicit_label": {}})
    assert prov.involvement == "fully_generated"
    assert not prov.explicit_label.present
    assert prov.models[0].name == "Kling"


def test_badge():
    badge = domain.provenance_badge(Provenance.from_dict(PROVENANCE_AI), ["absent", "valid"])
    assert (badge.level, str(badge.label), badge.c2pa, badge.labelled) == (
        "generated", "Mostly AI-generated", "valid", True)
    assert "visuals, voice, music" in str(badge.summary)
    human = domain.provenance_badge(Provenance())
    assert (human.level, str(human.label), human.c2pa) == ("human", "Human-made", "absent")


def test_compliance_ready_when_labelled_and_marked():
    facts = [ComplianceFacts(provenance=Provenance.from_dict(PROVENANCE_AI), nrta_number="X")]
    reports = {r.region: r for r in domain.evaluate_compliance(facts)}
    assert reports["CN"].status == "ready"
    assert reports["EU"].status == "ready"
    assert reports["EU"].in_force == date(2026, 8, 2)
    assert not reports["EU"].in_force_on(date(2026, 8, 1))


def test_compliance_lists_what_each_region_needs():
    prov = dict(PROVENANCE_AI, explicit_label={"text": "AI", "start_seconds": 4,
                                               "duration_seconds": 1, "text_height_percent": 3},
                implicit_label={})
    episode = Provenance.from_dict({**prov, "explicit_label": {}})
    reports = {r.region: r for r in domain.evaluate_compliance([
        ComplianceFacts(provenance=Provenance.from_dict(prov)),
        ComplianceFacts(provenance=episode, scope="7")])}
    cn = [(g.scope, str(g.message)) for g in reports["CN"].gaps]
    assert ("", "The explicit label must stay on screen for at least 2 s.") in cn
    assert ("", "The label text must be at least 5% of the picture's short side.") in cn
    assert ("", "The explicit label must appear at the start of each episode.") in cn
    assert ("", "Add the implicit AIGC metadata fields: Label, ContentProducer, ProduceID.") in cn
    assert ("", "Online distribution in China needs an NRTA licence or filing number.") in cn
    assert ("7", "Show an explicit AI label on screen.") in cn
    eu = [str(g.message) for g in reports["EU"].gaps]
    assert any("machine-readable" in m for m in eu)
    assert reports["CN"].status == "needs_work"


def test_compliance_human_made_needs_only_the_licence():
    reports = {r.region: r for r in domain.evaluate_compliance(
        [ComplianceFacts(provenance=Provenance(), nrta_number="NRTA-1")])}
    assert reports["CN"].status == "ready"
    assert reports["EU"].status == "not_applicable"


def test_compliance_rules_are_data_a_new_region_is_a_row():
    rules = (*COMPLIANCE_RULES, {"region": "KR", "name": domain._l("Korea"),
                                 "in_force": "2026-01-22",
                                 "requirements": [{"check": "explicit_label_present",
                                                   "applies": "uses_ai",
                                                   "message": domain._l("Label it.")}]})
    facts = [ComplianceFacts(provenance=Provenance.from_dict({**PROVENANCE_AI,
                                                               "explicit_label": {}}))]
    kr = domain.evaluate_compliance(facts, rules, regions=["KR"])
    assert [(r.region, r.status, [str(g.message) for g in r.gaps]) for r in kr] == [
        ("KR", "needs_work", ["Label it."])]
    for rule in COMPLIANCE_RULES:
        for req in rule["requirements"]:
            assert req["check"] in domain.CHECKS


def test_c2pa_manifest_interpretation():
    store = {"active_manifest": "urn:1", "manifests": {"urn:1": {
        "claim_generator_info": [{"name": "Lujiazui Render", "version": "3.2"}],
        "title": "ep1.mp4", "signature_info": {"issuer": "Lujiazui AI Studio CA"},
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType":
             "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}}}
    state = domain.c2pa_from_manifest(store, "Valid")
    assert state.state == "valid"
    assert state.claim_generator == "Lujiazui Render 3.2"
    assert state.issuer == "Lujiazui AI Studio CA"
    assert state.actions == ("c2pa.created",)
    assert state.claims_ai
    bad = domain.c2pa_from_manifest({**store, "validation_status": [
        {"code": "assertion.dataHash.mismatch"}]}, "Invalid")
    assert bad.state == "invalid"
    assert bad.errors == ("assertion.dataHash.mismatch",)
    assert domain.c2pa_from_manifest(None, None).state == "absent"


def test_mec_export_shape():
    out = domain.mec_export(domain.MECTitle(
        id=7, original_title="霸道总裁", original_language="zh", country="CN", year=2025,
        genres=["ceo"], localizations={"zh": ("霸道总裁", "简介"), "en": ("The CEO", "Synopsis")},
        rights_holder="黄浦影业", typical_episode_seconds=95,
        episodes=[(1, "初遇", 100), (2, None, None)]))
    series, ep1, ep2 = (e["Basic"] for e in out["CoreMetadata"])
    assert series["ContentID"] == "md:cid:org:pudong-drama-exchange:title-7"
    assert series["WorkType"] == "Series"
    assert series["CountryOfOrigin"] == {"country": "CN"}
    assert series["CopyrightLine"] == "© 2025 黄浦影业"
    assert [i["language"] for i in series["LocalizedInfo"]] == ["zh", "en"]
    assert series["LocalizedInfo"][1]["Summary190"] == "Synopsis"
    assert ep1["WorkType"] == "Episode"
    assert ep1["SequenceInfo"] == {"Number": 1}
    assert ep1["Parent"] == {"relationshipType": "isepisodeof",
                             "ParentContentID": series["ContentID"]}
    assert ep1["RunLength"] == "PT1M40S"
    assert ep2["RunLength"] == "PT1M35S"
    assert ep2["LocalizedInfo"][0]["TitleDisplayUnlimited"] == "霸道总裁 2"


@pytest.mark.parametrize(("code", "expected"), [
    ("zh", "zh"), ("EN", "en"), ("pt_br", "pt-BR"), ("zh-hant", "zh-Hant"), ("es-419", "es-419"),
    ("xx", None), ("english", None), ("", None), ("../etc", None),
])
def test_normalize_language(code, expected):
    assert domain.normalize_language(code) == expected
