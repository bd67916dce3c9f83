"""The workers' sweep of expired offers (``licensing.tasks.expire_offers``) and the same
sweep on the command line; concurrent sweeps are in test_concurrency.py."""

from __future__ import annotations

from licensing import services, tasks
from marketplace.audit import events_for
from marketplace.extensions import db
from tests.fixtures.licensing import day


def test_the_sweep_expires_due_offers_once_and_commits(app, world, make_offer, monkeypatch):
    live = make_offer(world.buyer_a, world.title, expires_on=day(20).isoformat())
    due = make_offer(world.buyer_b, world.title, territories=["AR"],
                     expires_on=day(2).isoformat())
    later = day(2)
    monkeypatch.setattr(services, "today", lambda: later)
    assert tasks.expire_offers() == [due.number]
    assert tasks.expire_offers() == []  # nothing is expired twice
    db.session.rollback()  # committed by the sweep: a rollback keeps it
    assert (due.status, due.grant.status) == ("expired", "expired")
    assert live.status == "open"
    for org in (world.buyer_b.organization_id, world.producer_org.id):
        expired = [e for e in events_for("offer", due.id, org) if e.action == "offer.expired"]
        assert len(expired) == 1
        assert expired[0].changes == {"expires_on": later.isoformat()}


def test_operators_can_still_sweep_now(app, world, make_offer, monkeypatch):
    due = make_offer(world.buyer_a, world.title, expires_on=day(2).isoformat())
    later = day(2)
    monkeypatch.setattr(services, "today", lambda: later)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["avails", "expire-offers"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"1 offer(s) expired: {due.number}"
    assert runner.invoke(args=["avails", "expire-offers"]).output.strip() == \
        "0 offer(s) expired"
