"""SQLite's write lock held by another process: a request gets a clear "try again"
(503 with Retry-After, or the form back with a message), and nothing is half-saved.

A fresh app on its own database file (the shared test app runs inside one rolled-back
transaction, where no other connection could ever hold the lock), with a short busy
timeout, and a second connection that really holds the write lock.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts import services
from marketplace.accounts.models import ApiToken, Organization, OrgRole, User
from marketplace.db import begin_write
from marketplace.extensions import db

PASSWORD = "correct-horse-42"


@pytest.fixture
def busy_app(tmp_path):
    path = tmp_path / "busy.sqlite"
    app = create_app({"ENV": "testing", "SECRET_KEY": "busy-secret", "DATABASE_URL": f"sqlite:///{path}",
                      "MEDIA_ROOT": str(tmp_path / "media"), "JOBS_CAPTURE": True, "SQLITE_BUSY_MS": 200,
                      "TOKEN_CACHE_SECONDS": 0})  # every call reads (and stamps) its token
    with app.app_context():
        db.create_all()
        org = Organization(name="Busy Films", slug="busy", kind="distributor", status="verified", country="US")
        user = User(email="busy@example.com", name="Busy", password_hash=services.hash_password(PASSWORD),
                    organization=org, org_role=OrgRole.OWNER)
        db.session.add_all([org, user])
        db.session.commit()
        _token, raw = services.create_api_token(user, "busy")
        db.session.commit()
        db.session.remove()
    app.config["raw_token"] = raw
    yield app, path
    with app.app_context():
        db.engine.dispose()


@contextmanager
def write_locked(path):
    """Another process's writer, as a worker's progress beat would be, but for long."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _tokens(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(ApiToken))
        finally:
            db.session.remove()


def test_a_form_sent_while_the_database_is_locked_comes_back_with_a_message(busy_app):
    app, path = busy_app
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    assert client.post("/login", data={"email": "busy@example.com", "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302
    before = _tokens(app)
    with write_locked(path):
        resp = client.post("/organization/tokens", data={"name": "ci", "csrf_token": csrf},
                           headers={"Referer": "http://localhost/organization"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "http://localhost/organization"
    assert resp.headers["Retry-After"] == "2"
    assert _tokens(app) == before  # nothing half-saved
    page = client.get("/organization").get_data(as_text=True)
    assert "The database was busy with other work and nothing was saved." in page
    # and once the lock is gone the same form works
    assert client.post("/organization/tokens", data={"name": "ci", "csrf_token": csrf}).status_code in (200, 302, 303)
    assert _tokens(app) == before + 1


def test_an_api_call_while_the_database_is_locked(busy_app):
    app, path = busy_app
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['raw_token']}"}
    before = _tokens(app)
    with write_locked(path):
        # reading works (the token's last-used stamp is skipped, not the call) ...
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        # ... writing gets a problem saying to try again
        resp = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers)
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["Retry-After"] == "2"
    assert "nothing was saved" in resp.get_json()["detail"]
    assert _tokens(app) == before
    assert client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers).status_code == 201
    assert _tokens(app) == before + 1
    with app.app_context():
        stamped = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "busy"))
        db.session.remove()
    assert stamped is not None  # stamped by the first call after the lock was gone


def test_a_page_that_writes_while_the_database_is_locked_says_so_in_chinese(busy_app):
    app, path = busy_app

    @app.get("/__count-a-view")  # a page that reads, then writes (as counting a view does)
    def count_a_view():
        db.session.scalar(select(func.count(User.id)))
        begin_write(db.session())
        db.session.add(Organization(name="View", slug="view", kind="producer", status="pending", country="CN"))
        db.session.commit()
        return "counted"

    client = app.test_client()
    with write_locked(path):
        resp = client.get("/__count-a-view", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2"
    assert "数据库正忙于其他工作，本次未保存任何内容。" in resp.get_data(as_text=True)
    assert client.get("/__count-a-view").get_data(as_text=True) == "counted"


def test_other_database_errors_stay_errors(busy_app):
    from sqlalchemy import text

    app, _path = busy_app
    app.testing = False  # an unhandled error becomes the 500 page instead of raising here

    @app.get("/__broken")
    def broken():
        db.session.execute(text("SELECT * FROM no_such_table"))

    assert app.test_client().get("/__broken").status_code == 500
