"""Delivery profiles (pages and API: built-ins, a buyer's own, errors naming the field)
and the commands: ``pdx transcode profiles``, ``pdx transcode reap``, ``pdx deliver``."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.db import utcnow
from marketplace.extensions import db
from tests.fixtures.transcode import TINY_PROFILE
from transcode.models import DeliveryPackage, DeliveryProfile, JobStatus, TranscodeJob


def test_profiles_page_lists_builtins_and_creates_from_the_form(client, login, csrf_token,
                                                                create_user):
    buyer = create_user(kind="distributor")
    login(buyer)
    page = client.get("/transcode/profiles").get_data(as_text=True)
    for name in ("mezzanine", "upload_mp4", "hls_ladder", "broadcast_r128", "screener", "stills"):
        assert f"<code>{name}</code>" in page
    token = csrf_token("/transcode/profiles")
    resp = client.post("/transcode/profiles", data={
        "csrf_token": token, "mode": "form", "name": "acme_720", "base": "upload_mp4",
        "width": "720", "height": "1280", "bitrate_kbps": "3500", "loudness": "ebu_r128",
        "explicit_label": "1"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    row = db.session.scalar(select(DeliveryProfile).where(DeliveryProfile.name == "acme_720"))
    assert row.organization_id == buyer.organization_id
    assert row.definition["video"]["width"] == 720
    assert row.definition["video"]["bitrate_kbps"] == 3500
    assert row.definition["audio"]["loudness"]["integrated"] == -23.0
    assert "acme_720" in client.get("/transcode/profiles").get_data(as_text=True)

    # An odd width: the error names the field, next to it.
    resp = client.post("/transcode/profiles", data={
        "csrf_token": token, "mode": "form", "name": "odd", "base": "upload_mp4", "width": "721"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "<code>video.width</code>" in html
    assert 'data-testid="error-width"' in html
    # JSON: a nested field, named by its path.
    bad = json.loads(json.dumps(TINY_PROFILE))
    bad["name"] = "bad_gop"
    bad["video"]["gop_seconds"] = 50
    resp = client.post("/transcode/profiles", data={
        "csrf_token": token, "mode": "json", "definition": json.dumps(bad)})
    assert resp.status_code == 400
    assert "<code>video.gop_seconds</code>" in resp.get_data(as_text=True)
    resp = client.post("/transcode/profiles", data={
        "csrf_token": token, "mode": "json", "definition": "{not json"})
    assert "Not valid JSON" in resp.get_data(as_text=True)


def test_profiles_api(api, create_user):
    buyer = create_user(kind="distributor")
    caller = api(buyer)
    listed = caller.get("/api/v1/transcode/profiles").get_json()
    assert {p["name"] for p in listed if p["builtin"]} == {
        "mezzanine", "upload_mp4", "hls_ladder", "broadcast_r128", "screener", "stills"}
    resp = caller.post("/api/v1/transcode/profiles", json={"definition": TINY_PROFILE})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["owner_org_id"] == buyer.organization_id
    assert caller.get("/api/v1/transcode/profiles/tiny_mp4").get_json()["definition"][
        "video"]["width"] == 180
    again = caller.post("/api/v1/transcode/profiles", json={"definition": TINY_PROFILE})
    assert again.status_code == 409
    builtin = caller.post("/api/v1/transcode/profiles",
                          json={"definition": {**TINY_PROFILE, "name": "screener"}})
    assert builtin.status_code == 409
    wrong = caller.post("/api/v1/transcode/profiles", json={"definition": {
        **TINY_PROFILE, "name": "wrong", "audio": {"codec": "mp3"}}})
    assert wrong.status_code == 400
    assert wrong.get_json()["errors"][0]["field"] == "audio.codec"
    assert "must be one of" in wrong.get_json()["detail"]


def test_cli_profiles_and_reap(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["transcode", "profiles"])
    assert result.exit_code == 0
    assert "upload_mp4" in result.output
    assert "hls_ladder" in result.output
    result = runner.invoke(args=["transcode", "reap"])
    assert result.exit_code == 0, result.output
    assert "0 job(s) queued again" in result.output


@pytest.mark.slow
def test_cli_deliver_inline(app, signed_deal, buyer_profile):
    buyer_profile(signed_deal.world.buyer_a.organization, signed_deal.world.buyer_a, fast=True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["deliver", signed_deal.deal.number, "--profile", "tiny_fast",
                                 "--subtitles", "sidecar", "--language", "en", "--inline"])
    assert result.exit_code == 0, result.output
    assert re.search(r"package \d+: ready", result.output)
    assert re.search(r"[0-9a-f]{64}\s+\d+\s+video/E003.tiny_fast.mp4", result.output)
    assert "subtitles/E001.en.srt" in result.output
    package = db.session.scalar(select(DeliveryPackage))
    assert package.languages == ["en"]
    assert app.extensions["pdx_captured_jobs"] == []
    bad = runner.invoke(args=["deliver", "D-0000-9999"])
    assert bad.exit_code != 0
    assert "no deal" in bad.output


def test_cli_reap_requeues_stale_jobs(app, signed_deal, jobs):
    from transcode import services

    job = services.create_adhoc_job(signed_deal.masters[0].id, "upload_mp4",
                                    by=signed_deal.world.producer)
    db.session.commit()
    job.status, job.attempts, job.worker = JobStatus.RUNNING, 1, "celery@gone"
    job.heartbeat_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["transcode", "reap"])
    assert f"1 job(s) queued again: {job.id}" in result.output
    db.session.expire_all()
    assert db.session.get(TranscodeJob, job.id).status == JobStatus.QUEUED
