"""Celery tasks of the transcode context (thin: the services do the work), and the
worker-side reaper that re-queues jobs whose worker died.

``acks_late`` brings a killed worker's message back on Redis only after the visibility
timeout, and kombu's SQLAlchemy transport never does; so recovery does not rely on the
broker: a running job beats a heartbeat on its row, and every worker re-queues jobs
whose heartbeat stopped — when it starts (``worker_ready``), every
``PDX_TRANSCODE_REAP_INTERVAL`` seconds after that, and before each job it runs.
"""

from __future__ import annotations

import logging
import socket
import threading
import weakref

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from marketplace.extensions import db

log = logging.getLogger(__name__)

#: Flask apps by the id of their Celery app, so a worker signal finds its Flask app.
_FLASK_APPS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_stop = threading.Event()


def register_app(app) -> None:
    _FLASK_APPS[id(app.extensions["celery"])] = app


@shared_task(bind=True, name="transcode.run_job", max_retries=20)
def run_job(self, job_id: int) -> str:
    """Run transcode job ``job_id``; a job gone, finished or running elsewhere is left
    alone. A retryable failure (storage, disk, a stalled ffmpeg) runs again after a
    delay, up to ``PDX_TRANSCODE_MAX_ATTEMPTS`` attempts in all."""
    from transcode import services

    hostname = self.request.hostname or socket.gethostname()
    try:
        outcome = services.run_job(job_id, hostname=hostname)
    except Exception as exc:
        log.exception("transcode job %s failed unexpectedly", job_id)
        db.session.rollback()
        services.mark_job_failed(job_id, f"internal error: {exc.__class__.__name__}: {exc}")
        db.session.commit()
        return "failed"
    if outcome.retry:
        raise self.retry(countdown=outcome.countdown)
    return str(outcome.status)


@shared_task(name="transcode.finish_package")
def finish_package(package_id: int) -> str:
    """Complete delivery package ``package_id`` once its jobs are done (idempotent)."""
    from transcode import services

    try:
        return str(services.finish_package(package_id))
    except Exception:
        log.exception("delivery package %s could not be finished", package_id)
        db.session.rollback()
        raise


@shared_task(name="transcode.prepare_delivery")
def prepare_delivery(deal_id: int) -> int | None:
    """A deal was signed: prepare its package in the default profile."""
    from transcode import services

    try:
        package = services.package_for_deal(deal_id)
    except services.DeliveryError as exc:
        log.warning("no delivery for deal %s: %s", deal_id, exc)
        db.session.rollback()
        return None
    db.session.commit()
    return package.id


def reap_once(app) -> list[int]:
    from transcode import services

    with app.app_context():
        try:
            return services.reap_stale_jobs()
        except Exception:
            log.exception("reaping stale transcode jobs failed")
            db.session.rollback()
            return []
        finally:
            db.session.remove()


def _reaper_loop(app) -> None:
    from transcode.services import setting

    with app.app_context():
        interval = float(setting("TRANSCODE_REAP_INTERVAL"))
    while not _stop.wait(interval):
        reap_once(app)


@worker_ready.connect(weak=False)
def _on_worker_ready(sender=None, **_kwargs) -> None:
    celery_app = getattr(sender, "app", None)
    app = _FLASK_APPS.get(id(celery_app)) if celery_app is not None else None
    if app is None and len(_FLASK_APPS) == 1:
        app = next(iter(_FLASK_APPS.values()))
    if app is None:
        log.warning("transcode reaper: no Flask app for this worker")
        return
    requeued = reap_once(app)
    if requeued:
        log.warning("transcode reaper: jobs %s queued again (their worker was lost)", requeued)
    _stop.clear()
    threading.Thread(target=_reaper_loop, args=(app,), name="transcode-reaper",
                     daemon=True).start()


@worker_shutdown.connect(weak=False)
def _on_worker_shutdown(**_kwargs) -> None:
    _stop.set()
