"""Access by organization, for every page and API endpoint of the context: another
organization's jobs, screeners, packages, deals and profiles answer 404 (never 403);
within a deal, each party may do only its own part."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.storage import get_storage
from transcode import services
from transcode.models import FileKind, JobOutput, PackageFile, Screener, TranscodeJob


@dataclass
class Scene:
    ids: dict
    world: object


@pytest.fixture
def scene(signed_deal, store_asset, media):
    """A package (queued), a screener (queued), an ad-hoc job with an output, a package
    file: rows only, nothing is encoded."""
    world, deal = signed_deal.world, signed_deal.deal
    package = services.package_for_deal(deal.id, "tiny_mp4", by=world.producer)
    screener = services.request_screener(deal.title_id, by=world.buyer_a)
    job = services.create_adhoc_job(signed_deal.masters[0].id, "upload_mp4", by=world.producer)
    db.session.flush()
    output = JobOutput(job_id=job.id, role="main", path="E001.upload_mp4.mp4",
                       storage_key=f"{job.storage_prefix}/E001.upload_mp4.mp4", size=1,
                       sha256="0" * 64, md5="0" * 32)
    pfile = PackageFile(package_id=package.id, path="manifest.json", kind=FileKind.MANIFEST,
                        storage_key=f"{package.storage_prefix}/manifest.json", size=1,
                        sha256="0" * 64, md5="0" * 32)
    db.session.add_all([output, pfile])
    db.session.commit()
    ids = {"job": job.id, "delivery_job": package.jobs[0].id, "output": output.id,
           "package": package.id, "file": pfile.id, "deal": deal.id, "screener": screener.id,
           "title": deal.title_id, "profile": signed_deal.profile.id,
           "profile_name": signed_deal.profile.name, "asset": signed_deal.masters[0].id}
    return Scene(ids, world)


HTML_GET = [
    "/transcode/jobs/{job}", "/transcode/jobs/{job}/status.json", "/transcode/outputs/{output}",
    "/transcode/jobs/{delivery_job}", "/deliveries/{package}", "/deliveries/{package}/status.json",
    "/deliveries/{package}/links.txt", "/deliveries/files/{file}", "/deliveries/deal/{deal}",
    "/screeners/{screener}/status.json", "/screeners/titles/{title}/viewers",
    "/transcode/profiles/{profile_name}",
]
HTML_POST = [
    "/transcode/jobs/{job}/cancel", "/transcode/jobs/{job}/retry", "/deliveries/{package}/resend",
    "/deliveries/{package}/retry", "/deliveries/deal/{deal}",
    "/transcode/profiles/{profile}/delete",
]
API_GET = [
    "/api/v1/transcode/jobs/{job}", "/api/v1/transcode/jobs/{delivery_job}",
    "/api/v1/packages/{package}", "/api/v1/packages/{package}/files",
    "/api/v1/deals/{deal}/packages", "/api/v1/screeners/{screener}",
    "/api/v1/titles/{title}/screener-views", "/api/v1/transcode/profiles/{profile_name}",
]
API_POST = [
    "/api/v1/transcode/jobs/{job}/cancel", "/api/v1/transcode/jobs/{job}/retry",
    "/api/v1/packages/{package}/resend", "/api/v1/packages/{package}/retry",
    "/api/v1/deals/{deal}/packages", "/api/v1/screeners/{screener}/views",
]
#: Endpoints that take an id but answer for the caller's own organization, not for the
#: object's: each is checked for isolation by its own test below.
PER_CALLER = {
    ("GET", "/screeners/titles/*"): "the caller's own screener of a title",
    ("POST", "/screeners/titles/*"): "asks for the caller's own screener",
    ("POST", "/api/v1/titles/*/screener"): "asks for the caller's own screener",
    ("POST", "/transcode/jobs"): "the asset id is in the body",
    ("POST", "/api/v1/transcode/jobs"): "the asset id is in the body",
    ("POST", "/transcode/profiles"): "defines a profile of the caller's organization",
    ("POST", "/api/v1/transcode/profiles"): "defines a profile of the caller's organization",
}


def test_other_organizations_get_404_everywhere(scene, client, login, csrf_token, api,
                                                create_user):
    outsiders = [scene.world.buyer_b, create_user(kind="producer")]
    for outsider in outsiders:
        caller = api(outsider)
        for template in API_GET:
            path = template.format(**scene.ids)
            assert caller.get(path).status_code == 404, (outsider.organization.kind, path)
        for template in API_POST:
            path = template.format(**scene.ids)
            resp = caller.post(path, json={})
            assert resp.status_code == 404, (outsider.organization.kind, path, resp.get_json())
            assert resp.mimetype == "application/problem+json"
        assert caller.get("/api/v1/transcode/jobs").get_json() == []
        assert caller.get("/api/v1/packages").get_json() == []
        names = {p["name"] for p in caller.get("/api/v1/transcode/profiles").get_json()}
        assert "tiny_mp4" not in names
        assert "upload_mp4" in names

        login(outsider)
        for template in HTML_GET:
            path = template.format(**scene.ids)
            assert client.get(path).status_code == 404, (outsider.organization.kind, path)
        token = csrf_token("/dashboard")
        for template in HTML_POST:
            path = template.format(**scene.ids)
            resp = client.post(path, data={"csrf_token": token})
            assert resp.status_code == 404, (outsider.organization.kind, path)
        jobs_page = client.get("/transcode/jobs").get_data(as_text=True)
        assert f'href="/transcode/jobs/{scene.ids["job"]}"' not in jobs_page
        client.post("/logout", data={"csrf_token": token})


def _shape(path: str) -> str:
    """"/deliveries/<int:package_id>" and "/deliveries/{package}" both as "/deliveries/*"."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "*", path)


def test_every_endpoint_on_an_object_is_checked_for_isolation(app):
    checked = {(m, _shape(p)) for m, paths in (("GET", HTML_GET + API_GET),
                                               ("POST", HTML_POST + API_POST)) for p in paths}
    checked |= set(PER_CALLER)
    unchecked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("transcode.", "transcode_api.")):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            key = (method, _shape(rule.rule))
            if (rule.arguments or method == "POST") and key not in checked:
                unchecked.append(key)
    assert unchecked == []


def test_jobs_only_on_the_organizations_own_videos(scene, client, login, csrf_token, api,
                                                   create_user):
    """Another producer naming this one's master gets 404 (API) or an error (page), and
    no job is made."""
    outsider = create_user(kind="producer")
    before = db.session.scalar(select(func.count()).select_from(TranscodeJob))
    resp = api(outsider).post("/api/v1/transcode/jobs",
                              json={"asset_id": scene.ids["asset"], "profile": "upload_mp4"})
    assert resp.status_code == 404
    login(outsider)
    resp = client.post("/transcode/jobs", data={"csrf_token": csrf_token("/transcode/jobs"),
                                                "asset_id": scene.ids["asset"],
                                                "profile": "upload_mp4"})
    assert resp.status_code == 303
    assert "Choose an episode master or a trailer." in client.get("/transcode/jobs").get_data(
        as_text=True)
    assert db.session.scalar(select(func.count()).select_from(TranscodeJob)) == before


def test_only_the_screeners_buyer_gets_its_link(scene, client, login, csrf_token, api):
    """The player's signed link goes to the buyer organization the screener was made for;
    another buyer watching the same title gets its own screener, never this one's link."""
    world, ids = scene.world, scene.ids
    screener = db.session.get(Screener, ids["screener"])
    key = f"{screener.job.storage_prefix}/E001.screener.mp4"
    get_storage().save(key, io.BytesIO(b"\0" * 64), "video/mp4")
    screener.storage_key = key
    db.session.commit()
    wanted = "/files?" + urlencode({"key": key})  # then expires and sig

    login(world.buyer_a)
    page = client.get(f"/screeners/titles/{ids['title']}").get_data(as_text=True)
    link = unescape(re.search(r'<video [^>]*src="([^"]+)"', page).group(1))
    assert link.startswith(wanted)
    assert client.get(link).get_data() == b"\0" * 64
    assert api(world.buyer_a).post(f"/api/v1/screeners/{ids['screener']}/views").get_json()[
        "url"].startswith(wanted)
    client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})

    login(world.buyer_b)
    page = client.get(f"/screeners/titles/{ids['title']}").get_data(as_text=True)
    assert "<video" not in page
    assert 'data-testid="request-screener"' in page
    assert wanted not in unescape(page)
    assert api(world.buyer_b).post(f"/api/v1/screeners/{ids['screener']}/views"
                                   ).status_code == 404


def test_each_party_does_only_its_part(scene, client, login, csrf_token, api):
    world, ids = scene.world, scene.ids
    buyer, producer = api(world.buyer_a), api(world.producer)
    # The buyer follows the delivery jobs made for it but cannot cancel the producer's
    # jobs, fetch their raw outputs, or send the package again.
    assert buyer.get(f"/api/v1/transcode/jobs/{ids['delivery_job']}").status_code == 200
    assert buyer.get(f"/api/v1/transcode/jobs/{ids['job']}").status_code == 404  # ad hoc
    assert buyer.post(f"/api/v1/transcode/jobs/{ids['delivery_job']}/cancel").status_code == 404
    assert buyer.post(f"/api/v1/packages/{ids['package']}/resend").status_code == 404
    assert buyer.get(f"/api/v1/packages/{ids['package']}").status_code == 200
    assert buyer.get(f"/api/v1/packages/{ids['package']}/files").status_code == 409  # not ready
    assert buyer.get(f"/api/v1/titles/{ids['title']}/screener-views").status_code == 404
    # The producer sees the screener's state but does not "watch" it as the buyer.
    assert producer.get(f"/api/v1/screeners/{ids['screener']}").status_code == 200
    assert producer.post(f"/api/v1/screeners/{ids['screener']}/views").status_code == 404
    assert producer.get(f"/api/v1/titles/{ids['title']}/screener-views").status_code == 200
    # Only distributors ask for screeners and define profiles.
    resp = producer.post(f"/api/v1/titles/{ids['title']}/screener", json={})
    assert resp.status_code == 403
    assert producer.post("/api/v1/transcode/profiles", json={"definition": {}}).status_code == 403
    login(world.producer)
    assert client.get(f"/screeners/titles/{ids['title']}").status_code == 403
    assert client.get(f"/transcode/outputs/{ids['output']}").status_code == 302
    page = client.get(f"/transcode/jobs/{ids['job']}").get_data(as_text=True)
    assert 'data-testid="cancel"' in page


def test_unverified_buyers_and_strangers(scene, client, api, login):
    ids = scene.ids
    unverified = scene.world.unverified
    resp = api(unverified).post(f"/api/v1/titles/{ids['title']}/screener", json={})
    assert resp.status_code == 403
    login(unverified)
    assert client.get(f"/screeners/titles/{ids['title']}").status_code == 403
    assert "Screeners open once" in client.get("/screeners").get_data(as_text=True)
    anonymous = client.application.test_client()
    assert anonymous.get(f"/api/v1/packages/{ids['package']}").status_code == 401
    resp = anonymous.get(f"/deliveries/{ids['package']}")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_dashboard_and_pages_for_every_kind_of_user(scene, client, login, create_user,
                                                    csrf_token):
    users = [scene.world.admin, scene.world.producer, scene.world.buyer_a,
             create_user(kind="festival"), scene.world.unverified]
    for user in users:
        login(user)
        for path in ("/dashboard", "/transcode/jobs", "/transcode/profiles", "/deliveries",
                     "/screeners"):
            assert client.get(path).status_code == 200, (user.organization.kind, path)
        client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    login(scene.world.admin)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Deliveries and screeners" in page
    assert client.get(f"/deliveries/{scene.ids['package']}").status_code == 200
