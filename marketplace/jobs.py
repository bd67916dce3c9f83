"""Celery bound to Flask, work that waits for the transaction to commit, and the duties
every worker runs on a timer.

Embedded default: kombu's SQLAlchemy transport on an SQLite file, so no server is
needed. Scaled out: ``PDX_CELERY_BROKER_URL=redis://…``. Tasks take ids and plain
values (JSON), so nothing depends on an ORM object surviving the trip.

Periodic duties (:func:`add_periodic`) run in a thread of every worker's main process:
once when the worker is ready, then every interval. There is no beat process to keep
single, so a duty runs in as many processes as there are workers and must be safe to
run twice at the same moment.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blinker import Signal
from celery import Celery, Task
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "pdx_pending_jobs"
TASK_PACKAGES = ["marketplace.accounts", "catalog", "licensing", "localization", "transcode"]

#: Flask apps by the id of their Celery app, so a worker signal finds its Flask app.
_FLASK_APPS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_stop = threading.Event()


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["PDX_CELERY_BROKER_URL"]
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker,
        result_backend=app.config["PDX_CELERY_RESULT_BACKEND"],
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,  # a job whose worker dies is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        result_extended=True,
    )
    if broker.startswith("sqla+"):
        _prepare_sqlalchemy_broker(broker)
    celery.set_default()
    celery.autodiscover_tasks(TASK_PACKAGES, force=True)
    app.extensions["celery"] = celery
    app.extensions["pdx_periodic"] = []
    _FLASK_APPS[id(celery)] = app
    return celery


def _prepare_sqlalchemy_broker(url: str) -> None:
    # Passing polling_interval in transport options crashes the worker (DESIGN.md §5);
    # the class attribute is the way that works.
    from kombu.transport import sqlalchemy as kombu_sqla

    kombu_sqla.Transport.polling_interval = 0.5
    path = url.split("sqlite:///", 1)[-1] if "sqlite:///" in url else None
    if path:
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------- after commit


def on_commit(callback: Callable[[], object]) -> None:
    """Call ``callback()`` once the current transaction commits (the outermost one, not
    a savepoint); forget it if the transaction rolls back. Callbacks run in the order
    they were added, in the application context of the commit; the session is between
    transactions then, so a callback must not use the database."""
    from marketplace.extensions import db

    db.session.info.setdefault(PENDING_KEY, []).append(callback)


def enqueue(task: Task, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` once the current transaction commits; drop it if it rolls back.
    Called from an :func:`on_commit` callback, it is sent by the commit running it."""
    on_commit(lambda: dispatch(task.name, args, kwargs))


def dispatch(name: str, args, kwargs) -> None:
    app = current_app._get_current_object()
    if app.config["PDX_JOBS_CAPTURE"]:
        app.extensions.setdefault("pdx_captured_jobs", []).append((name, args, kwargs))
        return
    app.extensions["celery"].send_task(name, args=list(args), kwargs=kwargs)


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` (sender: the Flask app) with ``kwargs`` once the current
    transaction commits; never if it rolls back.

    What the signal announces has happened by then, so a receiver that raises is logged
    and the others still run: the commit stands either way."""
    app = current_app._get_current_object()

    def send() -> None:
        if signal.is_muted:
            return
        for receiver in signal.receivers_for(app):
            try:
                receiver(app, **kwargs)
            except Exception:
                log.exception("a receiver of %s failed", getattr(signal, "name", signal))

    on_commit(send)


def install_session_hooks() -> None:
    @event.listens_for(Session, "after_commit")
    def _send(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint was released: the work waits for the real commit
        # Callbacks may add more (an enqueue from a signal's receiver): run those too.
        while pending := session.info.pop(PENDING_KEY, None):
            for callback in pending:
                callback()

    @event.listens_for(Session, "after_soft_rollback")
    def _drop(session: Session, previous_transaction) -> None:
        if previous_transaction.parent is None:  # the outermost transaction rolled back
            session.info.pop(PENDING_KEY, None)


# --------------------------------------------------------------------------- periodic duties


@dataclass(frozen=True)
class Periodic:
    """A duty run by every worker process on a timer; see :func:`add_periodic`."""

    name: str
    run: Callable[[], object]
    key: str  # the setting holding the interval in seconds (PDX_…); 0 turns it off

    def interval(self, app: Flask) -> float:
        return float(app.config[self.key])


def add_periodic(app: Flask, name: str, run: Callable[[], object], *, setting: str,
                 default: float) -> Periodic:
    """Have every worker run ``run()`` in an application context when it is ready and
    every ``PDX_<setting>`` seconds after that (from the configuration, else the
    environment, else ``default``; 0 turns the duty off).

    ``run`` commits its own work. Several workers run it at the same moment, so it must
    be idempotent under concurrency: claim rows with a conditional update or a lock.
    An exception is logged and the session rolled back; the timer goes on."""
    from marketplace.config import ConfigError

    key = f"PDX_{setting}"
    if key not in app.config:
        app.config[key] = os.environ.get(key, default)
    try:
        seconds = float(app.config[key])
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:  # also refuses NaN
        raise ConfigError(f"{key} must be a number of seconds (0 turns it off), "
                          f"not {app.config[key]!r}")
    app.config[key] = seconds
    duty = Periodic(name, run, key)
    app.extensions["pdx_periodic"].append(duty)
    return duty


def run_periodic(app: Flask, duty: Periodic) -> object | None:
    """One run of ``duty``, as a worker's timer does it: its own session, and an error
    logged, not raised."""
    from marketplace.extensions import db

    with app.app_context():
        try:
            return duty.run()
        except Exception:
            log.exception("periodic duty %s failed", duty.name)
            return None
        finally:
            db.session.remove()  # what the duty left uncommitted is rolled back


def _periodic_loop(app: Flask, duty: Periodic, interval: float) -> None:
    while True:
        try:
            run_periodic(app, duty)
        except Exception:  # even ending the session failed (the database went away)
            log.exception("periodic duty %s failed", duty.name)
        if _stop.wait(interval):
            return


def _flask_app(sender) -> Flask | None:
    celery_app = getattr(sender, "app", None)
    app = _FLASK_APPS.get(id(celery_app)) if celery_app is not None else None
    if app is None and len(_FLASK_APPS) == 1:
        app = next(iter(_FLASK_APPS.values()))
    return app


@worker_ready.connect(weak=False)
def _start_periodic(sender=None, **_kwargs) -> None:
    app = _flask_app(sender)
    if app is None:
        log.warning("periodic duties: no Flask app for this worker")
        return
    _stop.clear()
    for duty in app.extensions.get("pdx_periodic", ()):
        interval = duty.interval(app)
        if interval <= 0:
            log.info("periodic duty %s is off (%s=0)", duty.name, duty.key)
            continue
        log.info("periodic duty %s every %gs", duty.name, interval)
        threading.Thread(target=_periodic_loop, args=(app, duty, interval),
                         name=f"pdx-{duty.name}", daemon=True).start()


@worker_shutdown.connect(weak=False)
def _stop_periodic(**_kwargs) -> None:
    _stop.set()


@worker_process_init.connect(weak=False)
def _forget_parent_connections(**_kwargs) -> None:
    # A pool process forked after the duties ran would otherwise inherit the main
    # process's open database connections; it opens its own.
    from marketplace.extensions import db

    for app in list(_FLASK_APPS.values()):
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)


_hooks_installed = False


def init_app(app: Flask) -> Celery:
    global _hooks_installed
    if not _hooks_installed:
        install_session_hooks()
        _hooks_installed = True
    return celery_init_app(app)
