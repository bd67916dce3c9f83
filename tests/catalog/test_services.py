"""Catalog services: titles, provenance, copyright, episodes, workflow, uploads."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select, text

from catalog import domain, services
from catalog.domain import ValidationError
from catalog.models import MediaAsset, Title, TitleReview
from marketplace.audit import AuditEvent
from marketplace.extensions import db
from marketplace.storage import get_storage


def _files(app) -> set[str]:
    from pathlib import Path

    root = Path(app.config["PDX_MEDIA_ROOT"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_create_title_with_localizations_and_genres(app, create_org):
    org = create_org(kind="producer")
    t = services.create_title(org, domain.TitleInput(
        original_title="重生之我是霸总", original_language="zh", country="CN", year=2025,
        genres=["ceo", "rebirth"], localizations={
            "zh": ("重生之我是霸总", "他重生回到十八岁。"),
            "en": ("Reborn as the CEO", "He wakes up eighteen again.")}))
    db.session.commit()
    assert t.status == "draft"
    assert t.aspect_ratio == "9:16"
    assert t.genres == ["ceo", "rebirth"]
    assert t.display_title("en") == "Reborn as the CEO"
    assert t.display_title("zh-Hans") == "重生之我是霸总"
    assert "He wakes up" in t.search_text
    assert "十八岁" in t.search_text
    events = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "title", AuditEvent.object_id == str(t.id))).all()
    assert "title.created" in events


def test_update_replaces_localizations_and_genres(app, create_title):
    t = create_title(status="draft", genres=["romance", "family"])
    data = services.title_input_from(t)
    data.genres = ["revenge"]
    data.localizations = {"es": ("La venganza", "Sinopsis.")}
    services.update_title(t, data)
    db.session.commit()
    assert t.genres == ["revenge"]
    assert [loc.language for loc in t.localizations] == ["es"]
    assert "La venganza" in t.search_text


def test_published_title_is_locked(app, create_title):
    t = create_title(status="published")
    with pytest.raises(ValidationError) as err:
        services.update_title(t, services.title_input_from(t))
    assert "status" in err.value.errors


def test_workflow_draft_submitted_published_withdrawn(app, create_title, create_user):
    admin = create_user(kind="platform", is_admin=True)
    producer = create_user(kind="producer")
    t = create_title(org=producer.organization, status="draft")
    services.submit(t, by=producer, comment="ready")
    assert t.status == "submitted"
    assert t.submitted_at
    with pytest.raises(ValidationError):
        services.publish(t, by=producer)  # only staff publish
    services.return_to_producer(t, by=admin, comment="Add the English synopsis")
    assert t.status == "draft"
    assert t.review_comment == "Add the English synopsis"
    services.submit(t, by=producer)
    services.publish(t, by=admin, comment="Looks good")
    assert t.status == "published"
    assert t.published_at
    services.withdraw(t, by=producer)
    assert t.status == "withdrawn"
    assert [r.action for r in db.session.scalars(select(TitleReview).where(
        TitleReview.title_id == t.id).order_by(TitleReview.id))] == [
        "submitted", "returned", "submitted", "published", "withdrawn"]


def test_return_needs_a_comment(app, create_title, create_user):
    admin = create_user(kind="platform", is_admin=True)
    t = create_title(status="submitted")
    with pytest.raises(ValidationError) as err:
        services.return_to_producer(t, by=admin, comment=" ")
    assert "comment" in err.value.errors


def test_submit_lists_what_is_missing(app, create_title, create_user):
    producer = create_user(kind="producer")
    t = create_title(org=producer.organization, status="draft", episodes=0, poster=False,
                     localizations={})
    t.copyright.rights_holder = None
    with pytest.raises(ValidationError) as err:
        services.submit(t, by=producer)
    assert set(err.value.errors) == {"localizations", "episodes", "rights_holder", "poster"}


def test_episodes(app, create_title):
    t = create_title(status="draft", episodes=0)
    assert services.add_episode_range(t, 80, 95) == 80
    assert t.episode_count == 80
    services.add_episode(t, number=81, name="大结局", duration_seconds=130)
    with pytest.raises(ValidationError) as err:
        services.add_episode(t, number=81)
    assert "number" in err.value.errors
    assert services.add_episode_range(t, 81) == 0
    ep = t.episodes[0]
    services.update_episode(ep, name="初遇", duration_seconds=100)
    services.delete_episode(t.episodes[-1])
    db.session.commit()
    assert len(t.episodes) == 80
    assert t.episodes[0].title == "初遇"


def test_episode_provenance_override(app, create_title):
    t = create_title(status="draft")
    ep = t.episodes[1]
    services.set_episode_provenance(ep, {"involvement": "fully_generated",
                                         "explicit_label": {"text": ""}})
    db.session.commit()
    reports = {r.region: r for r in services.compliance_for(t)}
    assert any(g.scope == "2" for g in reports["CN"].gaps)
    with pytest.raises(ValidationError):
        services.set_episode_provenance(ep, {"colour": "blue"})
    services.set_episode_provenance(ep, None)
    assert ep.provenance_override is None


def test_copyright_and_music_clearances(app, create_title):
    t = create_title(status="draft")
    services.set_copyright(t, rights_holder="黄浦影业", registration_number="国作登字-2025-L-1",
                           nrta_number="(沪)网微剧备字(2025)第123号", nrta_tier="key",
                           underlying_work="Novel 《总裁的秘密》",
                           music_clearances="Theme | Shanghai Music Co | LIC-9\nEnd | Studio")
    assert t.copyright.music_clearances[1] == {"track": "End", "rights_holder": "Studio",
                                               "reference": ""}
    with pytest.raises(ValidationError) as err:
        services.set_copyright(t, rights_holder="x", registration_number=None, nrta_number=None,
                               nrta_tier="gold", underlying_work=None, music_clearances=None)
    assert "nrta_tier" in err.value.errors
    with pytest.raises(ValidationError) as err:
        services.parse_music_clearances("only a track")
    assert "music_clearances" in err.value.errors


def test_mec_for_title(app, create_title):
    t = create_title(episodes=2)
    out = services.mec_for(t)
    assert len(out["CoreMetadata"]) == 3
    assert out["CoreMetadata"][0]["Basic"]["AIProvenance"]["Involvement"] == "mostly_generated"


# --------------------------------------------------------------------------- uploads


def test_upload_video_probes_and_hashes(app, create_title, media):
    import hashlib

    t = create_title(status="draft")
    with media["video"].open("rb") as fh:
        asset = services.store_asset(t, kind="master", stream=fh, filename="ep1.mp4",
                                     episode=t.episodes[0], content_type="video/mp4")
    db.session.commit()
    assert asset.sha256 == hashlib.sha256(media["video"].read_bytes()).hexdigest()
    assert asset.probe["video_codec"] == "h264"
    assert asset.probe["width"] == 180
    assert asset.probe["height"] == 320
    assert asset.probe["audio"][0]["codec"] == "aac"
    assert asset.c2pa["state"] == "absent"
    assert get_storage().exists(asset.storage_key)


@pytest.mark.parametrize(("fixture", "filename", "kind", "reason"), [
    ("fake", "ep.mp4", "master", "not a playable video"),
    ("truncated", "ep.mp4", "master", "truncated"),
    ("empty", "ep.mp4", "master", "empty (0 bytes)"),
    ("silent", "ep.mp4", "master", "needs an audio track"),
    ("audio", "ep.m4a", "trailer", "not a playable video"),
    ("video", "../../etc/passwd", "trailer", "plain name, not a path"),
    ("video", "..\\evil.mp4", "trailer", "plain name, not a path"),
    ("fake", "poster.png", "poster", "PNG, JPEG or WebP"),
    ("video", "ep1.srt", "subtitle", "Say which language"),
    ("video", "ep1.mp4", "dub_audio", "Say which language"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(app, create_title, media, fixture,
                                                       filename, kind, reason):
    t = create_title(status="draft")
    before = _files(app)
    assets_before = len(t.assets)
    with pytest.raises(ValidationError) as err:
        with media[fixture].open("rb") as fh:
            services.store_asset(t, kind=kind, stream=fh, filename=filename,
                                 episode=t.episodes[0])
    field, message = next(iter(err.value.errors.items()))
    assert field in ("file", "language")
    assert reason in str(message)
    db.session.rollback()
    assert _files(app) == before
    assert len(db.session.scalars(select(MediaAsset.id).where(
        MediaAsset.title_id == t.id)).all()) == assets_before


def test_upload_over_the_limit(app, create_title, media):
    t = create_title(status="draft")
    before = _files(app)
    with pytest.raises(ValidationError) as err:
        with media["video"].open("rb") as fh:
            services.store_asset(t, kind="trailer", stream=fh, filename="t.mp4", max_bytes=1000)
    assert "larger than the limit" in str(err.value.errors["file"])
    assert _files(app) == before


def test_rolled_back_upload_leaves_no_file(app, create_title, media):
    t = create_title(status="draft")
    before = _files(app)
    with media["video"].open("rb") as fh:
        asset = services.store_asset(t, kind="trailer", stream=fh, filename="t.mp4")
    key = asset.storage_key
    assert get_storage().exists(key)
    db.session.rollback()  # e.g. the commit failed, or a later step raised
    assert not get_storage().exists(key)
    assert _files(app) == before


def test_deleted_asset_file_goes_on_commit(app, create_title, media):
    t = create_title(status="draft")
    with media["subtitle"].open("rb") as fh:
        asset = services.store_asset(t, kind="subtitle", stream=fh, filename="ep1.srt",
                                     language="en", episode=t.episodes[0])
    db.session.commit()
    key = asset.storage_key
    services.delete_asset(asset)
    assert get_storage().exists(key)
    db.session.commit()
    assert not get_storage().exists(key)
    assert "en" in t.languages


def test_dub_audio_and_subtitle(app, create_title, media):
    t = create_title(status="draft")
    with media["audio"].open("rb") as fh:
        dub = services.store_asset(t, kind="dub_audio", stream=fh, filename="ep1-es.m4a",
                                   language="es", episode=t.episodes[0])
    assert dub.probe["audio"][0]["codec"] == "aac"
    with pytest.raises(ValidationError) as err:
        with media["video"].open("rb") as fh:
            services.store_asset(t, kind="subtitle", stream=fh, filename="ep1.srt",
                                 language="es")
    assert "not UTF-8" in str(err.value.errors["file"])
    with pytest.raises(ValidationError) as err:
        services.store_asset(t, kind="subtitle", stream=io.BytesIO(b"x"), filename="a.srt",
                             language="zz-top")
    assert "language" in err.value.errors


def test_fts_table_follows_the_title(app, create_title):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite FTS5 only")
    t = create_title(title="独一无二的标题甲乙丙")
    hits = db.session.execute(text("SELECT rowid FROM title_fts WHERE title_fts MATCH :q"),
                              {"q": '"一无二的标"'}).scalars().all()
    assert hits == [t.id]
    db.session.delete(t)
    db.session.flush()
    assert not db.session.execute(text("SELECT rowid FROM title_fts WHERE title_fts MATCH :q"),
                                  {"q": '"一无二的标"'}).scalars().all()


def test_deleting_a_title_cascades(app, create_title):
    t = create_title()
    tid = t.id
    db.session.delete(t)
    db.session.commit()
    assert db.session.get(Title, tid) is None
