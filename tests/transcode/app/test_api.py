"""The JSON API's happy paths: an ad-hoc job, a screener, a package, and the OpenAPI
document that describes them."""

from __future__ import annotations

import pytest

from marketplace.extensions import db


@pytest.mark.slow
def test_api_job_screener_and_package(api, signed_deal, buyer_profile, run_jobs, client):
    world, deal = signed_deal.world, signed_deal.deal
    buyer_profile(world.buyer_a.organization, world.buyer_a, fast=True)
    producer, buyer = api(world.producer), api(world.buyer_a)

    # An ad-hoc job on the producer's own master, then cancelled while queued.
    resp = producer.post("/api/v1/transcode/jobs",
                         json={"asset_id": signed_deal.masters[0].id, "profile": "upload_mp4"})
    assert resp.status_code == 201, resp.get_json()
    job = resp.get_json()
    assert job["status"] == "queued"
    assert job["purpose"] == "adhoc"
    resp = producer.post(f"/api/v1/transcode/jobs/{job['id']}/cancel")
    assert resp.get_json()["status"] == "cancelled"
    assert producer.post(f"/api/v1/transcode/jobs/{job['id']}/cancel").status_code == 409
    missing = producer.post("/api/v1/transcode/jobs", json={"profile": "upload_mp4"})
    assert missing.status_code == 400
    assert missing.get_json()["errors"][0]["field"] == "asset_id"

    # A screener: requested, rendered, watched.
    resp = buyer.post(f"/api/v1/titles/{deal.title_id}/screener", json={})
    assert resp.status_code == 202
    screener = resp.get_json()
    assert screener["status"] == "queued"
    assert screener["watermark_text"].startswith("Tropico Test · ")
    run_jobs()
    got = buyer.get(f"/api/v1/screeners/{screener['id']}").get_json()
    assert got["status"] == "ready"
    assert got["progress"] == 1.0
    watch = buyer.post(f"/api/v1/screeners/{screener['id']}/views")
    assert watch.status_code == 201
    assert client.get(watch.get_json()["url"], headers={"Range": "bytes=0-9"}).status_code == 206
    views = producer.get(f"/api/v1/titles/{deal.title_id}/screener-views").get_json()
    assert [(v["buyer"], v["views"]) for v in views] == [("Tropico Test", 1)]

    # A package: refused with a field named, then made and listed with its files.
    bad = producer.post(f"/api/v1/deals/{deal.id}/packages", json={"subtitles": "sometimes"})
    assert bad.status_code == 400
    assert bad.get_json()["errors"][0]["field"] == "subtitles"
    resp = producer.post(f"/api/v1/deals/{deal.id}/packages",
                         json={"profile": "tiny_fast", "subtitles": "none"})
    assert resp.status_code == 202, resp.get_json()
    package = resp.get_json()
    assert package["status"] == "assembling"
    assert [p["label"] for p in package["parts"]] == ["E001", "E002", "E003", "E001 · stills"]
    assert buyer.get(f"/api/v1/packages/{package['id']}/files").status_code == 409
    run_jobs()
    package = buyer.get(f"/api/v1/packages/{package['id']}").get_json()
    assert package["status"] == "ready"
    files = buyer.get(f"/api/v1/packages/{package['id']}/files").get_json()
    paths = {f["path"] for f in files}
    assert {"video/E001.tiny_fast.mp4", "manifest.json", "checksums.sha256",
            "metadata/mec.json"} <= paths
    assert all(len(f["sha256"]) == 64 and len(f["md5"]) == 32 and f["url"] for f in files)
    assert [p["id"] for p in buyer.get("/api/v1/packages").get_json()] == [package["id"]]
    resent = producer.post(f"/api/v1/packages/{package['id']}/resend")
    assert resent.get_json()["resent_count"] == 1
    db.session.expire_all()


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/transcode/jobs", "/api/v1/transcode/jobs/{job_id}/cancel",
                 "/api/v1/transcode/profiles", "/api/v1/titles/{title_id}/screener",
                 "/api/v1/screeners/{screener_id}/views", "/api/v1/deals/{deal_id}/packages",
                 "/api/v1/packages/{package_id}/files", "/api/v1/packages/{package_id}/resend"):
        assert path in spec["paths"], path
    assert "TranscodeJob" in spec["components"]["schemas"]
