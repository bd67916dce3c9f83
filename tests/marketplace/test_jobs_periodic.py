"""Periodic duties: registered by the contexts with their intervals, run by every worker
on a timer, an error logged without stopping the timer. (The duties themselves are
tested in their contexts; real worker processes run them in
tests/licensing/test_concurrency.py and tests/transcode/app/test_worker.py.)"""

from __future__ import annotations

import logging
import threading

import pytest
from celery.signals import worker_ready, worker_shutdown
from sqlalchemy import select

from marketplace import create_app
from marketplace.config import ConfigError
from marketplace.jobs import add_periodic, run_periodic


@pytest.fixture
def make_app(tmp_path, base_app):
    """``make_app(**config)``: an application of its own (not bound to the test
    database); the session's Celery app is the default again afterwards."""

    def make(**config):
        return create_app({"ENV": "testing", "SECRET_KEY": "periodic-test",
                           "DATABASE_URL": f"sqlite:///{tmp_path / 'periodic.sqlite'}",
                           "MEDIA_ROOT": str(tmp_path / "media"),
                           "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
                           **config})

    yield make
    base_app.extensions["celery"].set_default()


class _Worker:
    """What ``worker_ready`` sends: a worker with its Celery app."""

    def __init__(self, celery):
        self.app = celery


def _duties(app) -> dict[str, float]:
    return {d.name: d.interval(app) for d in app.extensions["pdx_periodic"]}


def test_contexts_register_their_duties_with_default_intervals(make_app, monkeypatch):
    monkeypatch.delenv("PDX_LICENSING_EXPIRE_INTERVAL", raising=False)
    monkeypatch.delenv("PDX_TRANSCODE_REAP_INTERVAL", raising=False)
    duties = _duties(make_app())
    assert duties == {"licensing.expire_offers": 300, "transcode.reap": 15}


def test_intervals_come_from_the_environment_or_the_configuration(make_app, monkeypatch):
    monkeypatch.setenv("PDX_LICENSING_EXPIRE_INTERVAL", "60")
    assert _duties(make_app())["licensing.expire_offers"] == 60
    assert _duties(make_app(LICENSING_EXPIRE_INTERVAL=0))["licensing.expire_offers"] == 0
    monkeypatch.setenv("PDX_LICENSING_EXPIRE_INTERVAL", "soon")
    with pytest.raises(ConfigError, match="PDX_LICENSING_EXPIRE_INTERVAL"):
        make_app()
    monkeypatch.setenv("PDX_LICENSING_EXPIRE_INTERVAL", "-5")
    with pytest.raises(ConfigError, match="0 turns it off"):
        make_app()


def test_a_failing_run_is_logged_and_rolled_back(app, caplog):
    from marketplace.accounts.models import Organization
    from marketplace.extensions import db

    def broken():
        db.session.add(Organization(name="Half Done", slug="half-done", kind="producer"))
        db.session.flush()
        raise RuntimeError("duty bug")

    duty = add_periodic(app, "test.broken", broken, setting="TEST_BROKEN_INTERVAL", default=0)
    try:
        with caplog.at_level(logging.ERROR):
            assert run_periodic(app, duty) is None
        assert "periodic duty test.broken failed" in caplog.text
        assert "duty bug" in caplog.text
        assert db.session.scalar(select(Organization).where(
            Organization.slug == "half-done")) is None
    finally:
        app.extensions["pdx_periodic"].remove(duty)


def test_a_ready_worker_runs_each_duty_on_its_timer_until_shutdown(make_app):
    app = make_app(LICENSING_EXPIRE_INTERVAL=0, TRANSCODE_REAP_INTERVAL=0)
    runs = []
    ran_twice = threading.Event()

    def tick():
        runs.append(threading.current_thread().name)
        if len(runs) == 2:
            ran_twice.set()
        if len(runs) == 1:
            raise RuntimeError("the first run fails; the timer goes on")

    add_periodic(app, "test.tick", tick, setting="TEST_TICK_INTERVAL", default=0.01)
    worker_ready.send(sender=_Worker(app.extensions["celery"]))
    try:
        assert ran_twice.wait(30), "the duty did not run again"
        threads = {t.name: t for t in threading.enumerate()}
        assert "pdx-test.tick" in threads
        assert not {"pdx-licensing.expire_offers", "pdx-transcode.reap"} & threads.keys()  # off
    finally:
        worker_shutdown.send(sender=None)
    threads["pdx-test.tick"].join(30)
    assert not threads["pdx-test.tick"].is_alive()
    assert set(runs) == {"pdx-test.tick"}
