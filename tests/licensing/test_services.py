"""The deal flow through the services: offers, counters, acceptance, signatures, and the
engine's checks at every step; bad input leaves nothing half-saved."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from catalog.search import CatalogQuery, search_with_providers
from licensing import services
from licensing.models import Deal, Offer, OfferRound, RightsGrant
from licensing.terms import LicensingError, parse_fee, parse_terms
from marketplace.audit import AuditEvent, events_for
from marketplace.extensions import db
from marketplace.notifications import Notification
from tests.fixtures.licensing import day, offer_body


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _signed_deal(world, make_offer, buyer=None, **body):
    buyer = buyer or world.buyer_a
    offer = make_offer(buyer, world.title, **body)
    deal = services.accept_offer(offer.id, by=world.producer, ip="10.0.0.1")
    services.sign_deal(deal.id, by=world.producer, name="Zhang Min", ip="10.0.0.1")
    services.sign_deal(deal.id, by=buyer, name="Lucas Oliveira", ip="10.0.0.2")
    db.session.commit()
    return deal


def test_offer_is_checked_recorded_and_notified(world, make_offer):
    offer = make_offer(world.buyer_a, world.title, market_event=None)
    assert re.fullmatch(r"O-\d{4}-\d{4}", offer.number)
    assert offer.status == "open"
    assert offer.current_round == 1
    assert offer.round.check_status == "free"
    assert offer.grant.status == "offer"
    assert offer.grant.expires_on == day(14)
    assert offer.grant.licensee_org_id == world.buyer_a.organization_id
    events = events_for("offer", offer.id, world.producer_org.id)
    assert [e.action for e in events] == ["offer.made"]
    assert events_for("offer", offer.id, world.buyer_a.organization_id)
    assert not events_for("offer", offer.id, world.buyer_b.organization_id)
    note = db.session.scalar(select(Notification).where(
        Notification.organization_id == world.producer_org.id,
        Notification.kind == "licensing.offer"))
    assert note is not None
    assert note.params["number"] == offer.number


def test_counter_keeps_every_round_and_turns_alternate(world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    body = offer_body(fee={"model": "flat", "currency": "USD", "flat_fee_minor": 7_000_000})
    with pytest.raises(LicensingError) as own_turn:
        services.counter_offer(offer, parse_terms(body), parse_fee(body["fee"], None),
                               by=world.buyer_a, expires_on=day(10))
    assert own_turn.value.status == 409
    db.session.rollback()
    rnd, _v = services.counter_offer(offer, parse_terms(body),
                                     parse_fee(body["fee"], body["instalments"]),
                                     by=world.producer, expires_on=day(10), message="More")
    db.session.commit()
    assert offer.status == "countered"
    assert offer.current_round == 2 == rnd.number
    first = db.session.scalar(select(OfferRound).where(OfferRound.offer_id == offer.id,
                                                       OfferRound.number == 1))
    assert first.flat_fee_minor == 5_000_000
    assert rnd.flat_fee_minor == 7_000_000
    assert offer.grant.expires_on == day(10)
    counter = events_for("offer", offer.id, world.buyer_a.organization_id)[-1]
    assert counter.action == "offer.countered"
    assert counter.changes["changed"]["fee.flat_fee_minor"] == [5_000_000, 7_000_000]


def test_accept_creates_a_deal_awaiting_signatures(world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    deal = services.accept_offer(offer.id, by=world.producer, ip="10.0.0.1")
    db.session.commit()
    assert re.fullmatch(r"D-\d{4}-\d{4}", deal.number)
    assert deal.status == "pending_signature"
    assert deal.grant.status == "option"
    assert deal.grant.expires_on == deal.sign_by
    assert offer.status == "accepted"
    assert offer.grant.status == "expired"
    assert [(i.percent_bp, i.amount_minor, i.trigger) for i in deal.instalments] == [
        (3000, 1_500_000, "on_signature"), (7000, 3_500_000, "on_delivery_acceptance")]
    assert [e.action for e in events_for("deal", deal.id, world.buyer_a.organization_id)] == [
        "deal.created"]


def test_deals_are_tagged_with_their_market(world, make_offer):
    from marketplace.markets.models import MarketEvent

    event = MarketEvent(code="ATF-2099", series="atf", name="ATF 2099", city="Singapore",
                        country="SG", starts_on=date(2099, 12, 1), ends_on=date(2099, 12, 3))
    db.session.add(event)
    db.session.commit()
    offer = make_offer(world.buyer_a, world.title, market_event="atf-2099")
    deal = services.accept_offer(offer.id, by=world.producer)
    assert deal.market_event_id == event.id
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_b, world.title, territories=["AR"], market_event="NOPE-1")
    assert caught.value.field == "market_event"


def test_both_sign_once_and_the_grant_becomes_a_hard_block(world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    deal = services.accept_offer(offer.id, by=world.producer)
    db.session.commit()
    with pytest.raises(LicensingError) as no_name:
        services.sign_deal(deal.id, by=world.buyer_a, name="  ", ip=None)
    assert no_name.value.field == "name"
    services.sign_deal(deal.id, by=world.buyer_a, name="Lucas Oliveira", ip="10.0.0.2")
    db.session.commit()
    assert deal.status == "pending_signature"
    with pytest.raises(LicensingError) as twice:
        services.sign_deal(deal.id, by=world.buyer_a, name="Lucas Oliveira", ip="10.0.0.2")
    assert twice.value.status == 409
    db.session.rollback()
    with pytest.raises(LicensingError) as outsider:
        services.sign_deal(deal.id, by=world.buyer_b, name="Emily", ip=None)
    assert outsider.value.status == 403
    db.session.rollback()
    services.sign_deal(deal.id, by=world.producer, name="Zhang Min", ip="10.0.0.1")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.status == "signed"
    assert deal.signed_at is not None
    assert deal.grant.status == "signed"
    assert deal.grant.expires_on is None
    buyer_sig = deal.signature("buyer")
    assert (buyer_sig.name, buyer_sig.ip, buyer_sig.user_id) == (
        "Lucas Oliveira", "10.0.0.2", world.buyer_a.id)
    assert services.deal_access(world.buyer_a, world.title)
    assert not services.deal_access(world.buyer_b, world.title)


def test_overlapping_exclusive_offer_is_refused_with_the_free_alternative(world, make_offer):
    _signed_deal(world, make_offer)
    offers_before = _count(Offer)
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_b, world.title, territories=["BR", "AR", "CL"])
    error = caught.value
    assert error.status == 409
    assert error.field == "territories"
    assert error.conflict.free_territories == ("AR", "CL")
    assert "Argentina" in str(error)
    assert "Chile" in str(error)
    db.session.rollback()
    assert _count(Offer) == offers_before  # nothing half-saved


def test_refusal_names_when_it_is_free_again(world, make_offer):
    _signed_deal(world, make_offer)
    deal_end = date.fromisoformat(offer_body()["term"]["end"])
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_b, world.title,
                   term={"start": day(60).isoformat(), "end": day(365 * 5).isoformat()})
    assert caught.value.conflict.free_from == deal_end


def test_non_exclusive_grants_never_collide(world, make_offer):
    first = make_offer(world.buyer_a, world.title, exclusive=False)
    second = make_offer(world.buyer_b, world.title, exclusive=False)
    assert second.round.check_status == "free"
    services.accept_offer(first.id, by=world.producer)
    db.session.commit()
    deal = services.accept_offer(second.id, by=world.producer)
    assert deal.status == "pending_signature"


def test_open_offers_warn_but_do_not_block(world, make_offer):
    make_offer(world.buyer_a, world.title)
    second = make_offer(world.buyer_b, world.title)
    assert second.round.check_status == "contested"
    assert "contested" in second.round.check_summary


def test_an_accepted_deal_refuses_the_competing_acceptance(world, make_offer):
    first = make_offer(world.buyer_a, world.title)
    second = make_offer(world.buyer_b, world.title)
    services.accept_offer(first.id, by=world.producer)
    db.session.commit()
    with pytest.raises(LicensingError) as caught:
        services.accept_offer(second.id, by=world.producer)
    assert caught.value.status == 409
    db.session.rollback()
    assert db.session.get(Offer, second.id).status == "open"
    assert _count(Deal) == 1


def test_accepting_an_expired_offer_is_refused(world, make_offer, monkeypatch):
    offer = make_offer(world.buyer_a, world.title, expires_on=day(2).isoformat())
    later = day(2)
    monkeypatch.setattr(services, "today", lambda: later)
    with pytest.raises(LicensingError) as caught:
        services.accept_offer(offer.id, by=world.producer)
    assert caught.value.field == "expires_on"
    assert caught.value.status == 409
    db.session.rollback()
    assert _count(Deal) == 0
    assert [o.number for o in services.expire_offers()] == [offer.number]
    assert offer.status == "expired"
    assert offer.grant.status == "expired"


def test_exclusive_offer_over_non_exclusive_rights_in_is_refused(
        world, make_offer, create_title, grant_rights_in):
    title = create_title(world.producer_org)
    grant_rights_in(title, world.producer, exclusive=False)
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_a, title)
    assert caught.value.field == "exclusive"
    assert caught.value.status == 409
    db.session.rollback()
    assert make_offer(world.buyer_a, title, exclusive=False).status == "open"


def test_rights_not_held_are_refused(world, make_offer):
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_a, world.title,
                   term={"start": day(30).isoformat(), "end": day(365 * 20).isoformat()})
    assert caught.value.status == 409
    assert "does not hold" in str(caught.value)


def test_who_may_offer(world, make_offer, create_title):
    with pytest.raises(LicensingError) as unverified:
        make_offer(world.unverified, world.title)
    assert unverified.value.status == 403
    with pytest.raises(LicensingError) as producer:
        make_offer(world.producer, world.title)
    assert producer.value.status == 403
    draft = create_title(world.producer_org, status="draft")
    with pytest.raises(LicensingError) as unpublished:
        make_offer(world.buyer_a, draft)
    assert unpublished.value.field == "title_id"
    with pytest.raises(LicensingError) as past:
        make_offer(world.buyer_a, world.title, expires_on=day(0).isoformat())
    assert past.value.field == "expires_on"
    db.session.rollback()
    assert _count(Offer) == 0


def test_decline_and_withdraw_end_the_negotiation(world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    with pytest.raises(LicensingError):
        services.decline_offer(offer, by=world.buyer_a)  # not the buyer's turn
    db.session.rollback()
    services.decline_offer(offer, by=world.producer, reason="Too low")
    db.session.commit()
    assert offer.status == "declined"
    assert offer.grant.status == "expired"
    other = make_offer(world.buyer_b, world.title)
    with pytest.raises(LicensingError):
        services.withdraw_offer(other, by=world.producer)  # not the producer's round
    db.session.rollback()
    services.withdraw_offer(other, by=world.buyer_b)
    db.session.commit()
    assert other.status == "withdrawn"
    with pytest.raises(LicensingError) as closed:
        services.accept_offer(other.id, by=world.producer)
    assert closed.value.status == 409


def test_holdbacks_block_others_but_not_the_holder(world, make_offer):
    _signed_deal(world, make_offer, territories=["US"], languages=["en"],
                 holdbacks=[{"media": ["AVOD"], "territories": ["US"],
                             "until": day(400).isoformat()}])
    avod = {"media": ["AVOD"], "territories": ["US"], "exclusive": False,
            "term": {"start": day(60).isoformat(), "end": day(300).isoformat()}}
    with pytest.raises(LicensingError) as caught:
        make_offer(world.buyer_b, world.title, **avod)
    assert caught.value.status == 409
    db.session.rollback()
    assert make_offer(world.buyer_a, world.title, **avod).round.check_status == "free"


def test_reversion_frees_the_cells_from_its_date(world, make_offer):
    deal = _signed_deal(world, make_offer)
    with pytest.raises(LicensingError):
        make_offer(world.buyer_b, world.title)
    db.session.rollback()
    services.revert_deal(db.session.get(Deal, deal.id), by=world.producer, on=day(20),
                         reason="Instalment 1 unpaid")
    db.session.commit()
    offer = make_offer(world.buyer_b, world.title)  # starts on day 30: free again
    assert offer.round.check_status == "free"
    assert db.session.get(Deal, deal.id).grant.reverted_on == day(20)


def test_catalog_search_narrows_to_free_titles_and_index_follows_deals(
        world, make_offer, create_title, grant_rights_in, app):
    other = create_title(world.producer_org)
    grant_rights_in(other, world.producer)
    bare = create_title(world.producer_org)  # no rights in: never free
    params = {"territory": "BR", "media": "SVOD", "from": day(30).isoformat(),
              "to": day(400).isoformat(), "exclusive": "1"}

    def free_ids():
        return {t.id for t in search_with_providers(CatalogQuery(), params).items}

    assert {world.title.id, other.id} <= free_ids()
    assert bare.id not in free_ids()
    rebuilds = app.extensions["licensing_avails_cache"].rebuilds
    _signed_deal(world, make_offer)
    assert world.title.id not in free_ids()
    assert other.id in free_ids()
    assert app.extensions["licensing_avails_cache"].rebuilds == rebuilds + 1  # one bucket


def test_index_reads_grants_as_to_domain_does(world, monkeypatch):
    """The index reads grants as plain rows, normalizing each distinct stored value
    once: the grants it gets must equal ``to_domain`` of the same rows."""
    from licensing import index
    from licensing.models import to_domain

    title, org = world.title, world.producer_org

    def add(**fields):
        values = {"kind": "rights_out", "media": ["SVOD"], "territories": ["419"],
                  "starts_on": day(0), "status": "signed", **fields}
        row = RightsGrant(title_id=title.id, organization_id=org.id,
                          label=f"T-{_count(RightsGrant)}", **values)
        db.session.add(row)
        db.session.flush()
        return row

    draft_parent = add(status="draft", may_sublicense=True, exclusive=True)
    rows = [
        draft_parent,
        add(parent_id=draft_parent.id, territories=["BR"], status="active"),
        add(media=["non_linear", "FAST"], territories=["001", "us"],
            territories_excluded=["021", "CN"], languages=["pt-br:subtitle", "es", "EN:dub"],
            episode_first=3, episode_last=9, ends_on=day(400), exclusive=True,
            licensee_org_id=world.buyer_a.organization_id, may_sublicense=True,
            holdbacks=[{"media": ["AVOD"], "territories": ["BR"], "territories_excluded": [],
                        "languages": ["pt"], "start": None, "until": day(200).isoformat()}]),
        add(status="offer", expires_on=day(30), episode_first=2),
        add(status="reverted", reverted_on=day(90), ends_on=day(700)),
        add(status="expired"),  # weighs nothing: left out
        add(kind="rights_in", status="terminated", territories=["150"]),  # likewise
    ]
    db.session.commit()

    def long_way(row):
        raise AssertionError(f"the short way failed for {row}")

    monkeypatch.setattr(index, "to_domain", long_way)
    got = {g.id: g for g in index.bucket_grants(db.session, index.bucket_of(title.id))}
    expected = {str(r.id): to_domain(r) for r in rows[:5]}
    expected[str(world.rights.id)] = to_domain(world.rights)
    assert got == expected


def test_id_filter_keeps_exactly_the_ids_asked_for(app, monkeypatch):
    from sqlalchemy import literal

    from licensing import index

    numbers = select(literal(0).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < 299))

    def kept(ids):
        return set(db.session.scalars(select(numbers.c.n).where(
            index.id_filter(db.session, numbers.c.n, ids))))

    for ids in ([], [0], [5, 7, 299], list(range(1, 300, 3)), [250, 12, 12, 400]):
        assert kept(ids) == set(ids) & set(range(300)), ids
        monkeypatch.setattr(index, "ID_BYTES_MAX", 10)  # past it: the JSON array on SQLite
        assert kept(ids) == set(ids) & set(range(300)), ids
        monkeypatch.undo()
    assert kept([-1, 3]) == {3}


def test_rights_in_crud_is_audited(world):
    terms = parse_terms({"media": ["SVOD"], "territories": ["150"],
                         "term": {"start": "2026-01-01", "end": "2028-01-01"}})
    row = services.create_rights_in(world.title, terms, by=world.producer)
    services.update_rights_in(row, terms, by=world.producer, status="terminated")
    db.session.commit()
    with pytest.raises(LicensingError) as caught:
        services.update_rights_in(row, terms, by=world.producer, status="reverted")
    assert caught.value.field == "reverted_on"
    db.session.rollback()
    row = db.session.get(RightsGrant, row.id)
    services.delete_rights_in(row, by=world.producer)
    db.session.commit()
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "rights_grant", AuditEvent.object_id == str(row.id)))]
    assert actions == ["rights_in.created", "rights_in.updated", "rights_in.deleted"]
    with pytest.raises(LicensingError) as outsider:
        services.create_rights_in(world.title, terms, by=world.buyer_a)
    assert outsider.value.status == 403


def test_inquiry_thread_notifies_the_other_side(world):
    inquiry = services.open_inquiry(world.title.id, by=world.buyer_a, subject="Dub?",
                                    body="Is there a Portuguese dub?")
    services.post_message(inquiry, by=world.producer, body="Not yet.")
    db.session.commit()
    assert [m.body for m in inquiry.messages] == ["Is there a Portuguese dub?", "Not yet."]
    kinds = {(n.organization_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (world.producer_org.id, "licensing.inquiry") in kinds
    assert (world.buyer_a.organization_id, "licensing.message") in kinds
    with pytest.raises(LicensingError) as outsider:
        services.post_message(inquiry, by=world.buyer_b, body="Me too")
    assert outsider.value.status == 403
    with pytest.raises(LicensingError) as unverified:
        services.open_inquiry(world.title.id, by=world.unverified, subject="x", body="y")
    assert unverified.value.status == 403
