"""The catalog in the browser: a producer lists a title end to end, staff publish it, a
buyer finds and screens it; access for every page; bad input gets a clear message."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from catalog.models import MediaAsset, Title
from marketplace.extensions import db


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _post(client, path, data, page="/catalog/", **kw):
    return client.post(path, data={"csrf_token": _token(client, page), **data}, **kw)


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_producer_lists_a_title_end_to_end(client, login, create_user, media, locale):
    producer = create_user(kind="producer", locale=locale)
    admin = create_user(kind="platform", is_admin=True, locale=locale)
    buyer = create_user(kind="distributor", locale=locale)
    login(producer)
    page = client.get("/catalog/titles/new").get_data(as_text=True)
    assert ("List a new title" if locale == "en" else "上架新剧") in page
    resp = _post(client, "/catalog/titles/new", {
        "original_title": "闪婚后霸总每天都在追我", "original_language": "zh", "country": "CN",
        "year": "2025", "episode_count": "80", "typical_episode_seconds": "95",
        "aspect_ratio": "9:16", "genres": ["ceo", "romance"], "tags": "契约婚姻, 甜宠",
        "loc_language[]": ["zh", "en", ""],
        "loc_title[]": ["闪婚后霸总每天都在追我", "Flash Marriage to the CEO", ""],
        "loc_synopsis[]": ["契约婚姻，霸道总裁。<script>alert(1)</script>",
                           "A contract marriage.", ""]}, page="/catalog/titles/new")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    title = db.session.scalars(select(Title).where(
        Title.original_title == "闪婚后霸总每天都在追我")).one()
    manage = f"/catalog/titles/{title.id}/manage"
    assert resp.headers["Location"].endswith(manage)
    # episodes, provenance, copyright
    assert _post(client, f"/catalog/titles/{title.id}/episodes",
                 {"count": "80", "duration_seconds": "95"}, page=manage).status_code == 302
    assert len(title.episodes) == 80
    resp = _post(client, f"/catalog/titles/{title.id}/provenance", {
        "involvement": "mostly_generated", "components": ["visuals", "voice"],
        "digital_source_type": "trainedAlgorithmicMedia",
        "model_name[]": ["Kling", ""], "model_vendor[]": ["Kuaishou", ""],
        "model_version[]": ["2.1", ""], "model_commercial[]": ["yes", "no"],
        "model_purpose[]": ["video", ""],
        "contributor_name[]": ["李娜"], "contributor_role[]": ["导演"],
        "consent_subject[]": ["赵宇"], "consent_kind[]": ["likeness"],
        "consent_reference[]": ["REL-7"],
        "label_text": "本剧含AI生成内容", "label_position": "top-right", "label_start": "0",
        "label_duration": "3", "label_height": "6",
        "aigc_Label": "1", "aigc_ContentProducer": "huangpu", "aigc_ProduceID": "HP-9"},
        page=manage)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    assert title.ai_involvement == "mostly_generated"
    assert title.provenance["models"][0]["commercial_use"] is True
    resp = _post(client, f"/catalog/titles/{title.id}/copyright", {
        "rights_holder": "黄浦影业", "registration_number": "国作登字-2025-I-77",
        "nrta_number": "(沪)网微剧备字(2025)第077号", "nrta_tier": "ordinary",
        "underlying_work": "", "music_clearances": "主题曲 | 上海音乐 | LIC-1"}, page=manage)
    assert resp.status_code == 302
    # the submit button waits for a poster
    assert "Upload a poster" in client.get(manage).get_data(as_text=True) or locale != "en"
    for kind, name, path in (("poster", "poster.png", media["poster"]),
                             ("trailer", "trailer.mp4", media["video"])):
        with path.open("rb") as fh:
            resp = client.post(f"/catalog/titles/{title.id}/assets", data={
                "csrf_token": _token(client, manage), "kind": kind, "episode_id": "",
                "language": "", "file": (fh, name)},
                headers={"X-Requested-With": "XMLHttpRequest"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        assert resp.get_json()["ok"] is True
    assert _post(client, f"/catalog/titles/{title.id}/submit", {"comment": "请审核"},
                 page=manage).status_code == 302
    assert title.status == "submitted"
    # the buyer cannot see it yet
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(buyer)
    assert client.get(f"/catalog/titles/{title.id}").status_code == 404
    assert "闪婚后霸总" not in client.get("/catalog/?q=霸总").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    # staff publish
    login(admin)
    queue = client.get("/catalog/review").get_data(as_text=True)
    assert "闪婚后霸总每天都在追我" in queue
    resp = _post(client, f"/catalog/titles/{title.id}/review",
                 {"decision": "publish", "comment": "OK"}, page="/catalog/review")
    assert resp.status_code == 302
    assert title.status == "published"
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    # a buyer finds it by a Chinese substring and by facets, and screens the trailer
    login(buyer)
    found = client.get("/catalog/?q=霸总").get_data(as_text=True)
    assert f"/catalog/titles/{title.id}" in found
    faceted = client.get("/catalog/?genre=ceo&ai=mostly_generated&language=en&episodes=60-99"
                         ).get_data(as_text=True)
    assert f"/catalog/titles/{title.id}" in faceted
    assert f"/catalog/titles/{title.id}" not in client.get(
        "/catalog/?genre=revenge").get_data(as_text=True)
    page = client.get(f"/catalog/titles/{title.id}").get_data(as_text=True)
    assert 'data-testid="trailer"' in page
    assert "<script>alert(1)</script>" not in page
    if locale == "zh_Hans":  # the Chinese synopsis is shown, its markup inert
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Kuaishou" in page
    assert "黄浦影业" in page
    assert ('data-testid="compliance-CN">ready' in page) or ('data-testid="compliance-CN">就绪' in page)
    trailer = next(a for a in title.assets if a.kind == "trailer")
    video = client.get(f"/catalog/media/{trailer.id}", headers={"Range": "bytes=0-99"})
    assert video.status_code == 206
    assert len(video.data) == 100
    mec = client.get(f"/catalog/titles/{title.id}/mec.json").get_json()
    assert mec["CoreMetadata"][0]["Basic"]["WorkType"] == "Series"


def test_access_to_every_page(client, login, create_user, create_title, media):
    owner = create_user(kind="producer")
    other = create_user(kind="producer")
    buyer = create_user(kind="distributor", status="pending")
    admin = create_user(kind="platform", is_admin=True)
    draft = create_title(owner.organization, status="draft")
    published = create_title(owner.organization, status="published")
    with media["subtitle"].open("rb") as fh:
        from catalog import services

        published.status = "draft"
        doc = services.store_asset(published, kind="chain_of_title", stream=fh,
                                   filename="contract.pdf")
        master = services.store_asset(published, kind="subtitle", stream=media["subtitle"].open("rb"),
                                      filename="ep1.srt", language="en",
                                      episode=published.episodes[0])
        published.status = "published"
        db.session.commit()
    poster = published.poster
    d, p = draft.id, published.id
    ep = draft.episodes[0].id
    owner_only_get = [f"/catalog/titles/{d}/manage", f"/catalog/titles/{d}/edit",
                      f"/catalog/titles/{d}/provenance", f"/catalog/titles/{d}/copyright",
                      f"/catalog/titles/{d}/episodes/{ep}/provenance",
                      f"/catalog/titles/{d}", f"/catalog/titles/{d}/mec.json",
                      f"/catalog/media/{draft.poster.id}", f"/catalog/media/{master.id}",
                      f"/catalog/media/{doc.id}/download"]
    owner_only_post = [f"/catalog/titles/{d}/submit", f"/catalog/titles/{p}/withdraw",
                       f"/catalog/titles/{d}/episodes", f"/catalog/titles/{d}/assets",
                       f"/catalog/titles/{d}/episodes/{ep}/delete",
                       f"/catalog/titles/{d}/assets/{draft.poster.id}/delete"]
    public = [f"/catalog/titles/{p}", f"/catalog/media/{poster.id}", "/catalog/",
              f"/catalog/titles/{p}/mec.json"]
    # signed out: everything redirects to sign-in
    for path in [*owner_only_get, *public]:
        assert client.get(path).status_code == 302, path
    for who in (other, buyer):
        login(who)
        for path in owner_only_get:
            assert client.get(path).status_code == 404, (who, path)
        for path in owner_only_post:
            assert _post(client, path, {}).status_code == 404, (who, path)
        for path in public:
            assert client.get(path).status_code == 200, (who, path)
        assert _post(client, f"/catalog/titles/{d}/review", {"decision": "publish"}
                     ).status_code == 403
        assert client.get("/catalog/review").status_code == 403
        client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(buyer)
    assert client.get("/catalog/mine").status_code == 403
    assert client.get("/catalog/titles/new").status_code == 403
    assert client.get("/catalog/import").status_code == 403
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(owner)
    for path in owner_only_get:
        assert client.get(path).status_code in (200, 302), path
    assert client.get("/catalog/review").status_code == 403
    assert draft.original_title in client.get("/catalog/mine").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(admin)
    assert client.get(f"/catalog/titles/{d}").status_code == 200
    assert client.get("/catalog/review").status_code == 200
    assert client.get(f"/catalog/media/{doc.id}/download").status_code == 302


def test_deal_access_hook_opens_documents_to_a_buyer(app, client, login, create_user,
                                                      create_title, media):
    from catalog import services

    buyer = create_user(kind="distributor")
    t = create_title(status="draft")
    with media["subtitle"].open("rb") as fh:
        doc = services.store_asset(t, kind="chain_of_title", stream=fh, filename="chain.pdf")
    t.status = "published"
    db.session.commit()
    login(buyer)
    assert client.get(f"/catalog/media/{doc.id}/download").status_code == 404
    page = client.get(f"/catalog/titles/{t.id}").get_data(as_text=True)
    assert "available after a deal is signed" in page
    check = lambda user, title: user.id == buyer.id and title.id == t.id  # noqa: E731
    app.extensions["pdx_catalog_deal_access"].append(check)
    try:
        assert client.get(f"/catalog/media/{doc.id}/download").status_code == 302
    finally:
        app.extensions["pdx_catalog_deal_access"].remove(check)


@pytest.mark.parametrize(("fixture", "filename", "message"), [
    ("fake", "ep1.mp4", "This is not a playable video"),
    ("truncated", "ep1.mp4", "truncated"),
    ("empty", "ep1.mp4", "The file is empty (0 bytes)."),
    ("video", "../../etc/passwd", "The file name must be a plain name, not a path"),
])
def test_bad_video_upload_over_http(client, login, create_user, create_title, media, fixture,
                                    filename, message, app):
    producer = create_user(kind="producer")
    t = create_title(producer.organization, status="draft")
    login(producer)
    manage = f"/catalog/titles/{t.id}/manage"
    before = len(t.assets)
    with media[fixture].open("rb") as fh:
        resp = client.post(f"/catalog/titles/{t.id}/assets", data={
            "csrf_token": _token(client, manage), "kind": "master",
            "episode_id": str(t.episodes[0].id), "language": "", "file": (fh, filename)},
            headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 422
    assert message in resp.get_json()["errors"]["file"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(MediaAsset).where(
        MediaAsset.title_id == t.id)) == before


def test_upload_over_the_size_limit(client, login, create_user, create_title, media, app):
    producer = create_user(kind="producer")
    t = create_title(producer.organization, status="draft")
    login(producer)
    token = _token(client, f"/catalog/titles/{t.id}/manage")
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    try:
        with media["video"].open("rb") as fh:
            resp = client.post(f"/catalog/titles/{t.id}/assets", data={
                "csrf_token": token, "kind": "trailer", "episode_id": "", "language": "",
                "file": (fh, "big.mp4")}, headers={"X-Requested-With": "XMLHttpRequest"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = app.config["PDX_MAX_UPLOAD_MB"] * 1024 * 1024
    assert resp.status_code == 413
    assert "larger than the limit" in resp.get_json()["errors"]["file"]


def test_plain_form_upload_redirects_with_message(client, login, create_user, create_title,
                                                  media):
    producer = create_user(kind="producer")
    t = create_title(producer.organization, status="draft")
    login(producer)
    manage = f"/catalog/titles/{t.id}/manage"
    with media["fake"].open("rb") as fh:
        resp = client.post(f"/catalog/titles/{t.id}/assets", data={
            "csrf_token": _token(client, manage), "kind": "trailer", "episode_id": "",
            "language": "", "file": (fh, "t.mp4")}, follow_redirects=True)
    assert "This is not a playable video" in resp.get_data(as_text=True)


def test_title_form_errors_name_the_field(client, login, create_user):
    producer = create_user(kind="producer")
    login(producer)
    resp = _post(client, "/catalog/titles/new", {
        "original_title": "", "original_language": "xx-yy", "country": "CN",
        "aspect_ratio": "9:16", "loc_language[]": ["zz"], "loc_title[]": ["T"],
        "loc_synopsis[]": ["S"]}, page="/catalog/titles/new")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Enter the original title." in html
    assert "&#39;xx-yy&#39; is not a language code" in html
    assert "&#39;zz&#39; is not a language code" in html
    assert db.session.scalar(select(func.count()).select_from(Title)) == 0


def test_staff_return_with_comment_and_producer_sees_it(client, login, create_user,
                                                        create_title):
    producer = create_user(kind="producer")
    admin = create_user(kind="platform", is_admin=True)
    t = create_title(producer.organization, status="submitted")
    login(admin)
    assert _post(client, f"/catalog/titles/{t.id}/review", {"decision": "return", "comment": ""},
                 page="/catalog/review", follow_redirects=True).status_code == 200
    assert t.status == "submitted"  # a return needs a comment
    _post(client, f"/catalog/titles/{t.id}/review",
          {"decision": "return", "comment": "请补充英文简介"}, page="/catalog/review")
    assert t.status == "draft"
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(producer)
    page = client.get(f"/catalog/titles/{t.id}/manage").get_data(as_text=True)
    assert "请补充英文简介" in page


def test_dashboard_panels(client, login, create_user, create_title):
    producer = create_user(kind="producer")
    create_title(producer.organization, status="published", title="仪表盘短剧")
    login(producer)
    assert "List a new title" in client.get("/dashboard").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": _token(client, "/catalog/")})
    login(create_user(kind="distributor"))
    assert "仪表盘短剧" in client.get("/dashboard").get_data(as_text=True)


def test_browse_page_facets_and_pages(client, login, create_user, create_title, create_org):
    org = create_org(kind="producer")
    for i in range(26):
        create_title(org, title=f"分页测试剧{i:02d}", episodes=1)
    login(create_user(kind="distributor"))
    first = client.get("/catalog/?q=分页测试").get_data(as_text=True)
    assert "26 titles" in first
    assert 'rel="next"' in first
    second = client.get("/catalog/?q=分页测试&page=2").get_data(as_text=True)
    assert 'rel="prev"' in second
    assert second.count('class="tcard"') == 2


def test_trailer_without_artwork_gets_key_art_from_a_job(client, login, create_user,
                                                         create_title, media, jobs):
    producer = create_user(kind="producer")
    t = create_title(producer.organization, status="draft", poster=False)
    login(producer)
    manage = f"/catalog/titles/{t.id}/manage"
    with media["video"].open("rb") as fh:
        resp = client.post(f"/catalog/titles/{t.id}/assets", data={
            "csrf_token": _token(client, manage), "kind": "trailer", "episode_id": "",
            "language": "", "file": (fh, "trailer.mp4")},
            headers={"X-Requested-With": "XMLHttpRequest"})
    assert resp.status_code == 201
    assert jobs.names() == ["catalog.poster_from_trailer"]
    assert jobs.run_all() == ["done"]
    db.session.expire_all()
    assert t.poster is not None
    assert t.poster.kind == "key_art"
    assert t.poster.probe["format"] == "png"
    trailer_id = t.trailer.id
    from catalog.tasks import poster_from_trailer

    assert poster_from_trailer.apply(args=[trailer_id]).get() == "has artwork"
    assert poster_from_trailer.apply(args=[999999]).get() == "gone"


def test_reindex_command(app, create_title):
    t = create_title(title="重建索引测试")
    t.search_text = ""
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["catalog", "reindex"])
    assert result.exit_code == 0, result.output
    assert "重建索引测试" in t.search_text
