"""The catalog over JSON: search with facets, detail, episodes, MEC, access, OpenAPI."""

from __future__ import annotations

import pytest

from catalog import services
from marketplace.extensions import db


@pytest.fixture
def listed(create_title, create_org):
    org = create_org(kind="producer")
    ceo = create_title(org, title="闪婚后霸总每天都在追我", genres=["ceo", "romance"],
                       episode_count=80, localizations={
                           "zh": ("闪婚后霸总每天都在追我", "契约婚姻。"),
                           "en": ("Flash Marriage to the CEO", "A contract marriage.")})
    wolf = create_title(org, title="Moonlit Werewolf Bride", language="en",
                        genres=["paranormal"], year=2024, provenance={"involvement": "none"},
                        localizations={"en": ("Moonlit Werewolf Bride", "An alpha's mate.")})
    draft = create_title(org, title="霸总草稿", status="draft")
    return {"org": org, "ceo": ceo, "wolf": wolf, "draft": draft}


def test_list_search_and_facets(api, create_user, listed):
    buyer = api(create_user(kind="distributor"))
    body = buyer.get("/api/v1/titles?q=霸总").get_json()
    assert [t["id"] for t in body["items"]] == [listed["ceo"].id]
    item = body["items"][0]
    assert item["badge"]["level"] == "generated"
    assert item["poster_url"].startswith("http://localhost/api/v1/media/")
    assert item["content_id"] == f"md:cid:org:pudong-drama-exchange:title-{listed['ceo'].id}"
    assert item["titles"]["en"] == "Flash Marriage to the CEO"
    en = buyer.get("/api/v1/titles?q=霸总", headers={"Accept-Language": "en"}).get_json()
    assert en["items"][0]["title"] == "Flash Marriage to the CEO"
    body = buyer.get("/api/v1/titles?genre=paranormal&ai=none&year=2024").get_json()
    assert [t["id"] for t in body["items"]] == [listed["wolf"].id]
    body = buyer.get("/api/v1/titles?episodes_min=50&language=en&sort=newest").get_json()
    assert [t["id"] for t in body["items"]] == [listed["ceo"].id]
    body = buyer.get("/api/v1/titles?per_page=1&page=2").get_json()
    assert (body["total"], body["pages"], body["page"], len(body["items"])) == (2, 2, 2, 1)


@pytest.mark.parametrize(("query", "field"), [
    ("genre=western", "genre.0"), ("language=klingon", "language.0"), ("ai=lots", "ai.0"),
    ("per_page=1000", "per_page"), ("page=0", "page"), ("sort=random", "sort"),
])
def test_bad_query_is_400_naming_the_field(api, create_user, query, field):
    resp = api(create_user()).get(f"/api/v1/titles?{query}")
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    assert field in [e["field"] for e in resp.get_json()["errors"]]


def test_detail_and_episodes(api, create_user, listed, media):
    t = listed["ceo"]
    t.status = "draft"
    with media["video"].open("rb") as fh:
        services.store_asset(t, kind="master", stream=fh, filename="ep1.mp4",
                             episode=t.episodes[0])
    services.set_episode_provenance(t.episodes[1], {"involvement": "fully_generated",
                                                    "explicit_label": {}})
    t.status = "published"
    db.session.commit()
    buyer = api(create_user(kind="distributor"))
    body = buyer.get(f"/api/v1/titles/{t.id}").get_json()
    assert body["status"] == "published"
    assert body["provenance"]["models"][0]["vendor"] == "Kuaishou"
    assert body["digital_source_type_uri"].endswith("trainedAlgorithmicMedia")
    assert body["copyright"]["nrta_number"]
    assert {r["region"]: r["status"] for r in body["compliance"]}["CN"] == "needs_work"
    assert [m["kind"] for m in body["media"]] == ["poster"]  # masters are not for buyers
    episodes = buyer.get(f"/api/v1/titles/{t.id}/episodes").get_json()
    assert [e["number"] for e in episodes] == [1, 2, 3]
    assert episodes[1]["provenance"]["involvement"] == "fully_generated"
    assert episodes[1]["overrides"] == ["explicit_label", "involvement"]
    assert episodes[0]["media"] == []
    mec = buyer.get(f"/api/v1/titles/{t.id}/mec").get_json()
    assert mec["CoreMetadata"][1]["Basic"]["Parent"]["relationshipType"] == "isepisodeof"
    poster = buyer.get(body["media"][0]["url"].replace("http://localhost", ""))
    assert poster.status_code == 302
    assert "/files?key=" in poster.headers["Location"]


def test_access(api, create_user, listed):
    owner = create_user(listed["org"], kind="producer")
    other = create_user(kind="producer")
    buyer = create_user(kind="distributor")
    admin = create_user(kind="platform", is_admin=True)
    d = listed["draft"]
    master_free = d.poster.id
    for path in (f"/api/v1/titles/{d.id}", f"/api/v1/titles/{d.id}/episodes",
                 f"/api/v1/titles/{d.id}/mec", f"/api/v1/media/{master_free}"):
        for who in (other, buyer):
            resp = api(who).get(path)
            assert resp.status_code == 404, (path, who)
            assert resp.mimetype == "application/problem+json"
        assert api(owner).get(path).status_code in (200, 302), path
        assert api(admin).get(path).status_code in (200, 302), path
    assert d.id not in [t["id"] for t in api(owner).get("/api/v1/titles").get_json()["items"]]


def test_anonymous_is_401(client, listed):
    for path in ("/api/v1/titles", f"/api/v1/titles/{listed['ceo'].id}"):
        resp = client.get(path)
        assert resp.status_code == 401
        assert resp.mimetype == "application/problem+json"


def test_openapi_documents_the_catalog(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/titles", "/api/v1/titles/{title_id}", "/api/v1/titles/{title_id}/episodes",
                 "/api/v1/titles/{title_id}/mec", "/api/v1/media/{asset_id}"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/titles"]["get"]["parameters"]}
    assert {"q", "genre", "language", "ai", "year", "episodes_min", "sort", "page"} <= params
    assert "TitleDetail" in spec["components"]["schemas"]


def test_list_cache_serves_the_same_body_until_it_expires(app, api, create_user, listed,
                                                          create_title):
    from catalog import listing

    buyer = api(create_user(kind="distributor"))
    app.config["PDX_CATALOG_LIST_CACHE_SECONDS"] = 60
    listing.clear_cache()
    try:
        first = buyer.get("/api/v1/titles").get_json()
        create_title(listed["org"], title="缓存之后上架")
        assert buyer.get("/api/v1/titles").get_json() == first
        assert buyer.get("/api/v1/titles?sort=newest").get_json()["total"] == first["total"] + 1
        listing.clear_cache()
        assert buyer.get("/api/v1/titles").get_json()["total"] == first["total"] + 1
    finally:
        app.config.pop("PDX_CATALOG_LIST_CACHE_SECONDS")
        listing.clear_cache()


def test_unknown_parameters_reach_the_filter_providers(api, create_user, app):
    seen = {}
    def provider(params):
        seen.update(params)
        return None
    app.extensions["pdx_catalog_filters"].append(provider)
    try:
        resp = api(create_user()).get("/api/v1/titles?catalog_x=1")
        assert resp.status_code == 200, resp.get_json()
        assert seen.get("catalog_x") == "1"
    finally:
        app.extensions["pdx_catalog_filters"].remove(provider)
