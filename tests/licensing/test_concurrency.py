"""Two buyers' overlapping exclusive offers accepted at the same moment: exactly one deal
and one clear refusal, with real concurrent connections to a committed database (a
temporary SQLite file, and PostgreSQL when PDX_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

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


def _setup(app) -> tuple[int, list[int]]:
    """A published title with exclusive World rights in, and two buyers' overlapping
    exclusive offers on it. Returns the producer's user id and the offers' ids."""
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
        offers = []
        for n, buyer in enumerate(buyers):
            # Overlapping, not identical: SVOD in South America and in Brazil alone.
            terms = parse_terms({"media": ["SVOD"], "territories": [["005"], ["BR"]][n],
                                 "exclusive": True,
                                 "term": {"start": (today + timedelta(days=30)).isoformat(),
                                          "end": (today + timedelta(days=800)).isoformat()}})
            fee = parse_fee({"model": "flat", "currency": "USD", "flat_fee_minor": 100_000},
                            None)
            offer, _v = services.make_offer(title.id, terms, fee, by=buyer,
                                            expires_on=today + timedelta(days=10))
            offers.append(offer.id)
        db.session.commit()
        return producer.id, offers


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
