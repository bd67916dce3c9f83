"""Jobs: enqueued only after commit, and run by a real Celery worker process on the
embedded SQLite broker and on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from marketplace import create_app
from marketplace.accounts import services
from marketplace.accounts.models import OutboxEmail
from marketplace.extensions import db

REDIS_URL = os.environ.get("PDX_TEST_REDIS_URL")


def test_jobs_wait_for_commit_and_vanish_on_rollback(app, jobs):
    services.sign_up(org_name="Rolled Back Ltd", kind="producer", country="CN", name="R",
                     email="rb@example.com", password="rolled-back-42")
    assert jobs.pending == []  # flushed, not committed: nothing sent yet
    db.session.rollback()
    assert jobs.pending == []
    services.sign_up(org_name="Committed Ltd", kind="producer", country="CN", name="C",
                     email="c@example.com", password="committed-42x")
    db.session.commit()
    assert jobs.names() == ["accounts.send_account_email"]


def test_task_is_idempotent(app, jobs):
    user = services.sign_up(org_name="Twice Ltd", kind="producer", country="CN", name="T",
                            email="twice@example.com", password="twice-twice-42")
    db.session.commit()
    name, args, kwargs = jobs.pending[0]
    jobs.pending.append((name, args, kwargs))  # the broker delivers it again
    assert jobs.run_all() == [True, False]
    mails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.to == user.email)).all()
    assert len(mails) == 1


def _broker_params():
    yield pytest.param("sqlite", id="sqlite-broker")
    yield pytest.param("redis", id="redis-broker", marks=pytest.mark.skipif(
        not REDIS_URL, reason="set PDX_TEST_REDIS_URL (CI does) to run the Redis leg"))


@pytest.mark.slow
@pytest.mark.parametrize("broker", list(_broker_params()))
def test_real_worker_process_runs_the_verification_mail(tmp_path, broker, base_app):
    broker_url = (f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}" if broker == "sqlite"
                  else REDIS_URL)
    config = {
        "ENV": "testing", "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite'}",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'results.sqlite'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env = {**os.environ, **{f"PDX_{k}": v for k, v in config.items()}}
    app = create_app(config)
    try:
        with app.app_context():
            db.create_all()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace.worker:celery", "worker",
             "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with app.app_context():
                services.sign_up(org_name="Worker Test Films", kind="distributor",
                                 country="MX", name="W", email="worker@example.com",
                                 password="worker-test-42")
                db.session.commit()  # the job is sent to the broker here
                deadline = time.monotonic() + 90
                mail = None
                while mail is None and time.monotonic() < deadline:
                    db.session.remove()
                    mail = db.session.scalar(select(OutboxEmail).where(
                        OutboxEmail.to == "worker@example.com"))
                    if worker.poll() is not None:
                        break
                    time.sleep(0.3)
        finally:
            worker.terminate()
            try:
                output = worker.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                worker.kill()
                output = worker.communicate()[0]
        assert mail is not None, f"the worker never wrote the mail; its log:\n{output[-3000:]}"
        assert mail.kind == "signup_received"
        assert "accounts.send_account_email" in output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        base_app.extensions["celery"].set_default()


def test_work_waits_for_the_outermost_commit_not_a_savepoint(app, jobs):
    from marketplace.jobs import on_commit

    ran = []
    on_commit(lambda: ran.append("before"))
    with db.session.begin_nested():
        on_commit(lambda: ran.append("inside"))
    assert ran == []  # releasing a savepoint commits nothing
    db.session.commit()
    assert ran == ["before", "inside"]
    db.session.commit()
    assert ran == ["before", "inside"]  # once
