"""Test fixtures shared by every context.

The schema is created once per session; each test runs inside a transaction that is
rolled back (SQLAlchemy 2.0's "join an external transaction" recipe), so tests are
fast and independent. SQLite always; PostgreSQL when PDX_TEST_DATABASE_URL is set.
Factories are fixtures that return callables. Context fixture modules are listed in
``pytest_plugins``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import text

from marketplace import create_app
from marketplace.extensions import db

pytest_plugins = [
    "tests.fixtures.accounts",
]

for _plugin in ("catalog", "licensing", "localization", "transcode", "payments", "markets"):
    if (Path(__file__).parent / "fixtures" / f"{_plugin}.py").exists():
        pytest_plugins.append(f"tests.fixtures.{_plugin}")

PG_URL = os.environ.get("PDX_TEST_DATABASE_URL")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


def pytest_collection_modifyitems(config, items):
    # The PostgreSQL leg re-runs only the tests that touch the database.
    if os.environ.get("PDX_TEST_DB_ONLY") == "1":
        keep = [i for i in items if {"app", "base_app"} & set(getattr(i, "fixturenames", ()))]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app_config(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("pdx")
    url = PG_URL or f"sqlite:///{base / 'test.sqlite'}"
    return {
        "ENV": "testing",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(base / "media"),
        "CELERY_BROKER_URL": f"sqla+sqlite:///{base / 'broker.sqlite'}",
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{base / 'results.sqlite'}",
        "JOBS_CAPTURE": True,
        "BASE_URL": "http://localhost",
        "LOGIN_MAX_FAILURES": 5,
        "CATALOG_LIST_CACHE_SECONDS": 0,
    }


@pytest.fixture(scope="session")
def base_app(app_config):
    if PG_URL:
        _reset_postgres(PG_URL)
    app = create_app(app_config)
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class _BoundSession(FlaskSession):
    """Flask-SQLAlchemy picks the engine per model and would bypass the test's
    connection; a session bound to a connection must always use it."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


@pytest.fixture
def app(base_app):
    """The application, inside a transaction rolled back after the test."""
    with base_app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint",
             "class_": _BoundSession})
        base_app.extensions["pdx_captured_jobs"] = []
        try:
            yield base_app
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


class _FreshGClient(FlaskClient):
    """Requests in tests reuse the test's app context (and so its session); ``g`` must
    still start empty for each request, as it does in production."""

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = _FreshGClient
    return app.test_client()


@pytest.fixture
def csrf_token(client):
    """A CSRF token valid for ``client``'s session."""

    def get(path: str = "/login") -> str:
        html = client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    return get


class CapturedJobs:
    """Jobs enqueued by the code under test; ``run_all`` executes them in-process."""

    def __init__(self, app):
        self.app = app

    @property
    def pending(self) -> list:
        return self.app.extensions["pdx_captured_jobs"]

    def names(self) -> list[str]:
        return [name for name, _a, _k in self.pending]

    def run_all(self) -> list:
        celery = self.app.extensions["celery"]
        results = []
        while self.pending:
            name, args, kwargs = self.pending.pop(0)
            results.append(celery.tasks[name].apply(args=args, kwargs=kwargs).get())
        return results


@pytest.fixture
def jobs(app) -> CapturedJobs:
    return CapturedJobs(app)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
