"""Worker processes share the embedded SQLite database (``pdx serve`` runs two): a job's
end is recorded even when another process wrote (a progress beat, another job's end)
after the worker read the job. Begun as a plain read, the worker's transaction failed
at its first write with "database is locked", and the job and its package with it."""

from __future__ import annotations

import sqlite3

import pytest

from marketplace import create_app
from marketplace.extensions import db
from transcode import services

#: Small and quick, and with nothing to label: the job needs no title metadata.
PLAIN = {"name": "plain", "container": "mp4",
         "video": {"codec": "h264", "width": 180, "height": 320, "profile": "high",
                   "preset": "superfast", "crf": 30, "gop_seconds": 1},
         "audio": {"codec": "aac", "bitrate_kbps": 64},
         "ai_label": {"explicit": False, "implicit": False}}


@pytest.mark.slow
def test_a_jobs_end_is_recorded_when_another_process_wrote_meanwhile(tmp_path, base_app, media,
                                                                      monkeypatch):
    from catalog.models import Title
    from marketplace.accounts.models import Organization
    from marketplace.storage import get_storage
    from transcode.models import TranscodeJob

    path = tmp_path / "jobs.sqlite"
    app = create_app({"ENV": "testing", "SECRET_KEY": "write-lock-test",
                      "DATABASE_URL": f"sqlite:///{path}", "MEDIA_ROOT": str(tmp_path / "media"),
                      "TRANSCODE_WORK_DIR": str(tmp_path / "work"), "JOBS_CAPTURE": True,
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"})
    refused = []
    record_end = services._after_job

    def another_process_writes(job):
        """Between reading the finished job and writing its end, the other worker tries to
        write, without waiting: it must find the lock taken (else this one's write fails)."""
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("UPDATE organization SET name = name || '.'")
            other.commit()
        except sqlite3.OperationalError as exc:
            refused.append(str(exc))
        finally:
            other.close()
        record_end(job)

    monkeypatch.setattr(services, "_after_job", another_process_writes)
    try:
        with app.app_context():
            db.create_all()
            org = Organization(name="Lock Test Pictures", slug="lock-test", kind="producer",
                               status="verified", country="CN")
            title = Title(organization=org, original_title="锁", original_language="zh",
                          status="published")
            db.session.add_all([org, title])
            db.session.flush()
            with media["video"].open("rb") as fh:
                stored = get_storage().save("catalog/title-1/master.mp4", fh)
            job = TranscodeJob(organization_id=org.id, title_id=title.id, source_key=stored.key,
                               source_name="master.mp4", purpose="adhoc", profile_name="plain",
                               profile=services.parse_definition(PLAIN).to_dict())
            db.session.add(job)
            db.session.commit()

            outcome = services.run_job(job.id, hostname="lock@test")
            assert outcome.status == "succeeded", db.session.get(TranscodeJob, job.id).error
            assert refused == ["database is locked"]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        base_app.extensions["celery"].set_default()
