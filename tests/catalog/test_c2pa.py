"""C2PA manifests of uploaded media, read offline with c2pa-python."""

from __future__ import annotations

from catalog import services
from marketplace.extensions import db


def test_signed_poster_and_trailer_are_read(app, create_title, c2pa_media):
    t = create_title(status="draft")
    with c2pa_media["poster"].open("rb") as fh:
        poster = services.store_asset(t, kind="poster", stream=fh, filename="signed.png")
    with c2pa_media["video"].open("rb") as fh:
        trailer = services.store_asset(t, kind="trailer", stream=fh, filename="signed.mp4")
    db.session.commit()
    for asset in (poster, trailer):
        assert asset.c2pa["state"] == "valid", asset.c2pa
        assert asset.c2pa["claim_generator"] == "Lujiazui Render 3.2"
        assert asset.c2pa["actions"] == ["c2pa.created"]
        assert asset.c2pa["digital_source_types"][0].endswith("/trainedAlgorithmicMedia")
        assert asset.c2pa["issuer"] == "Lujiazui AI Studio"
    assert services.badge_for(t).c2pa == "valid"
    reports = {r.region: r for r in services.compliance_for(t)}
    assert reports["EU"].status == "ready"


def test_media_changed_after_signing_is_invalid(app, create_title, c2pa_media):
    t = create_title(status="draft")
    with c2pa_media["tampered"].open("rb") as fh:
        trailer = services.store_asset(t, kind="trailer", stream=fh, filename="t.mp4")
    assert trailer.c2pa["state"] == "invalid"
    assert trailer.c2pa["errors"]


def test_title_page_shows_the_credentials(client, login, create_user, create_title, c2pa_media):
    producer = create_user(kind="producer")
    t = create_title(producer.organization, status="draft")
    with c2pa_media["video"].open("rb") as fh:
        services.store_asset(t, kind="trailer", stream=fh, filename="signed.mp4")
    db.session.commit()
    login(producer)
    page = client.get(f"/catalog/titles/{t.id}").get_data(as_text=True)
    assert "C2PA manifest valid" in page
    assert "Lujiazui Render 3.2" in page
    assert "trainedAlgorithmicMedia" in page
