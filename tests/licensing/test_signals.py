"""``licensing.signals.deal_signed``: once per deal, after the commit that signs it, with
the deal; never for a refused signature or one whose transaction rolled back."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from licensing import services
from licensing.models import Deal
from licensing.signals import deal_signed
from licensing.terms import LicensingError
from marketplace.extensions import db


@pytest.fixture
def heard(app):
    """What ``deal_signed`` receivers of this app heard: ``[(sender, kwargs), …]``."""
    calls = []

    def receiver(sender, **kwargs):
        calls.append((sender, kwargs))

    with deal_signed.connected_to(receiver, sender=app):
        yield calls


@pytest.fixture
def pending_deal(world, make_offer):
    """An accepted offer: a deal awaiting both signatures."""
    offer = make_offer(world.buyer_a, world.title)
    deal = services.accept_offer(offer.id, by=world.producer, ip="10.0.0.1")
    db.session.commit()
    return deal


def test_sent_once_after_the_second_signature_commits(app, world, pending_deal, heard):
    deal_id, number = pending_deal.id, pending_deal.number
    services.sign_deal(deal_id, by=world.buyer_a, name="Lucas Oliveira", ip=None)
    db.session.commit()
    assert heard == []  # one side is not a signed deal
    services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
    assert heard == []  # signed, but not committed yet
    db.session.commit()
    assert heard == [(app, {"deal_id": deal_id, "number": number})]
    assert db.session.get(Deal, deal_id).status == "signed"
    db.session.commit()  # later transactions do not send it again
    assert len(heard) == 1


def test_not_sent_for_refused_signatures(app, world, pending_deal, heard, monkeypatch):
    deal_id = pending_deal.id
    services.sign_deal(deal_id, by=world.buyer_a, name="Lucas Oliveira", ip=None)
    db.session.commit()
    refusals = [
        dict(by=world.producer, name="  "),  # no name typed
        dict(by=world.buyer_b, name="Emily Carter"),  # not a party
        dict(by=world.buyer_a, name="Lucas Oliveira"),  # this side already signed
    ]
    for attempt in refusals:
        with pytest.raises(LicensingError):
            services.sign_deal(deal_id, ip=None, **attempt)
        db.session.commit()  # whatever the caller does next, nothing was signed
    lapsed = pending_deal.sign_by + timedelta(days=1)
    monkeypatch.setattr(services, "today", lambda: lapsed)
    with pytest.raises(LicensingError) as too_late:
        services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
    assert too_late.value.field == "sign_by"
    db.session.commit()
    assert heard == []
    assert db.session.get(Deal, deal_id).status == "pending_signature"


def test_not_sent_when_the_signature_is_rolled_back(app, world, pending_deal, heard):
    deal_id, number = pending_deal.id, pending_deal.number
    services.sign_deal(deal_id, by=world.buyer_a, name="Lucas Oliveira", ip=None)
    db.session.commit()
    services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
    db.session.rollback()  # e.g. a later step of the request failed
    db.session.commit()
    assert heard == []
    assert db.session.get(Deal, deal_id).status == "pending_signature"
    services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
    db.session.commit()
    assert heard == [(app, {"deal_id": deal_id, "number": number})]


def test_a_failing_receiver_neither_stops_the_others_nor_undoes_the_signature(
        app, world, pending_deal, heard, caplog):
    def broken(_sender, **_kwargs):
        raise RuntimeError("receiver bug")

    deal_id = pending_deal.id
    services.sign_deal(deal_id, by=world.buyer_a, name="Lucas Oliveira", ip=None)
    db.session.commit()
    with deal_signed.connected_to(broken, sender=app), caplog.at_level(logging.ERROR):
        services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
        db.session.commit()
    assert [kwargs["deal_id"] for _sender, kwargs in heard] == [deal_id]
    assert "receiver bug" in caplog.text
    db.session.expire_all()
    assert db.session.get(Deal, deal_id).status == "signed"


def test_a_receiver_may_queue_work_for_the_deal(app, world, pending_deal, jobs):
    from transcode import tasks

    def deliver(_sender, *, deal_id, **_kwargs):
        from marketplace.jobs import enqueue

        enqueue(tasks.prepare_delivery, deal_id)

    deal_id = pending_deal.id
    with deal_signed.connected_to(deliver, sender=app):
        services.sign_deal(deal_id, by=world.buyer_a, name="Lucas Oliveira", ip=None)
        services.sign_deal(deal_id, by=world.producer, name="Zhang Min", ip=None)
        db.session.commit()  # sent by this commit, not left for the next one
    assert ("transcode.prepare_delivery", (deal_id,), {}) in jobs.pending
