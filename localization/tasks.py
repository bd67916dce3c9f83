"""Celery tasks of the localization context: thin wrappers around the services."""

from __future__ import annotations

import logging

from celery import shared_task

from marketplace.extensions import db

log = logging.getLogger(__name__)


@shared_task(name="localization.translate")
def translate(job_id: int) -> str | None:
    """Run translation job ``job_id``; a job that is gone or already finished is left alone.

    Any failure the service did not expect still ends with the job failed and the reason
    on it (never stuck in "running"), and can be retried from the jobs page.
    """
    from localization import services
    from localization.models import TranslationJob

    if db.session.get(TranslationJob, job_id) is None:
        return None
    try:
        job = services.run_translation_job(job_id)
    except Exception as exc:
        log.exception("translation job %s failed", job_id)
        db.session.rollback()
        services.mark_job_failed(job_id, f"internal error: {exc.__class__.__name__}: {exc}")
        db.session.commit()
        return "failed"
    return job.status if job is not None else None
