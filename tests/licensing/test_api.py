"""The licensing JSON API: the same story, errors that name the field, scope by party,
EMA files in and out."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from licensing.models import Deal, Offer, RightsGrant
from marketplace.extensions import db
from tests.fixtures.licensing import day, offer_body


def _fields(resp) -> set[str]:
    return {e["field"] for e in resp.get_json().get("errors") or []}


def test_done_when_story_over_the_api(api, world):
    buyer, producer, other = api(world.buyer_a), api(world.producer), api(world.buyer_b)
    query = (f"territory=BR&media=SVOD&from={day(30).isoformat()}&to={day(1000).isoformat()}"
             "&exclusive=true&rights_language=pt:subtitle")
    found = buyer.get(f"/api/v1/avails?{query}")
    assert found.status_code == 200
    assert world.title.id in [i["title_id"] for i in found.get_json()["items"]]
    answer = buyer.get(f"/api/v1/titles/{world.title.id}/avails?{query}").get_json()
    assert answer["available"] is True
    assert answer["status"] == "free"

    asked = buyer.post("/api/v1/inquiries", json={"title_id": world.title.id,
                                                  "subject": "Brazil", "body": "Dub?"})
    assert asked.status_code == 201
    thread = asked.get_json()["id"]
    assert producer.post(f"/api/v1/inquiries/{thread}/messages",
                         json={"body": "Subtitles only"}).status_code == 201

    made = buyer.post("/api/v1/offers", json=offer_body(world.title.id, inquiry_id=thread))
    assert made.status_code == 201, made.get_json()
    offer = made.get_json()
    assert offer["check"]["status"] == "free"
    counter = offer_body(fee={"model": "flat", "currency": "USD", "flat_fee_minor": 6_000_000})
    countered = producer.post(f"/api/v1/offers/{offer['id']}/counter", json=counter)
    assert countered.status_code == 201, countered.get_json()
    assert [r["fee"]["flat_fee_minor"] for r in countered.get_json()["rounds"]] == [
        5_000_000, 6_000_000]
    assert producer.post(f"/api/v1/offers/{offer['id']}/accept").status_code == 409  # own round

    accepted = buyer.post(f"/api/v1/offers/{offer['id']}/accept")
    assert accepted.status_code == 201, accepted.get_json()
    deal = accepted.get_json()
    assert deal["status"] == "pending_signature"
    assert [i["amount_minor"] for i in deal["fee"]["instalments"]] == [1_800_000, 4_200_000]
    assert buyer.post(f"/api/v1/deals/{deal['id']}/sign", json={"name": "Lucas"}).status_code \
        == 201
    signed = producer.post(f"/api/v1/deals/{deal['id']}/sign", json={"name": "Zhang"})
    assert signed.get_json()["status"] in ("signed", "active")
    assert {s["side"] for s in signed.get_json()["signatures"]} == {"buyer", "producer"}

    refused = other.post("/api/v1/offers", json=offer_body(world.title.id,
                                                           territories=["BR", "AR"]))
    body = refused.get_json()
    assert refused.status_code == 409
    assert body["free_instead"]["territories"] == ["AR"]
    assert body["conflict"]["status"] == "blocked"
    blocked = [p for p in body["conflict"]["parts"] if p["status"] == "blocked"]
    assert blocked[0]["territories"] == ["BR"]
    assert blocked[0]["reasons"][0]["grant"] is None  # another buyer's deal stays unnamed
    assert world.title.id not in [i["title_id"] for i in other.get(
        f"/api/v1/avails?{query}").get_json()["items"]]


@pytest.mark.parametrize(("changes", "field"), [
    ({"term": {"start": "2030-01-01", "end": "2029-01-01"}}, "term.end"),
    ({"term": {"start": "2030-13-01"}}, "term.start"),
    ({"territories": ["XX"]}, "territories"),
    ({"languages": ["pt:karaoke"]}, "languages"),
    ({"fee": {"model": "flat", "currency": "USD"}}, "fee.flat_fee"),
    ({"fee": {"model": "barter", "currency": "USD"}}, "fee.model"),
    ({"instalments": [{"percent": "10", "trigger": "on_signature"}]}, "instalments"),
    ({"title_id": 999999}, "title_id"),
    ({"expires_on": "yesterday"}, "expires_on"),
])
def test_bad_offers_name_the_field(api, world, changes, field):
    resp = api(world.buyer_a).post("/api/v1/offers",
                                   json={**offer_body(world.title.id), **changes})
    assert resp.status_code == 400, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert field in _fields(resp), resp.get_json()
    assert db.session.scalar(select(func.count()).select_from(Offer)) == 0


def test_forbidden_and_refused_offers(api, world, create_title, grant_rights_in):
    assert api(world.unverified).post("/api/v1/offers",
                                      json=offer_body(world.title.id)).status_code == 403
    assert api(world.producer).post("/api/v1/offers",
                                    json=offer_body(world.title.id)).status_code == 403
    draft = create_title(world.producer_org, status="draft")
    unpublished = api(world.buyer_a).post("/api/v1/offers", json=offer_body(draft.id))
    assert unpublished.status_code == 400
    assert _fields(unpublished) == {"title_id"}
    shared = create_title(world.producer_org)
    grant_rights_in(shared, world.producer, exclusive=False)
    not_exclusive = api(world.buyer_a).post("/api/v1/offers", json=offer_body(shared.id))
    assert not_exclusive.status_code == 409
    assert _fields(not_exclusive) == {"exclusive"}
    bad_query = api(world.buyer_a).get("/api/v1/avails?territory=BR&to=2020-01-01"
                                       "&from=2027-01-01")
    assert bad_query.status_code == 400
    assert _fields(bad_query) == {"to"}


def test_api_is_scoped_to_the_parties(api, world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    outsider = api(world.buyer_b)
    for path in (f"/api/v1/offers/{offer.id}",):
        assert outsider.get(path).status_code == 404
    for path in (f"/api/v1/offers/{offer.id}/accept", f"/api/v1/offers/{offer.id}/withdraw"):
        assert outsider.post(path).status_code == 404
    assert outsider.post(f"/api/v1/offers/{offer.id}/decline", json={}).status_code == 404
    assert outsider.post(f"/api/v1/offers/{offer.id}/counter",
                         json=offer_body()).status_code == 404
    assert outsider.get("/api/v1/offers").get_json() == []
    deal = api(world.producer).post(f"/api/v1/offers/{offer.id}/accept").get_json()
    assert outsider.get(f"/api/v1/deals/{deal['id']}").status_code == 404
    assert outsider.post(f"/api/v1/deals/{deal['id']}/sign",
                         json={"name": "x"}).status_code == 404
    assert outsider.get("/api/v1/deals").get_json() == []
    assert outsider.get("/api/v1/rights").status_code == 403
    assert api(world.buyer_a).get(f"/api/v1/deals/{deal['id']}").status_code == 200
    rights = api(world.producer).get("/api/v1/rights").get_json()
    assert [r["label"] for r in rights] == [world.rights.label]


def test_rights_in_and_ema_over_the_api(api, world, ema_samples):
    producer = api(world.producer)
    created = producer.post("/api/v1/rights", json={
        "title_id": world.title.id, "media": ["AVOD"], "territories": ["142"],
        "term": {"start": "2026-01-01", "end": None}, "exclusive": False})
    assert created.status_code == 201, created.get_json()
    grant = created.get_json()
    assert grant["term"]["end"] is None
    bad = producer.put(f"/api/v1/rights/{grant['id']}", json={
        "title_id": world.title.id, "media": ["AVOD"], "territories": ["142"],
        "term": {"start": "2026-01-01", "end": "2025-01-01"}})
    assert bad.status_code == 400
    assert _fields(bad) == {"term.end"}

    export = producer.get("/api/v1/rights/export?format=xlsx")
    assert export.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).active
    assert sheet.title == "TV"
    assert int(export.headers["X-EMA-Warnings"]) >= 1  # AVOD and friends are bilateral
    xml = producer.get("/api/v1/rights/export?format=xml")
    assert b"<Avail" in xml.data or b":Avail" in xml.data

    before = db.session.scalar(select(func.count()).select_from(RightsGrant))
    imported = producer.post("/api/v1/rights/import", data=xml.data,
                             content_type="application/xml")
    assert imported.status_code == 201, imported.get_json()
    assert imported.get_json()["imported"]
    assert db.session.scalar(select(func.count()).select_from(RightsGrant)) > before
    rejected = producer.post("/api/v1/rights/import", data={
        "file": (io.BytesIO((ema_samples / "Movies_v1.9.xlsx").read_bytes()), "m.xlsx")},
        content_type="multipart/form-data")
    assert rejected.status_code == 422
    rows = rejected.get_json()["rows"]
    assert rows
    assert all(not r["accepted"] for r in rows)
    assert producer.delete(f"/api/v1/rights/{grant['id']}").status_code == 204
    assert api(world.buyer_a).get("/api/v1/rights/export?format=xlsx").status_code == 200


def test_catalog_api_takes_the_avails_filter(api, world, create_title):
    unheld = create_title(world.producer_org)
    buyer = api(world.buyer_a)
    found = buyer.get(f"/api/v1/titles?territory=419&media=SVOD&exclusive=1"
                      f"&from={day(30).isoformat()}&to={day(700).isoformat()}")
    ids = [t["id"] for t in found.get_json()["items"]]
    assert world.title.id in ids
    assert unheld.id not in ids
    bad = buyer.get("/api/v1/titles?territory=419&media=CINEMA")
    assert bad.status_code == 400
    assert _fields(bad) == {"media"}


def test_openapi_documents_the_licensing_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/avails", "/api/v1/titles/{title_id}/avails", "/api/v1/offers",
                 "/api/v1/offers/{offer_id}/accept", "/api/v1/deals/{deal_id}/sign",
                 "/api/v1/rights/import", "/api/v1/rights/export", "/api/v1/inquiries"):
        assert path in spec["paths"], path


def test_accepting_is_refused_when_the_rights_went_meanwhile(api, world, make_offer):
    first = make_offer(world.buyer_a, world.title)
    second = make_offer(world.buyer_b, world.title)
    assert api(world.producer).post(f"/api/v1/offers/{first.id}/accept").status_code == 201
    refused = api(world.producer).post(f"/api/v1/offers/{second.id}/accept")
    assert refused.status_code == 409
    assert refused.get_json()["conflict"]["status"] == "contested"
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 1
