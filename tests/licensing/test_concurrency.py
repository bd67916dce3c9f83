"""Decisions taken at the same moment, with real concurrent connections to a committed
database (a temporary SQLite file, and PostgreSQL when PDX_TEST_DATABASE_URL is set):
two buyers' overlapping exclusive offers accepted at once make exactly one deal and one
clear refusal; both sides signing at once send ``deal_signed`` once; workers sweeping
expired offers at once — threads, then real worker processes on their timers — expire
and audit each offer once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from marketplace import create_app
from marketplace.extensions import db

PG_URL = os.environ.get("PDX_TEST_DATABASE_URL")
SCHEMA = "lic_concurrency"


def _pg_url() -> str:
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    # public stays on the path, after our schema, for the pg_trgm operators of the catalog's
    # search index; tables are created without checking for them (see below).
    return f"{base}{sep}options=-csearch_path%3D{SCHEMA},public"


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_app(request, base_app, tmp_path):
    """An application on its own database whose transactions really commit (``base_app``
    keeps this test in the PostgreSQL leg of CI)."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PDX_TEST_DATABASE_URL is not set")
    url = _pg_url() if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'concurrency.sqlite'}"
    app = create_app({"ENV": "testing", "SECRET_KEY": "concurrency", "DATABASE_URL": url,
                      "MEDIA_ROOT": str(tmp_path / "media"), "JOBS_CAPTURE": True,
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"})
    with app.app_context():
        # Not db.create_all(): it would see the test session's tables in public and skip
        # them; these must be created in the dedicated schema.
        db.metadata.create_all(db.engine, checkfirst=request.param == "sqlite")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()
    base_app.extensions["celery"].set_default()


def _setup(app, offers: int = 2) -> tuple[int, list[int]]:
    """A published title with exclusive World rights in, and two buyers' overlapping
    exclusive offers on it (then more, in other countries, up to ``offers``), each
    expiring in ten days. Returns the producer's user id and the offers' ids."""
    from catalog.models import Title
    from licensing import services
    from licensing.terms import parse_fee, parse_terms
    from marketplace.accounts.models import Organization, User

    with app.app_context():
        def org(kind: str, slug: str) -> Organization:
            row = Organization(name=slug, slug=slug, kind=kind, status="verified")
            db.session.add(row)
            return row

        def user(o: Organization, email: str) -> User:
            row = User(email=email, name=email.split("@")[0], password_hash="x", organization=o,
                       org_role="owner")
            db.session.add(row)
            return row

        producer = user(org("producer", "studio"), "producer@studio.example")
        buyers = [user(org("distributor", f"buyer{n}"), f"b{n}@buyer.example") for n in (1, 2)]
        title = Title(organization=producer.organization, status="published",
                      original_title="并发测试", original_language="zh", episode_count=10)
        db.session.add(title)
        db.session.flush()
        today = services.today()
        services.create_rights_in(title, parse_terms({
            "media": ["ALL"], "territories": ["001"], "exclusive": True,
            "term": {"start": (today - timedelta(days=1)).isoformat(),
                     "end": (today + timedelta(days=3650)).isoformat()}}), by=producer)
        made = []
        # The first two overlap, not identically: SVOD in South America and in Brazil.
        territories = [["005"], ["BR"], ["MX"], ["CO"], ["PE"], ["CL"], ["AR"], ["UY"]]
        for n in range(offers):
            buyer = buyers[n % 2]
            terms = parse_terms({"media": ["SVOD"], "territories": territories[n],
                                 "exclusive": True,
                                 "term": {"start": (today + timedelta(days=30)).isoformat(),
                                          "end": (today + timedelta(days=800)).isoformat()}})
            fee = parse_fee({"model": "flat", "currency": "USD", "flat_fee_minor": 100_000},
                            None)
            offer, _v = services.make_offer(title.id, terms, fee, by=buyer,
                                            expires_on=today + timedelta(days=10))
            made.append(offer.id)
        db.session.commit()
        return producer.id, made


def test_two_acceptances_at_once_make_one_deal(committed_app):
    from licensing import services
    from licensing.models import Deal, Offer
    from licensing.terms import LicensingError
    from marketplace.accounts.models import User

    producer_id, offer_ids = _setup(committed_app)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[int, object] = {}

    def accept(offer_id: int) -> None:
        with committed_app.app_context():
            try:
                # Like a request: read first (the user, the offer), then decide.
                producer = db.session.get(User, producer_id)
                db.session.get(Offer, offer_id)
                barrier.wait()
                deal = services.accept_offer(offer_id, by=producer, ip="127.0.0.1")
                db.session.commit()
                outcomes[offer_id] = deal.number
            except LicensingError as exc:
                db.session.rollback()
                outcomes[offer_id] = exc
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                db.session.rollback()
                outcomes[offer_id] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(i,)) for i in offer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    deals = [v for v in outcomes.values() if isinstance(v, str)]
    refusals = [v for v in outcomes.values() if isinstance(v, LicensingError)]
    assert len(deals) == 1, outcomes
    assert len(refusals) == 1, outcomes
    assert refusals[0].status == 409
    assert "not available" in str(refusals[0])
    with committed_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Deal)) == 1
        statuses = sorted(db.session.scalars(select(Offer.status)))
        assert statuses == ["accepted", "open"]
        db.session.remove()


def _at_once(app, *calls) -> list:
    """Run each call in its own thread and application context, all released at the
    same moment; returns what each returned or raised, in order."""
    barrier = threading.Barrier(len(calls), timeout=30)
    outcomes: list = [None] * len(calls)

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                outcomes[i] = calls[i]()
            except Exception as exc:  # noqa: BLE001 - reported by the callers' assertions
                db.session.rollback()
                outcomes[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_both_sides_signing_at_once_send_deal_signed_once(committed_app):
    from licensing import services
    from licensing.models import Deal, DealStatus, Offer
    from licensing.signals import deal_signed
    from marketplace.accounts.models import User

    producer_id, (offer_id, _other) = _setup(committed_app)
    with committed_app.app_context():
        producer = db.session.get(User, producer_id)
        deal = services.accept_offer(offer_id, by=producer)
        db.session.commit()
        deal_id, number = deal.id, deal.number
        buyer_id = db.session.get(Offer, offer_id).round.proposed_by_user_id
        db.session.remove()

    def sign(user_id: int, name: str):
        def call():
            signature = services.sign_deal(deal_id, by=db.session.get(User, user_id),
                                           name=name, ip="127.0.0.1")
            db.session.commit()
            return signature.side

        return call

    heard = []
    with deal_signed.connected_to(lambda _app, **kw: heard.append(kw), sender=committed_app):
        outcomes = _at_once(committed_app, sign(producer_id, "Producer"),
                            sign(buyer_id, "Buyer"))
    assert sorted(outcomes) == ["buyer", "producer"], outcomes
    assert heard == [{"deal_id": deal_id, "number": number}]
    with committed_app.app_context():
        assert db.session.get(Deal, deal_id).status == DealStatus.SIGNED
        db.session.remove()


def _expired_audits(app) -> list[int]:
    from marketplace.audit import AuditEvent

    with app.app_context():
        ids = [int(i) for i in db.session.scalars(
            select(AuditEvent.object_id).where(AuditEvent.action == "offer.expired"))]
        db.session.remove()
    return sorted(ids)


def test_two_workers_sweeping_at_once_expire_each_offer_once(committed_app, monkeypatch):
    from licensing import services
    from licensing.models import Offer
    from marketplace.jobs import run_periodic

    _producer_id, offer_ids = _setup(committed_app, offers=8)
    later = services.today() + timedelta(days=10)
    monkeypatch.setattr(services, "today", lambda: later)
    (sweep,) = [d for d in committed_app.extensions["pdx_periodic"]
                if d.name == "licensing.expire_offers"]
    outcomes = _at_once(committed_app, lambda: run_periodic(committed_app, sweep),
                        lambda: run_periodic(committed_app, sweep))
    assert all(isinstance(o, list) for o in outcomes), outcomes  # neither sweep failed
    expired = outcomes[0] + outcomes[1]
    assert len(expired) == len(set(expired)) == len(offer_ids)
    assert _expired_audits(committed_app) == sorted(offer_ids)
    with committed_app.app_context():
        assert set(db.session.scalars(select(Offer.status))) == {"expired"}
        db.session.remove()


def _start_worker(app, tmp_path, name: str) -> tuple[subprocess.Popen, Path]:
    """``pdx worker``'s Celery worker on ``app``'s database, sweeping every second; its
    log goes to a file, read while it runs."""
    config = {"ENV": "testing", "SECRET_KEY": "concurrency",
              "DATABASE_URL": app.config["PDX_DATABASE_URL"],
              "MEDIA_ROOT": app.config["PDX_MEDIA_ROOT"],
              "CELERY_BROKER_URL": app.config["PDX_CELERY_BROKER_URL"],
              "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'results.sqlite'}",
              "LICENSING_EXPIRE_INTERVAL": "1"}
    env = {**os.environ, **{f"PDX_{k}": v for k, v in config.items()}}
    env.pop("PDX_JOBS_CAPTURE", None)
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace.worker:celery", "worker",
             "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{name}@%h"],
            env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    return proc, log


def _wait_for(condition, workers, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if any(proc.poll() is not None for proc, _log in workers):
            return False
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_running_workers_expire_offers_without_an_operator(committed_app, tmp_path):
    from licensing import services
    from licensing.models import Offer, OfferRound, RightsGrant

    _producer_id, offer_ids = _setup(committed_app, offers=4)
    # Two workers declaring the queue on a new SQLite broker at the same instant race on
    # kombu's queue table; here the queue exists before they start.
    celery = committed_app.extensions["celery"]
    with celery.connection_for_write() as conn:
        celery.amqp.queues[celery.conf.task_default_queue].bind(conn.default_channel).declare()
    workers = [_start_worker(committed_app, tmp_path, name) for name in ("one", "two")]

    def logs() -> list[str]:
        return [log.read_text() for _proc, log in workers]

    def statuses() -> set[str]:
        with committed_app.app_context():
            found = set(db.session.scalars(select(Offer.status)))
            db.session.remove()
        return found

    try:
        timers = _wait_for(lambda: all("periodic duty licensing.expire_offers every 1s" in log
                                       for log in logs()), workers)
        assert timers, "\n".join(log[-2000:] for log in logs())
        assert statuses() == {"open"}  # nothing due yet
        yesterday = services.today() - timedelta(days=1)
        with committed_app.app_context():
            # While both workers sweep, the offers' time runs out.
            db.session.execute(update(OfferRound).values(expires_on=yesterday))
            db.session.execute(update(RightsGrant).where(RightsGrant.status == "offer")
                               .values(expires_on=yesterday))
            db.session.commit()
            db.session.remove()
        assert _wait_for(lambda: statuses() == {"expired"}, workers), \
            "\n".join(log[-2000:] for log in logs())
    finally:
        for proc, _log in workers:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert _expired_audits(committed_app) == sorted(offer_ids)
    with committed_app.app_context():
        numbers = sorted(db.session.scalars(select(Offer.number)))
        db.session.remove()
    reported = sorted(number for log in logs() for line in log.splitlines()
                      if "offers expired: " in line
                      for number in line.split("offers expired: ", 1)[1].split(", "))
    assert reported == numbers  # each by one worker or the other, none by both
