"""Celery bound to Flask, and work that waits for the transaction to commit.

Embedded default: kombu's SQLAlchemy transport on an SQLite file, so no server is
needed. Scaled out: ``PDX_CELERY_BROKER_URL=redis://…``. Tasks take ids and plain
values (JSON), so nothing depends on an ORM object surviving the trip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blinker import Signal
from celery import Celery, Task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING_KEY = "pdx_pending_jobs"
TASK_PACKAGES = ["marketplace.accounts", "catalog", "licensing", "localization", "transcode"]


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


_hooks_installed = False


def init_app(app: Flask) -> Celery:
    global _hooks_installed
    if not _hooks_installed:
        install_session_hooks()
        _hooks_installed = True
    return celery_init_app(app)
