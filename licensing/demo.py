"""Demo licensing: rights in for every published demo title, three signed deals (one the
worked example of DESIGN 4.1 with its US AVOD holdback), an open offer with a counter
round and an inquiry thread, tagged with MIPCOM-2026 and ATF-2026.

Everything goes through the services, so the audit log and notifications read as they
would after real use. Idempotent: titles with rights in and an existing demo story are
left alone.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from catalog.models import Title
from licensing import domain, services
from licensing.models import Offer, RightsGrant
from licensing.terms import parse_fee, parse_terms
from marketplace.accounts.models import Organization, User
from marketplace.extensions import db

PRODUCERS = ("huangpu-pictures", "lujiazui-ai-studio", "zhangjiang-shorts")
DEMO_IP = "127.0.0.1"


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def _published(slug: str) -> list[Title]:
    return list(db.session.scalars(
        select(Title).join(Organization, Organization.id == Title.organization_id)
        .where(Organization.slug == slug, Title.status == "published").order_by(Title.id)))


def _rights_in(log) -> int:
    held = set(db.session.scalars(select(RightsGrant.title_id).where(
        RightsGrant.kind == domain.GrantKind.RIGHTS_IN)))
    terms = parse_terms({"media": ["ALL"], "territories": ["001"],
                         "term": {"start": "2025-01-01", "end": "2032-01-01"},
                         "exclusive": True, "may_sublicense": True})
    added = 0
    for slug in PRODUCERS:
        owner = db.session.scalar(select(User).join(Organization).where(
            Organization.slug == slug).order_by(User.id).limit(1))
        if owner is None:
            continue
        for title in _published(slug):
            if title.id in held:
                continue
            services.create_rights_in(title, terms, by=owner,
                                      note="Chain of title: production agreement (demo)")
            added += 1
    return added


def _deal(title: Title, buyer: User, producer: User, body: dict, fee: dict,
          instalments: list | None, market: str | None) -> None:
    offer, _v = services.make_offer(
        title.id, parse_terms(body), parse_fee(fee, instalments), by=buyer,
        expires_on=services.today() + timedelta(days=30), market_event=market,
        message="Demo deal")
    deal = services.accept_offer(offer.id, by=producer, ip=DEMO_IP)
    services.sign_deal(deal.id, by=producer, name=producer.name, ip=DEMO_IP)
    services.sign_deal(deal.id, by=buyer, name=buyer.name, ip=DEMO_IP)


def load_demo(log) -> None:
    from marketplace.markets.demo import load_demo as load_markets

    load_markets(lambda _msg: None)  # the markets' demo loads after ours; deals need them
    added = _rights_in(log)
    db.session.flush()
    huangpu = _user("producer@huangpu.example")
    lujiazui = _user("producer@lujiazui.example")
    northstar = _user("buyer@northstar.example")
    tropico = _user("buyer@tropico.example")
    merlion = _user("buyer@merlion.example")
    hp_titles = _published("huangpu-pictures")
    lj_titles = _published("lujiazui-ai-studio")
    cast = (huangpu, lujiazui, northstar, tropico, merlion)
    if None in cast or len(hp_titles) < 2 or len(lj_titles) < 2:
        log(f"licensing: rights in for {added} titles (demo cast or catalog incomplete)")
        return
    demo_buyers = [u.organization_id for u in (northstar, tropico, merlion)]
    if db.session.scalar(select(Offer.id).where(Offer.buyer_org_id.in_(demo_buyers)).limit(1)):
        log(f"licensing: rights in for {added} new titles; demo deals already there")
        return

    # DESIGN 4.1's deal A: exclusive SVOD in US and CA, English, with a US AVOD holdback.
    _deal(hp_titles[0], northstar, huangpu, {
        "media": ["SVOD"], "territories": ["US", "CA"], "languages": ["en"],
        "term": {"start": "2026-01-01", "end": "2029-01-01"}, "exclusive": True,
        "holdbacks": [{"media": ["AVOD"], "territories": ["US"], "until": "2027-06-30"}]},
        {"model": "flat", "currency": "USD", "flat_fee_minor": 12_000_000},
        [{"percent": "30", "trigger": "on_signature"},
         {"percent": "70", "trigger": "on_delivery_acceptance"}], "MIPCOM-2026")
    _deal(hp_titles[1], tropico, huangpu, {
        "media": ["SVOD"], "territories": ["005"],
        "languages": ["pt:subtitle", "es:subtitle"],
        "term": {"start": "2027-01-01", "end": "2030-01-01"}, "exclusive": True},
        {"model": "mg_revshare", "currency": "USD", "minimum_guarantee_minor": 4_500_000,
         "revenue_share_bp": 3000},
        [{"percent": "50", "trigger": "on_signature"},
         {"percent": "50", "trigger": "on_date", "due_on": "2027-06-30"}], "ATF-2026")
    _deal(lj_titles[0], merlion, lujiazui, {
        "media": ["AVOD"], "territories": ["035"],
        "term": {"start": "2026-12-01", "end": "2028-12-01"}, "exclusive": False},
        {"model": "revshare", "currency": "SGD", "revenue_share_bp": 4000}, None, "ATF-2026")

    # An open negotiation: Merlion offers, Huangpu counters with a higher fee.
    terms = parse_terms({"media": ["SVOD"], "territories": ["SG", "MY"],
                         "languages": ["en:subtitle", "ms:subtitle", "zh"],
                         "term": {"start": "2027-01-01", "end": "2029-01-01"},
                         "exclusive": True})
    schedule = [{"percent": "30", "trigger": "on_signature"},
                {"percent": "70", "trigger": "on_delivery_acceptance"}]
    offer, _v = services.make_offer(
        hp_titles[0].id, terms, parse_fee({"model": "flat", "currency": "USD",
                                           "flat_fee_minor": 4_000_000}, schedule),
        by=merlion, expires_on=services.today() + timedelta(days=21),
        market_event="ATF-2026", message="For our new short-drama tier in Singapore and Malaysia.")
    services.counter_offer(
        offer, terms, parse_fee({"model": "flat", "currency": "USD",
                                 "flat_fee_minor": 5_500_000}, schedule),
        by=huangpu, expires_on=services.today() + timedelta(days=21),
        message="The series is our best performer in Asia; we can do USD 55,000.")

    # A question before an offer.
    inquiry = services.open_inquiry(
        lj_titles[1].id, by=tropico, subject="Portuguese dubbing for Brazil?",
        body="Do you have a Brazilian Portuguese dub, or may we dub it ourselves? We look at "
             "exclusive SVOD in Brazil from 2027.")
    services.post_message(inquiry, by=lujiazui, body="No dub yet, but we allow dubbing by the "
                                                     "licensee. Portuguese subtitles are ready.")
    db.session.flush()
    log(f"licensing: rights in for {added} titles, 3 signed deals, an offer with a counter "
        f"round, an inquiry")
