"""``pdx avails export|import|check`` on the command line."""

from __future__ import annotations

from sqlalchemy import func, select

from licensing.models import RightsGrant
from marketplace.extensions import db
from tests.fixtures.licensing import day


def _grants() -> int:
    return db.session.scalar(select(func.count()).select_from(RightsGrant))


def test_export_then_import_round_trip(app, world, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "avails.xlsx"
    exported = runner.invoke(args=["avails", "export", "--org", world.producer_org.slug,
                                   str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_bytes()[:2] == b"PK"
    xml = tmp_path / "avails.xml"
    assert runner.invoke(args=["avails", "export", "--org", world.producer_org.slug,
                               "--format", "xml", str(xml)]).exit_code == 0
    before = _grants()
    imported = runner.invoke(args=["avails", "import", "--org", world.producer_org.slug,
                                   str(xml)])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 grant(s)" in imported.output
    assert imported.output.startswith("ok ")
    assert _grants() == before + 1


def test_a_rejected_file_imports_nothing(app, world, ema_samples):
    runner = app.test_cli_runner()
    before = _grants()
    result = runner.invoke(args=["avails", "import", "--org", world.producer_org.slug,
                                 str(ema_samples / "TV_v1.8.xlsx")])
    assert result.exit_code == 1
    assert "REJ" in result.output
    assert "no title matches" in result.output
    assert _grants() == before
    unknown = runner.invoke(args=["avails", "import", "--org", "nobody",
                                  str(ema_samples / "TV_v1.8.xlsx")])
    assert unknown.exit_code != 0
    assert "nobody" in unknown.output


def test_check(app, world, make_offer):
    runner = app.test_cli_runner()
    args = ["avails", "check", "--title", str(world.title.id), "--territory", "BR",
            "--media", "SVOD", "--from", day(30).isoformat(), "--to",
            day(400).isoformat(), "--exclusive", "--language", "pt:subtitle"]
    free = runner.invoke(args=args)
    assert free.exit_code == 0, free.output
    assert "AVAILABLE" in free.output
    offer = make_offer(world.buyer_a, world.title)
    contested = runner.invoke(args=args)
    assert contested.exit_code == 1
    assert "CONTESTED" in contested.output
    assert offer.number in contested.output
    bad = runner.invoke(args=[*args[:5], "ZZ", *args[6:]])
    assert bad.exit_code == 2
    assert "territory" in bad.output
    backwards = runner.invoke(args=[*args[:9], day(400).isoformat(), "--to",
                                    day(30).isoformat(), *args[12:]])
    assert backwards.exit_code == 2
    assert "--to" in backwards.output
