"""The issue's "done when" story through the browser: a buyer watches a watermarked
screener, the producer sees who watched, and from the signed deal the buyer downloads a
complete, checksummed package with subtitles in two languages (separate files, then
burned in), the job progress visible throughout."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from html import unescape

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.notifications import Notification
from transcode import services
from transcode.marks import verify_watermark
from transcode.models import DeliveryPackage, JobStatus, Screener, ScreenerView, TranscodeJob
from transcode.probe import probe
from transcode.profiles import BUILTIN_PROFILES

pytestmark = pytest.mark.slow


def _post(client, csrf_token, path, data=None, page=None):
    token = csrf_token(page or path)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _download(client, url: str) -> bytes:
    resp = client.get(unescape(url))
    assert resp.status_code == 200, url
    return resp.get_data()


def _links(html: str) -> dict[str, str]:
    """path -> link of every file on a package page."""
    return {unescape(m.group(2)): unescape(m.group(1)) for m in re.finditer(
        r'<a href="([^"]+)" data-testid="file-link">([^<]+)</a>', html)}


@pytest.fixture
def tiny_fast(signed_deal, buyer_profile):
    return buyer_profile(signed_deal.world.buyer_a.organization, signed_deal.world.buyer_a,
                         fast=True)


def test_screener_watermarked_viewed_and_seen_by_the_producer(
        client, login, csrf_token, signed_deal, run_jobs, tmp_path, media):
    world = signed_deal.world
    tid = signed_deal.title.id
    login(world.buyer_a)
    title_page = client.get(f"/catalog/titles/{tid}").get_data(as_text=True)  # the catalog's page
    assert f'href="/screeners/titles/{tid}" data-testid="screener-link"' in title_page
    page = client.get(f"/screeners/titles/{tid}").get_data(as_text=True)
    assert 'data-testid="request-screener"' in page

    resp = _post(client, csrf_token, f"/screeners/titles/{tid}")
    assert resp.status_code == 303
    page = client.get(f"/screeners/titles/{tid}").get_data(as_text=True)
    assert 'data-testid="rendering"' in page
    assert 'role="progressbar"' in page
    screener = db.session.scalar(select(Screener).where(Screener.title_id == tid))
    status = client.get(f"/screeners/{screener.id}/status.json").get_json()
    assert status["status"] == "queued"
    assert status["ready"] is False

    # Asking again while it renders reuses it: one job, one screener.
    _post(client, csrf_token, f"/screeners/titles/{tid}")
    assert len(db.session.scalars(select(TranscodeJob).where(
        TranscodeJob.purpose == "screener")).all()) == 1

    run_jobs()
    screener = db.session.get(Screener, screener.id)
    assert screener.ready
    assert screener.watermark_text == f"Tropico Test · {screener.code}"
    assert any("mark checked" in n for n in screener.job.result["notes"])

    page = client.get(f"/screeners/titles/{tid}").get_data(as_text=True)
    match = re.search(r'<video [^>]*src="([^"]+)"', page)
    assert match, page
    video = tmp_path / "screener.mp4"
    video.write_bytes(_download(client, match.group(1)))
    # The player's link is the storage's signed, expiring download (the app's /files for
    # local storage), which answers range requests (seeking).
    assert unescape(match.group(1)).startswith("/files?key=")
    ranged = client.get(unescape(match.group(1)), headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206
    assert len(ranged.get_data()) == 100
    assert ranged.mimetype == "video/mp4"
    # the buyer's marked copy: no shared cache keeps it, no browser second-guesses its type
    assert ranged.headers["Cache-Control"] == "private, no-store"
    assert ranged.headers["X-Content-Type-Options"] == "nosniff"
    forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 64, unescape(match.group(1)))
    assert client.get(forged).status_code == 403
    # The mark is there: its box differs clearly from the same frame rendered without it.
    report = verify_watermark(str(video), str(media["video"]), BUILTIN_PROFILES["screener"],
                              screener.watermark_text)
    assert report.ok, report
    assert report.inside > 10 * max(report.outside, 0.1)
    assert probe(str(video)).display_height == 1280
    # One view for the buyer (a reload within minutes does not count twice).
    client.get(f"/screeners/titles/{tid}")
    views = db.session.scalars(select(ScreenerView)).all()
    assert [(v.organization_id, v.user_id) for v in views] == [
        (world.buyer_a.organization_id, world.buyer_a.id)]
    assert db.session.scalar(select(Notification.id).where(
        Notification.organization_id == world.buyer_a.organization_id,
        Notification.kind == "transcode.screener_ready"))

    # The producer sees who watched what, and when.
    client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    login(world.producer)
    page = client.get(f"/screeners/titles/{tid}/viewers").get_data(as_text=True)
    assert "Tropico Test" in page
    assert '<td data-testid="view-count">1</td>' in page
    assert "Lucas Oliveira" in page
    assert "Tropico Test" in client.get("/screeners").get_data(as_text=True)
    title_page = client.get(f"/catalog/titles/{tid}").get_data(as_text=True)
    assert "1 buyer organizations asked for screeners; 1 views." in title_page
    assert 'data-testid="viewers-link"' in title_page
    assert "Tropico Test" in client.get("/dashboard").get_data(as_text=True)


def test_delivery_sidecar_package_is_complete_and_checksummed(
        client, login, csrf_token, signed_deal, jobs, run_jobs, tmp_path):
    world, deal = signed_deal.world, signed_deal.deal
    login(world.producer)
    page = client.get(f"/deliveries/deal/{deal.id}").get_data(as_text=True)
    assert "tiny_mp4" in page  # the buyer's own profile is offered
    resp = _post(client, csrf_token, f"/deliveries/deal/{deal.id}",
                 {"profile": "tiny_mp4", "subtitles": "sidecar"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    package = db.session.scalar(select(DeliveryPackage).where(DeliveryPackage.deal_id == deal.id))
    assert package.languages == ["en", "zh-Hans"]
    assert package.episodes == [1, 2, 3]
    assert len(package.jobs) == 4  # three episodes and the stills

    # Never ready while parts run: one part done, the page shows progress and no files.
    name, args, kwargs = jobs.pending.pop(0)
    app_celery = client.application.extensions["celery"]
    assert app_celery.tasks[name].apply(args=args).get() == "succeeded"
    assert jobs.names().count("transcode.finish_package") == 1
    jobs.pending.remove(next(j for j in jobs.pending if j[0] == "transcode.finish_package"))
    assert services.finish_package(package.id) == "waiting"
    status = client.get(f"/deliveries/{package.id}/status.json").get_json()
    assert status["status"] == "assembling"
    assert 0 < status["percent"] < 100
    assert [p["status"] for p in status["parts"]].count("succeeded") == 1
    page = client.get(f"/deliveries/{package.id}").get_data(as_text=True)
    assert 'data-testid="files"' not in page
    assert "data-poll=" in page

    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    assert package.status == "ready", package.error

    client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    login(world.buyer_a)
    page = client.get(f"/deliveries/{package.id}").get_data(as_text=True)
    links = _links(page)
    expected = {f"video/E00{n}.tiny_mp4.mp4" for n in (1, 2, 3)}
    expected |= {f"subtitles/E00{n}.{lang}.{fmt}" for n in (1, 2, 3) for lang in ("en", "zh-Hans")
                 for fmt in ("srt", "vtt", "ttml")}
    expected |= {"subtitles/manifest.json", "metadata/mec.json", "metadata/avails.xlsx",
                 "artwork/poster.png", "artwork/E001.stills/poster.jpg", "manifest.json",
                 "checksums.sha256", "checksums.md5"}
    assert expected <= set(links), sorted(expected - set(links))
    assert sum(p.startswith("artwork/E001.stills/thumbnails/") for p in links) == 10

    # Every file downloads and matches the checksums the page and the manifest list.
    data = {path: _download(client, url) for path, url in links.items()}
    manifest = json.loads(data["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(links) - {"manifest.json", "checksums.sha256", "checksums.md5"}
    for path, content in data.items():
        if path in listed:
            assert hashlib.sha256(content).hexdigest() == listed[path]["sha256"], path
            assert hashlib.md5(content, usedforsecurity=False).hexdigest() == listed[path]["md5"]
            assert len(content) == listed[path]["size"]
    sums = dict(reversed(line.split("  ", 1)) for line in data["checksums.sha256"].decode().splitlines())
    assert set(sums) == set(links) - {"checksums.sha256", "checksums.md5"}
    assert all(hashlib.sha256(data[p]).hexdigest() == h for p, h in sums.items())
    md5s = dict(reversed(line.split("  ", 1)) for line in data["checksums.md5"].decode().splitlines())
    assert all(hashlib.md5(data[p], usedforsecurity=False).hexdigest() == h for p, h in md5s.items())
    assert manifest["deal"] == deal.number
    assert manifest["languages"] == ["en", "zh-Hans"]

    # Metadata: MEC-shaped JSON for the series and its episodes; EMA avails rows.
    mec = json.loads(data["metadata/mec.json"])
    assert [e["Basic"]["WorkType"] for e in mec["CoreMetadata"]] == ["Series"] + ["Episode"] * 3
    assert data["metadata/avails.xlsx"][:2] == b"PK"
    assert "Hello, I'm Lin." in data["subtitles/E001.en.srt"].decode()
    assert "你好" in data["subtitles/E002.zh-Hans.vtt"].decode()

    # The videos: the buyer's profile, the AI labels China asks for, read back.
    video = tmp_path / "E001.mp4"
    video.write_bytes(data["video/E001.tiny_mp4.mp4"])
    info = probe(str(video))
    assert (info.display_width, info.display_height) == (180, 320)
    assert info.aigc["ContentPropagator"] == "Pudong Drama Exchange"
    assert info.aigc["PropagateID"] == deal.number
    for job in package.jobs:
        if job.profile_name == "tiny_mp4":
            assert job.result["labels"]["explicit_expected"] is True
            assert job.result["labels"]["ok"] is True
    assert db.session.scalar(select(Notification.id).where(
        Notification.organization_id == world.buyer_a.organization_id,
        Notification.kind == "transcode.package_ready"))

    # The API lists the same files with expiring links; so does a plain list for wget -i.
    api_files = client.get(f"/api/v1/packages/{package.id}/files").get_json()
    assert {f["path"] for f in api_files} == set(links)
    listed_links = client.get(f"/deliveries/{package.id}/links.txt").get_data(as_text=True)
    assert len(listed_links.split()) == len(links)
    assert all("expires=" in link for link in listed_links.split())

    # The producer sends it again: the buyer is told, and the page gives fresh links.
    client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    login(world.producer)
    page = client.get(f"/deliveries/{package.id}").get_data(as_text=True)
    assert 'data-testid="resend"' in page
    resp = _post(client, csrf_token, f"/deliveries/{package.id}/resend",
                 page=f"/deliveries/{package.id}")
    assert resp.status_code == 303
    package = db.session.get(DeliveryPackage, package.id)
    assert package.resent_count == 1
    assert db.session.scalar(select(Notification.id).where(
        Notification.organization_id == world.buyer_a.organization_id,
        Notification.kind == "transcode.package_resent"))


def test_delivery_with_burned_subtitles_in_two_languages(
        client, login, csrf_token, signed_deal, tiny_fast, run_jobs, tmp_path):
    world, deal = signed_deal.world, signed_deal.deal
    login(world.producer)
    resp = _post(client, csrf_token, f"/deliveries/deal/{deal.id}",
                 {"profile": "tiny_fast", "subtitles": "burn", "languages": "en, zh-Hans"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    package = db.session.scalar(select(DeliveryPackage).where(DeliveryPackage.deal_id == deal.id))
    assert len(package.jobs) == 3 * 2 + 1
    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    assert package.status == "ready", package.error
    paths = {f.path for f in package.files}
    assert {"video/E002.en.tiny_fast.mp4", "video/E002.zh-Hans.tiny_fast.mp4"} <= paths
    assert not any(p.startswith("subtitles/") for p in paths)

    # The subtitles are in the picture: the English and the Chinese copies differ in the
    # subtitle area at 0.5 s (the first cue), and not in the top half.
    frames = {}
    for lang in ("en", "zh-Hans"):
        row = next(f for f in package.files if f.path == f"video/E001.{lang}.tiny_fast.mp4")
        path = tmp_path / f"{lang}.mp4"
        path.write_bytes(_download(client, services.file_url(row.storage_key, "x.mp4")))
        frames[lang] = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-ss", "0.5", "-i", str(path), "-frames:v", "1",
             "-vf", "format=gray", "-f", "rawvideo", "pipe:1"],
            capture_output=True, check=True).stdout
    w, h = 180, 320

    def diff(rows):
        a, b = frames["en"], frames["zh-Hans"]
        return sum(abs(a[r * w + c] - b[r * w + c]) for r in rows for c in range(w)) / (len(rows) * w)

    top = diff(range(40, h // 2))  # below the AI label, above the subtitles
    bottom = diff(range(int(h * 0.6), int(h * 0.9)))
    assert bottom > 3 * top + 2, (top, bottom)


def test_a_failed_part_fails_the_package_and_retry_completes_it(
        client, login, csrf_token, signed_deal, tiny_fast, run_jobs):
    from marketplace.storage import get_storage

    world, deal = signed_deal.world, signed_deal.deal
    storage = get_storage()
    master = signed_deal.masters[1]
    saved = b"".join(storage.iter_bytes(master.storage_key))
    storage.delete(master.storage_key)
    package = services.package_for_deal(deal.id, "tiny_fast", by=world.producer,
                                        subtitles="none")
    db.session.commit()
    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    assert package.status == "failed"
    assert "E002" in package.error
    assert "no longer in storage" in package.error
    assert package.files == []
    login(world.buyer_a)
    assert client.get(f"/api/v1/packages/{package.id}/files").status_code == 409
    page = client.get(f"/deliveries/{package.id}").get_data(as_text=True)
    assert 'data-testid="files"' not in page
    assert 'data-testid="package-error"' in page

    import io

    storage.save(master.storage_key, io.BytesIO(saved))
    services.retry_package(package, by=world.producer)
    db.session.commit()
    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    assert package.status == "ready", package.error
    assert {j.status for j in package.jobs} == {JobStatus.SUCCEEDED}


@pytest.mark.parametrize("failures", [1, 99])
def test_an_unforeseen_error_while_finishing_is_retried_then_fails_the_package(
        signed_deal, tiny_fast, run_jobs, monkeypatch, failures):
    """Never stuck "assembling": the finisher runs again after an error nobody planned
    for (here: the first N times the contents are gathered), and gives up with the
    reason if it keeps happening."""
    from transcode import tasks

    world, deal = signed_deal.world, signed_deal.deal
    real, calls = services._package_contents, []

    def flaky(package):
        calls.append(package.id)
        if len(calls) <= failures:
            raise RuntimeError("disk vanished")
        return real(package)

    monkeypatch.setattr(services, "_package_contents", flaky)
    package = services.package_for_deal(deal.id, "tiny_fast", by=world.producer, subtitles="none")
    db.session.commit()
    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    if failures == 1:
        assert package.status == "ready", package.error
        assert len(calls) == 2
    else:
        assert package.status == "failed"
        assert package.error == "internal error: RuntimeError: disk vanished"
        assert len(calls) == 1 + tasks.FINISH_RETRIES
    assert package.finalizing_at is None


def test_package_refuses_what_it_cannot_deliver(signed_deal, tiny_fast):
    deal = signed_deal.deal
    with pytest.raises(services.DeliveryError, match="No approved pt subtitles"):
        services.package_for_deal(deal.id, "tiny_fast", languages=["pt"])
    with pytest.raises(services.DeliveryError, match="Unknown delivery profile"):
        services.package_for_deal(deal.id, "no_such_profile")
    with pytest.raises(services.DeliveryError, match="video profile"):
        services.package_for_deal(deal.id, "stills")
    db.session.rollback()


def test_signature_prepares_the_delivery_when_configured(app, world, make_offer, store_asset,
                                                         media, jobs, monkeypatch):
    from licensing import services as licensing

    monkeypatch.setitem(app.config, "PDX_TRANSCODE_DELIVER_ON_SIGNATURE", 1)
    for ep in world.title.episodes:
        store_asset(world.title, media["video"], episode=ep)
    offer = make_offer(world.buyer_a, world.title, languages=None)
    deal = licensing.accept_offer(offer.id, by=world.producer)
    db.session.commit()
    licensing.sign_deal(deal.id, by=world.producer, name="Z", ip=None)
    db.session.commit()
    assert "transcode.prepare_delivery" not in jobs.names()  # one signature is not enough
    licensing.sign_deal(deal.id, by=world.buyer_a, name="L", ip=None)
    db.session.commit()
    assert jobs.names().count("transcode.prepare_delivery") == 1
    name, args, _kwargs = next(j for j in jobs.pending if j[0] == "transcode.prepare_delivery")
    package_id = app.extensions["celery"].tasks[name].apply(args=args).get()
    package = db.session.get(DeliveryPackage, package_id)
    assert package.deal_id == deal.id
    assert package.profile_name == "upload_mp4"
    assert package.status == "assembling"
    assert jobs.names().count("transcode.run_job") == 4  # queued for the workers


def test_hls_delivery_carries_subtitle_renditions(signed_deal, buyer_profile, run_jobs):
    world, deal = signed_deal.world, signed_deal.deal
    hls = {"name": "tiny_hls", "container": "hls",
           "video": {"codec": "h264", "width": 180, "height": 320, "profile": "high",
                     "preset": "superfast", "gop_seconds": 1},
           "audio": {"codec": "aac", "bitrate_kbps": 64},
           "subtitles": {"mode": "sidecar"},
           "ai_label": {"explicit": False, "implicit": True},
           "hls": {"rungs": [{"width": 90, "height": 160, "video_kbps": 100, "audio_kbps": 64},
                             {"width": 180, "height": 320, "video_kbps": 300,
                              "audio_kbps": 64}], "segment_seconds": 1},
           "faststart": False}
    buyer_profile(world.buyer_a.organization, world.buyer_a, **hls)
    package = services.package_for_deal(deal.id, "tiny_hls", by=world.producer)
    db.session.commit()
    run_jobs()
    package = db.session.get(DeliveryPackage, package.id)
    assert package.status == "ready", package.error
    paths = {f.path for f in package.files}
    for lang in ("en", "zh-Hans"):
        assert f"video/E001.tiny_hls/subs_{lang}/index.m3u8" in paths
        assert f"video/E001.tiny_hls/subs_{lang}/{lang}.vtt" in paths
    assert "video/E003.tiny_hls/master.m3u8" in paths
    assert "video/E003.tiny_hls/aigc.json" in paths
    assert any(p.startswith("video/E002.tiny_hls/180x320_300k/seg_") for p in paths)
    assert "subtitles/E001.en.vtt" in paths  # and as files beside the videos
