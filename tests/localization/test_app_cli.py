"""``pdx subtitles …`` through the application's CLI, and the demo loader."""

from __future__ import annotations

import json

from sqlalchemy import select

from localization import demo
from localization.models import SubtitleTrack
from marketplace.extensions import db
from tests.fixtures.localization import ZH_SEASON, srt_of


def test_subtitles_group_is_on_the_app_cli(app, tmp_path):
    runner = app.test_cli_runner()
    good = tmp_path / "E001.zh-Hans.srt"
    good.write_bytes(srt_of(ZH_SEASON[1], "gb18030"))
    result = runner.invoke(args=["subtitles", "qc", str(good), "--lang", "zh-Hans",
                                 "--profile", "vertical", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] is True
    assert report["encoding"] == "gb18030"

    bad = tmp_path / "E002.srt"
    bad.write_bytes(srt_of(ZH_SEASON[2]))
    result = runner.invoke(args=["subtitles", "qc", str(bad), "--lang", "zh-Hans"])
    assert result.exit_code == 1
    assert "FAIL" in result.output

    junk = tmp_path / "junk.srt"
    junk.write_bytes(bytes(range(256)) * 4)
    assert runner.invoke(args=["subtitles", "qc", str(junk), "--lang", "zh-Hans"]).exit_code == 2

    out = tmp_path / "E001.vtt"
    result = runner.invoke(args=["subtitles", "convert", str(good), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("WEBVTT")


def test_demo_loader_skips_without_a_catalog_title(app):
    lines = []
    demo.load_demo(lines.append)
    assert "skipped" in lines[0] or "demo subtitles" in lines[0]


def test_demo_loader_is_idempotent(app, create_org, monkeypatch):
    from catalog import domain
    from catalog import services as catalog

    org = create_org(kind="producer")
    monkeypatch.setattr(demo, "SHOWCASE_ORGS", (org.slug,))
    data = domain.TitleInput(original_title="总裁的秘密", original_language="zh", country="CN",
                             year=2025, episode_count=3, typical_episode_seconds=90,
                             genres=["romance"], tags=[],
                             localizations={"zh": ("总裁的秘密", "简介")})
    title = catalog.create_title(org, data)
    catalog.add_episode_range(title, 4, 90)
    db.session.commit()
    lines = []
    demo.load_demo(lines.append)
    demo.load_demo(lines.append)
    tracks = db.session.scalars(select(SubtitleTrack)).all()
    assert len(tracks) == 6  # three episodes × (zh-Hans source, approved English)
    assert {t.status for t in tracks} == {"approved"}
    assert all(t.qc_passed for t in tracks)
    assert "6 tracks added" in lines[0]
    assert "0 tracks added" in lines[1]
