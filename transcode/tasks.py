"""Celery tasks of the transcode context (thin: the services do the work), and the
worker-side reaper that re-queues jobs whose worker died.

``acks_late`` brings a killed worker's message back on Redis only after the visibility
timeout, and kombu's SQLAlchemy transport never does; so recovery does not rely on the
broker: a running job beats a heartbeat on its row, and every worker re-queues jobs
whose heartbeat stopped — when it starts, every ``PDX_TRANSCODE_REAP_INTERVAL`` seconds
after that (a periodic duty, see ``marketplace.jobs.add_periodic``), and before each job
it runs.
"""

from __future__ import annotations

import logging
import socket

from celery import shared_task

from marketplace.extensions import db

log = logging.getLogger(__name__)


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


#: runs of the finisher after an unforeseen error, before the package fails
FINISH_RETRIES = 3


@shared_task(bind=True, name="transcode.finish_package", max_retries=FINISH_RETRIES)
def finish_package(self, package_id: int) -> str:
    """Complete delivery package ``package_id`` once its jobs are done (idempotent).
    An unforeseen error (the database busy, a bug) is tried again a few times; then
    the package fails with the reason instead of staying "assembling"."""
    from transcode import services

    try:
        return str(services.finish_package(package_id))
    except Exception as exc:
        log.exception("delivery package %s could not be finished", package_id)
        db.session.rollback()
        if self.request.retries < FINISH_RETRIES:
            raise self.retry(countdown=10 * (self.request.retries + 1)) from exc
        services.fail_package(package_id, f"internal error: {exc.__class__.__name__}: {exc}")
        db.session.commit()
        return "failed"


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


def reap_stale_jobs() -> list[int]:
    """The worker's periodic duty (``PDX_TRANSCODE_REAP_INTERVAL``): queue again the
    jobs whose worker died. Several workers reaping at once requeue each job once."""
    from transcode import services

    requeued = services.reap_stale_jobs()
    if requeued:
        log.warning("transcode reaper: jobs %s queued again (their worker was lost)", requeued)
    return requeued
