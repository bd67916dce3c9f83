"""The JSON API: tracks, QC and conversion of a file, translation jobs, exports, the
problem details for bad input, the OpenAPI document and access by organization."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from localization import services
from localization.models import TranslationJob
from marketplace.extensions import db
from tests.fixtures.localization import ZH_SEASON, srt_of


def _file(data: bytes, name: str, **form):
    return {"data": {"file": (io.BytesIO(data), name), **form},
            "content_type": "multipart/form-data"}


def test_api_story(api, producer, subtitle_title, zh_season_zip, jobs):
    caller = api(producer)
    tid = subtitle_title.id
    resp = caller.post(f"/api/v1/titles/{tid}/subtitles/season",
                       **_file(zh_season_zip, "season.zip"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["stored"] == 3
    assert body["mixed_encodings"] is True
    assert body["encodings"] == {"utf-8-sig": 1, "gb18030": 1, "utf-16-le": 1}

    tracks = caller.get(f"/api/v1/titles/{tid}/subtitles").get_json()
    assert [(t["episode"], t["qc"]["state"]) for t in tracks] == [
        (1, "passed"), (2, "failed"), (3, "failed")]
    failing = tracks[1]["id"]
    detail = caller.get(f"/api/v1/subtitles/tracks/{failing}").get_json()
    assert detail["qc_report"]["counts_by_code"] == {"gap_too_short": 2, "duration_too_short": 1}
    assert detail["revisions"][0]["encoding"] == "gb18030"
    assert len(detail["cues"]) == 6

    resp = caller.post(f"/api/v1/subtitles/tracks/{failing}/approve", json={})
    assert resp.status_code == 409
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["errors"][0]["field"] == "override_reason"

    fixed = caller.post(f"/api/v1/subtitles/tracks/{failing}/autofix").get_json()
    assert fixed["revision"] == 2
    assert {f["code"] for f in fixed["fixes"]} == {"gap_widened", "extended"}
    assert fixed["track"]["qc"]["passed"] is True
    for track in caller.get(f"/api/v1/titles/{tid}/subtitles").get_json():
        if not track["qc"]["passed"]:
            caller.post(f"/api/v1/subtitles/tracks/{track['id']}/autofix")
        resp = caller.post(f"/api/v1/subtitles/tracks/{track['id']}/approve", json={})
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["status"] == "approved"

    resp = caller.post(f"/api/v1/titles/{tid}/translation-jobs",
                       json={"source_language": "zh-Hans", "target_languages": ["es", "en"]})
    assert resp.status_code == 202, resp.get_json()
    created = resp.get_json()
    assert [j["status"] for j in created] == ["queued", "queued"]
    jobs.run_all()
    db.session.expire_all()
    job = caller.get(f"/api/v1/translation-jobs/{created[0]['id']}").get_json()
    assert job["status"] == "succeeded"
    assert job["percent"] == 100

    en = caller.get(f"/api/v1/titles/{tid}/subtitles?language=en").get_json()
    assert [t["status"] for t in en] == ["in_review"] * 3
    edited = caller.post(f"/api/v1/subtitles/tracks/{en[0]['id']}/edits",
                         json={"texts": {"1": "Hi, I'm Lin Wan'er."}}).get_json()
    assert edited["origin"] == "post_edited"
    assert edited["cues"][0]["text"] == "Hi, I'm Lin Wan'er."
    for lang in ("en", "es"):
        for t in caller.get(f"/api/v1/titles/{tid}/subtitles?language={lang}").get_json():
            caller.post(f"/api/v1/subtitles/tracks/{t['id']}/approve",
                        json={"override_reason": "pseudo text"})

    resp = caller.post(f"/api/v1/titles/{tid}/subtitle-exports",
                       json={"languages": ["es", "en"], "formats": ["srt", "vtt", "ttml"]})
    assert resp.status_code == 201, resp.get_json()
    export = resp.get_json()
    assert export["file_count"] == 18
    zipped = caller.get(export["url"])
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        assert len(archive.namelist()) == 19


def test_upload_one_file_and_its_errors(api, producer, subtitle_title):
    caller = api(producer)
    url = f"/api/v1/titles/{subtitle_title.id}/subtitles"
    resp = caller.post(url, **_file(srt_of(ZH_SEASON[1], "utf-16"), "E001.srt",
                                    episode="1", language="zh-Hans"))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["encoding"] == "utf-16-le"
    assert body["track"]["qc"]["passed"] is True
    assert body["created"] is True

    resp = caller.post(url, **_file(b"1\n00:00:04,000 --> 00:00:02,000\nx\n", "E002.srt",
                                    episode="2", language="zh-Hans"))
    assert resp.status_code == 422
    problem = resp.get_json()
    assert problem["line"] == 2
    assert problem["errors"][0]["field"] == "file"

    resp = caller.post(url, **_file(srt_of(ZH_SEASON[1]), "E002.srt", episode="2",
                                    language="chinese"))
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["field"] == "language"

    resp = caller.post(url, **_file(srt_of(ZH_SEASON[1]), "E002.srt", episode="2",
                                    language="en", kind="karaoke"))
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["field"] == "kind"

    resp = caller.post(url, data={"episode": "2", "language": "en"},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["field"] == "file"

    resp = caller.post(url, **_file(srt_of(ZH_SEASON[1]), "E009.srt", episode="9",
                                    language="en"))
    assert resp.status_code == 400
    assert resp.get_json()["errors"][0]["field"] == "episode"


def test_qc_a_file_without_storing(api, producer):
    caller = api(producer)
    clean = caller.post("/api/v1/subtitles/qc",
                        **_file(srt_of(ZH_SEASON[1], "gb18030"), "a.srt", language="zh-Hans",
                                layout="vertical"))
    assert clean.status_code == 200
    assert clean.get_json()["passed"] is True
    assert clean.get_json()["encoding"] == "gb18030"
    failing = caller.post("/api/v1/subtitles/qc",
                          **_file(srt_of(ZH_SEASON[2]), "b.srt", language="zh-Hans"))
    assert failing.status_code == 200
    assert failing.get_json()["passed"] is False
    assert failing.get_json()["report"]["error_count"] == 3
    junk = caller.post("/api/v1/subtitles/qc",
                       **_file(bytes(range(256)) * 8, "junk.srt", language="zh-Hans"))
    assert junk.status_code == 422
    assert junk.get_json()["line"] == 1
    missing = caller.post("/api/v1/subtitles/qc", **_file(srt_of(ZH_SEASON[1]), "a.srt"))
    assert missing.status_code == 400
    assert missing.get_json()["errors"][0]["field"] == "language"


def test_convert_a_file(api, producer):
    caller = api(producer)
    resp = caller.post("/api/v1/subtitles/convert",
                       **_file(srt_of(ZH_SEASON[1], "gb18030"), "E001.srt", to="vtt",
                               offset_ms="500"))
    assert resp.status_code == 200
    assert resp.mimetype == "text/vtt"
    text = resp.get_data(as_text=True)
    assert text.startswith("WEBVTT")
    assert "00:00:01.500 -->" in text
    assert resp.headers["X-Source-Encoding"] == "gb18030"
    ttml = caller.post("/api/v1/subtitles/convert",
                       **_file(srt_of(ZH_SEASON[1]), "E001.srt", to="ttml", language="zh-Hans",
                               fps_from="25", fps_to="24"))
    assert b'xml:lang="zh-Hans"' in ttml.data
    bad = caller.post("/api/v1/subtitles/convert",
                      **_file(srt_of(ZH_SEASON[1]), "E001.srt", to="vtt", fps_from="25"))
    assert bad.status_code == 400
    assert bad.get_json()["errors"][0]["field"] == "fps_to"


def test_jobs_and_glossary_api(api, producer, subtitle_title, approved_season, jobs,
                               chat_server, app, monkeypatch):
    caller = api(producer)
    tid = subtitle_title.id
    resp = caller.post(f"/api/v1/titles/{tid}/glossary",
                       json={"source_term": "林婉儿", "target_language": "en",
                             "target_term": "Lin Wan'er"})
    assert resp.status_code == 201
    assert caller.get(f"/api/v1/titles/{tid}/glossary").get_json()[0]["target_term"] == \
        "Lin Wan'er"
    chat_server.mode = "slow"
    chat_server.delay = 1.0
    resp = caller.post(f"/api/v1/titles/{tid}/translation-jobs",
                       json={"source_language": "zh-Hans", "target_languages": ["en"],
                             "provider": "openai"})
    job_id = resp.get_json()[0]["id"]
    again = caller.post(f"/api/v1/titles/{tid}/translation-jobs",
                        json={"source_language": "zh-Hans", "target_languages": ["en"]})
    assert again.status_code == 409
    monkeypatch.setitem(app.config, "PDX_TRANSLATION_TIMEOUT", 0.3)
    jobs.run_all()
    db.session.expire_all()
    failed = caller.get(f"/api/v1/translation-jobs/{job_id}").get_json()
    assert failed["status"] == "failed"
    assert "timeout" in failed["error"]
    assert services.tracks_of(subtitle_title, "en") == []
    chat_server.mode = "ok"
    assert caller.post(f"/api/v1/translation-jobs/{job_id}/retry").status_code == 202
    assert caller.post(f"/api/v1/translation-jobs/{job_id}/retry").status_code == 409
    jobs.run_all()
    db.session.expire_all()
    assert db.session.get(TranslationJob, job_id).status == "succeeded"
    bad = caller.post(f"/api/v1/titles/{tid}/translation-jobs",
                      json={"source_language": "zh-Hans", "target_languages": ["xx-YY"]})
    assert bad.status_code == 400
    assert bad.get_json()["errors"][0]["field"] == "target_languages"
    entry_id = caller.get(f"/api/v1/titles/{tid}/glossary").get_json()[0]["id"]
    assert caller.delete(f"/api/v1/glossary/{entry_id}").status_code == 204


def test_openapi_documents_the_subtitle_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/subtitles/qc", "/api/v1/subtitles/convert",
                 "/api/v1/titles/{title_id}/subtitles", "/api/v1/translation-jobs/{job_id}",
                 "/api/v1/titles/{title_id}/subtitle-exports"):
        assert path in paths, path
    upload = paths["/api/v1/titles/{title_id}/subtitles"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


@pytest.mark.parametrize("kind", ["producer", "distributor"])
def test_api_access_by_organization(api, create_user, subtitle_title, approved_season, kind):
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["en"])
    entry = services.add_glossary_entry(subtitle_title, source_term="顾总",
                                        target_language="en", target_term="Mr. Gu")
    db.session.commit()
    tid, track, jid, eid = subtitle_title.id, approved_season[0].id, job.id, entry.id
    caller = api(create_user(kind=kind))
    for method, url, kwargs in [
        ("get", f"/api/v1/titles/{tid}/subtitles", {}),
        ("post", f"/api/v1/titles/{tid}/subtitles",
         _file(srt_of(ZH_SEASON[1]), "E001.srt", episode="1", language="en")),
        ("post", f"/api/v1/titles/{tid}/subtitles/season", _file(b"PK", "x.zip")),
        ("get", f"/api/v1/subtitles/tracks/{track}", {}),
        ("post", f"/api/v1/subtitles/tracks/{track}/qc", {"json": {}}),
        ("post", f"/api/v1/subtitles/tracks/{track}/autofix", {}),
        ("post", f"/api/v1/subtitles/tracks/{track}/edits", {"json": {"texts": {"1": "x"}}}),
        ("post", f"/api/v1/subtitles/tracks/{track}/approve", {"json": {}}),
        ("get", f"/api/v1/titles/{tid}/translation-jobs", {}),
        ("post", f"/api/v1/titles/{tid}/translation-jobs",
         {"json": {"source_language": "zh-Hans", "target_languages": ["es"]}}),
        ("get", f"/api/v1/translation-jobs/{jid}", {}),
        ("post", f"/api/v1/translation-jobs/{jid}/retry", {}),
        ("get", f"/api/v1/titles/{tid}/glossary", {}),
        ("post", f"/api/v1/titles/{tid}/glossary",
         {"json": {"source_term": "a", "target_language": "en", "target_term": "b"}}),
        ("delete", f"/api/v1/glossary/{eid}", {}),
        ("get", f"/api/v1/titles/{tid}/subtitle-exports", {}),
        ("post", f"/api/v1/titles/{tid}/subtitle-exports", {"json": {}}),
    ]:
        resp = getattr(caller, method)(url, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code)
    assert db.session.scalar(select(TranslationJob).where(TranslationJob.target_language == "es")) \
        is None


def test_api_needs_a_token(client, subtitle_title):
    resp = client.get(f"/api/v1/titles/{subtitle_title.id}/subtitles")
    assert resp.status_code == 401
