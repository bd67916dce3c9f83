"""The browser pages, end to end through the test client: the issue's "done when" story,
bad uploads, the review editor, and access by organization."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select

from localization import services
from localization.models import GlossaryEntry, SubtitleTrack, TranslationJob
from marketplace.extensions import db
from tests.fixtures.localization import ZH_SEASON, srt_of


def _post(client, token, path, data=None, files=None):
    body = {"csrf_token": token, **(data or {})}
    for name, (content, filename) in (files or {}).items():
        body[name] = (io.BytesIO(content), filename)
    return client.post(path, data=body, content_type="multipart/form-data")


def _run(jobs):
    results = jobs.run_all()
    db.session.expire_all()
    return results


def test_done_when_story(client, login, csrf_token, producer, subtitle_title, zh_season_zip,
                         jobs):
    """A producer uploads a Chinese season, QC flags and fixes it, Spanish and English
    translations run with progress, a reviewer approves them in the editor, and the export
    ZIP holds SRT, WebVTT and IMSC for both."""
    login(producer)
    tid = subtitle_title.id
    page = client.get("/subtitles/").get_data(as_text=True)
    assert "霸道总裁爱上我" in page
    token = csrf_token(f"/subtitles/titles/{tid}")

    # Upload the season: each file's encoding is reported; QC flags two episodes.
    resp = _post(client, token, f"/subtitles/titles/{tid}/upload-zip",
                 files={"file": (zh_season_zip, "season1.zip")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "gb18030" in html
    assert "utf-16-le" in html
    assert 'data-testid="mixed-encodings"' in html
    assert "3 files stored, 0 refused" in html
    page = client.get(f"/subtitles/titles/{tid}").get_data(as_text=True)
    assert re.search(r'data-testid="summary-zh-Hans">.*?<span class="stat">1/3</span>', page, re.S)
    assert "gap_too_short" in page  # issues by code
    assert "E003" in page  # among the worst offenders

    # Autofix the failing tracks: new revisions, originals kept.
    resp = _post(client, token, f"/subtitles/titles/{tid}/season",
                 {"action": "autofix", "language": "zh-Hans"})
    assert resp.status_code == 303
    tracks = services.tracks_of(subtitle_title, "zh-Hans")
    assert [t.current_revision for t in tracks] == [1, 2, 2]
    assert all(t.qc_passed for t in tracks)
    track_page = client.get(f"/subtitles/tracks/{tracks[1].id}").get_data(as_text=True)
    assert "gap_widened" in track_page  # the fixes are listed
    assert "<svg" in track_page  # the reading-speed chart
    assert 'class="limit"' in track_page

    _post(client, token, f"/subtitles/titles/{tid}/season",
          {"action": "approve", "language": "zh-Hans"})
    assert {t.status for t in services.tracks_of(subtitle_title, "zh-Hans")} == {"approved"}

    # A glossary term, then Spanish and English through the jobs page.
    _post(client, token, f"/subtitles/titles/{tid}/glossary",
          {"source_term": "林婉儿", "target_language": "es", "target_term": "Lin Wan'er"})
    resp = _post(client, token, f"/subtitles/titles/{tid}/translations",
                 {"source_language": "zh-Hans", "target_languages": ["es", "en"]})
    assert resp.status_code == 303
    job_ids = [j.id for j in db.session.scalars(select(TranslationJob).order_by(TranslationJob.id))]
    status = client.get(f"/subtitles/jobs/{job_ids[0]}.json").get_json()
    assert status["status"] == "queued"
    assert status["percent"] == 0
    jobs_page = client.get(f"/subtitles/titles/{tid}/translations").get_data(as_text=True)
    assert 'data-active="1"' in jobs_page  # the page polls these rows
    assert _run(jobs) == ["succeeded", "succeeded"]
    status = client.get(f"/subtitles/jobs/{job_ids[0]}.json").get_json()
    assert status == {"id": job_ids[0], "status": "succeeded", "done": 17, "total": 17,
                      "percent": 100, "error": None, "attempts": 1, "target_language": "es"}

    # A reviewer edits and approves in the editor.
    en = services.tracks_of(subtitle_title, "en")
    assert [t.status for t in en] == ["in_review"] * 3
    editor = client.get(f"/subtitles/tracks/{en[0].id}/review").get_data(as_text=True)
    assert "你好，我是林婉儿。" in editor  # the source side
    assert 'name="text-1"' in editor
    assert "Ctrl" in editor
    resp = _post(client, token, f"/subtitles/tracks/{en[0].id}/review",
                 {"text-1": "Hi, I'm Lin Wan'er.", "focus": "1"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("#event-1")
    track = db.session.get(SubtitleTrack, en[0].id)
    assert track.current_revision == 2
    assert track.origin == "post_edited"
    for lang in ("en", "es"):
        for t in services.tracks_of(subtitle_title, lang):
            data = {"next": f"/subtitles/tracks/{t.id}/review"}
            if not t.qc_passed:
                data["override_reason"] = "pseudo-localized test text"
            resp = _post(client, token, f"/subtitles/tracks/{t.id}/approve", data)
            assert resp.headers["Location"].endswith(f"/subtitles/tracks/{t.id}/review")
    assert {t.status for t in services.tracks_of(subtitle_title)} == {"approved"}

    # Export both languages in the three formats and download through the signed link.
    resp = _post(client, token, f"/subtitles/titles/{tid}/export",
                 {"languages": ["es", "en"], "formats": ["srt", "vtt", "ttml"],
                  "approved_only": "1", "offset_ms": "0"})
    assert resp.status_code == 303
    export_page = client.get(f"/subtitles/titles/{tid}/export").get_data(as_text=True)
    link = re.search(r'href="(/files\?[^"]+)"', export_page).group(1).replace("&amp;", "&")
    download = client.get(link)
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = {n.split("/", 1)[1] for n in archive.namelist()}
        manifest = json.loads(archive.read(next(n for n in archive.namelist()
                                                if n.endswith("manifest.json"))))
        ttml = archive.read(next(n for n in archive.namelist() if n.endswith("E001.en.ttml")))
    for lang in ("es", "en"):
        for ep in (1, 2, 3):
            for fmt in ("srt", "vtt", "ttml"):
                assert f"E{ep:03d}.{lang}.{fmt}" in names
    assert len(manifest["files"]) == 18
    assert {(f["language"], f["origin"]) for f in manifest["files"]} == {
        ("en", "machine"), ("en", "post_edited"), ("es", "machine")}
    assert b"imsc1.1" in ttml  # the IMSC 1.1 profile designator
    assert b"Hi, I&apos;m Lin Wan'er." in ttml or b"Hi, I'm Lin Wan'er." in ttml


def test_single_upload_and_unreadable_file(client, login, csrf_token, producer, subtitle_title):
    login(producer)
    tid = subtitle_title.id
    episode = subtitle_title.episodes[0]
    token = csrf_token(f"/subtitles/titles/{tid}")
    bad = b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:04,000\nbackwards\n"
    resp = _post(client, token, f"/subtitles/titles/{tid}/upload",
                 {"episode_id": str(episode.id), "language": "zh-Hans", "kind": "subtitle"},
                 {"file": (bad, "E001.srt")})
    assert resp.status_code == 422
    assert "line 6" in resp.get_data(as_text=True)
    resp = _post(client, token, f"/subtitles/titles/{tid}/upload",
                 {"episode_id": str(episode.id), "language": "Chinese", "kind": "subtitle"},
                 {"file": (srt_of(ZH_SEASON[1]), "E001.srt")})
    assert resp.status_code == 400
    assert "BCP-47" in resp.get_data(as_text=True)
    gbk = srt_of(ZH_SEASON[1], "gbk")
    resp = _post(client, token, f"/subtitles/titles/{tid}/upload",
                 {"episode_id": str(episode.id), "language": "zh-CN", "kind": "sdh"},
                 {"file": (gbk, "E001.srt")})
    assert resp.status_code == 303
    track = db.session.scalar(select(SubtitleTrack))
    assert (track.language, track.kind) == ("zh-CN", "sdh")
    assert track.revision.encoding == "gb18030"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "gb18030" in page
    vtt = client.get(f"/subtitles/tracks/{track.id}/subtitles.vtt?inline=1")
    assert vtt.mimetype == "text/vtt"
    assert vtt.get_data(as_text=True).startswith("WEBVTT")


def test_zip_with_escaping_paths_is_refused(client, login, csrf_token, producer, subtitle_title):
    login(producer)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../E001.zh-Hans.srt", srt_of(ZH_SEASON[1]))
    token = csrf_token(f"/subtitles/titles/{subtitle_title.id}")
    resp = _post(client, token, f"/subtitles/titles/{subtitle_title.id}/upload-zip",
                 files={"file": (buffer.getvalue(), "evil.zip")})
    assert resp.status_code == 422
    assert "outside" in resp.get_data(as_text=True)
    assert db.session.scalar(select(SubtitleTrack.id)) is None


def test_review_editor_plays_the_episode_master(client, login, producer, subtitle_title,
                                                create_track, media):
    from catalog import services as catalog

    episode = subtitle_title.episodes[0]
    with media["video"].open("rb") as fh:
        catalog.store_asset(subtitle_title, kind="master", stream=fh, filename="ep1.mp4",
                            episode=episode)
    track = create_track(episode)
    login(producer)
    page = client.get(f"/subtitles/tracks/{track.id}/review").get_data(as_text=True)
    assert '<video id="player"' in page
    assert "/files?key=catalog" in page  # a signed link to the master
    assert f"/subtitles/tracks/{track.id}/subtitles.vtt?inline=1" in page  # the <track>
    assert 'data-start="1000"' in page


def test_approve_with_errors_needs_a_reason(client, login, csrf_token, producer,
                                            subtitle_title, create_track):
    track = create_track(subtitle_title.episodes[1], ZH_SEASON[2])
    login(producer)
    token = csrf_token(f"/subtitles/tracks/{track.id}")
    resp = _post(client, token, f"/subtitles/tracks/{track.id}/approve")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "QC found 3 errors" in page
    assert db.session.get(SubtitleTrack, track.id).status == "draft"
    _post(client, token, f"/subtitles/tracks/{track.id}/approve",
          {"override_reason": "the buyer retimes anyway"})
    assert db.session.get(SubtitleTrack, track.id).status == "approved"


def test_failed_job_shows_the_reason_and_can_be_retried(client, login, csrf_token, producer,
                                                        subtitle_title, approved_season,
                                                        chat_server, jobs):
    chat_server.mode = "garbage"
    login(producer)
    token = csrf_token(f"/subtitles/titles/{subtitle_title.id}/translations")
    _post(client, token, f"/subtitles/titles/{subtitle_title.id}/translations",
          {"source_language": "zh-Hans", "other_targets": "es-419", "provider": "openai"})
    assert _run(jobs) == ["failed"]
    page = client.get(f"/subtitles/titles/{subtitle_title.id}/translations").get_data(as_text=True)
    assert "not JSON" in page
    job = db.session.scalar(select(TranslationJob))
    chat_server.mode = "ok"
    resp = _post(client, token, f"/subtitles/jobs/{job.id}/retry")
    assert resp.status_code == 303
    assert _run(jobs) == ["succeeded"]
    assert len(services.tracks_of(subtitle_title, "es-419")) == 3


def test_translation_form_errors(client, login, csrf_token, producer, subtitle_title,
                                 create_track):
    create_track(subtitle_title.episodes[0])  # a draft source
    login(producer)
    token = csrf_token(f"/subtitles/titles/{subtitle_title.id}/translations")
    resp = _post(client, token, f"/subtitles/titles/{subtitle_title.id}/translations",
                 {"source_language": "zh-Hans", "target_languages": ["es"]})
    assert resp.status_code == 409
    assert "Approve the source subtitles first" in resp.get_data(as_text=True)


def test_pages_in_chinese(client, login, producer, subtitle_title, create_track):
    producer.locale = "zh_Hans"
    db.session.commit()
    track = create_track(subtitle_title.episodes[0])
    login(producer)
    page = client.get(f"/subtitles/titles/{subtitle_title.id}").get_data(as_text=True)
    assert "上传" in page
    assert "中文 (简体)" in page  # language names in the viewer's language
    assert "审校" in client.get(f"/subtitles/tracks/{track.id}/review").get_data(as_text=True)


# --------------------------------------------------------------------------- access

def _urls(title_id: int, track_id: int, job_id: int, entry_id: int):
    gets = [f"/subtitles/titles/{title_id}", f"/subtitles/tracks/{track_id}",
            f"/subtitles/tracks/{track_id}/review", f"/subtitles/tracks/{track_id}/subtitles.srt",
            f"/subtitles/titles/{title_id}/translations", f"/subtitles/jobs/{job_id}.json",
            f"/subtitles/titles/{title_id}/glossary", f"/subtitles/titles/{title_id}/export"]
    posts = [f"/subtitles/titles/{title_id}/upload", f"/subtitles/titles/{title_id}/upload-zip",
             f"/subtitles/titles/{title_id}/season", f"/subtitles/tracks/{track_id}/qc",
             f"/subtitles/tracks/{track_id}/autofix", f"/subtitles/tracks/{track_id}/approve",
             f"/subtitles/tracks/{track_id}/review", f"/subtitles/titles/{title_id}/translations",
             f"/subtitles/jobs/{job_id}/retry", f"/subtitles/titles/{title_id}/glossary",
             f"/subtitles/glossary/{entry_id}/delete", f"/subtitles/titles/{title_id}/export"]
    return gets, posts


@pytest.fixture
def owned_things(subtitle_title, approved_season):
    services.add_glossary_entry(subtitle_title, source_term="顾总", target_language="en",
                                target_term="Mr. Gu")
    [job] = services.start_translation(subtitle_title, source_language="zh-Hans",
                                       target_languages=["en"])
    db.session.commit()
    entry = db.session.scalar(select(GlossaryEntry))
    return _urls(subtitle_title.id, approved_season[0].id, job.id, entry.id)


@pytest.mark.parametrize("kind", ["producer", "distributor"])
def test_other_organizations_get_404_everywhere(client, login, csrf_token, create_user,
                                                owned_things, kind):
    gets, posts = owned_things
    login(create_user(kind=kind))
    for url in gets:
        assert client.get(url).status_code == 404, url
    token = csrf_token("/dashboard")
    for url in posts:
        assert client.post(url, data={"csrf_token": token}).status_code == 404, url
    # Nothing changed.
    assert {t.status for t in db.session.scalars(select(SubtitleTrack))} == {"approved"}
    assert db.session.scalar(select(GlossaryEntry)) is not None


def test_admin_sees_and_anonymous_is_sent_to_sign_in(client, login, create_user, owned_things):
    gets, _posts = owned_things
    assert client.get(gets[0]).status_code == 302
    login(create_user(kind="platform", is_admin=True))
    for url in gets:
        assert client.get(url).status_code == 200, url


def test_index_lists_only_own_titles(client, login, create_user, subtitle_title):
    login(create_user(kind="producer"))
    page = client.get("/subtitles/").get_data(as_text=True)
    assert "霸道总裁爱上我" not in page
