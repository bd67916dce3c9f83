"""Transcode jobs through the services and the task: outputs in storage, progress,
idempotence, cancel, the reaper, every bad input of the issue, and storage failures."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.storage import StorageError, get_storage
from transcode import services
from transcode.models import DeliveryProfile, JobOutput, JobStatus, TranscodeJob

pytestmark = pytest.mark.slow


@pytest.fixture
def adhoc(app, world, store_asset, buyer_profile):
    """``adhoc(path, profile="tiny_fast", **profile changes)``: a queued ad-hoc job of the
    producer on ``path`` stored as episode 1's master (tiny_mp4 normalises loudness and
    draws the AI label; tiny_fast does neither)."""

    def make(path, profile: str = "tiny_fast", **changes):
        if profile in ("tiny_fast", "tiny_mp4") or changes:
            name = changes.pop("name", profile)
            existing = db.session.scalar(select(DeliveryProfile).where(
                DeliveryProfile.name == name,
                DeliveryProfile.organization_id == world.producer_org.id))
            if existing is None:
                buyer_profile(world.producer_org, world.producer, fast=name != "tiny_mp4",
                              name=name, **changes)
            profile = name
        asset = store_asset(world.title, path, episode=world.title.episodes[0])
        job = services.create_adhoc_job(asset.id, profile, by=world.producer)
        db.session.commit()
        return job

    return make


def _outputs(job_id: int) -> list[JobOutput]:
    return db.session.scalars(select(JobOutput).where(JobOutput.job_id == job_id)).all()


def test_job_runs_stores_checksummed_outputs_and_is_idempotent(app, adhoc, media, jobs, run_jobs):
    job = adhoc(media["video"], "tiny_mp4")
    assert job.status == JobStatus.QUEUED
    assert jobs.names() == ["transcode.run_job"]
    pending = list(jobs.pending)
    run_jobs()
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress == 1.0
    assert job.attempts == 1
    assert job.worker
    assert job.result["labels"]["ok"] is True  # explicit and implicit AI labels read back
    assert job.result["labels"]["explicit_expected"] is True
    assert abs(job.result["loudness"]["integrated"] + 14) <= 1  # -14 LUFS, two passes
    (out,) = _outputs(job.id)
    key = out.storage_key
    assert out.path == "E001.tiny_mp4.mp4"
    assert out.storage_key == f"{job.storage_prefix}/E001.tiny_mp4.mp4"
    data = b"".join(get_storage().iter_bytes(out.storage_key))
    assert hashlib.sha256(data).hexdigest() == out.sha256
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == out.md5
    assert len(data) == out.size

    # The broker delivers the message again: nothing runs, nothing is added.
    jobs.pending.extend(pending)
    assert run_jobs() == ["succeeded"]
    assert len(_outputs(job.id)) == 1

    # Run again (as after a worker died between uploading and recording): the same keys
    # are overwritten, one set of outputs remains.
    services._requeue(job)
    db.session.commit()
    run_jobs()
    assert db.session.get(TranscodeJob, job.id).status == JobStatus.SUCCEEDED
    assert [o.storage_key for o in _outputs(job.id)] == [key]
    total = db.session.scalar(select(func.count()).select_from(JobOutput).where(
        JobOutput.storage_key.like(f"{job.storage_prefix}/%")))
    assert total == 1


def test_progress_is_committed_while_running(app, adhoc, media, monkeypatch, jobs, run_jobs):
    adhoc(media["video"])
    seen = []
    real_tick = services._Monitor.tick

    def spy(self, force=False):
        real_tick(self, force=True)
        row = db.session.execute(select(TranscodeJob.status, TranscodeJob.progress,
                                        TranscodeJob.heartbeat_at, TranscodeJob.worker)
                                 .where(TranscodeJob.id == self.job_id)).one()
        seen.append(row)

    monkeypatch.setattr(services._Monitor, "tick", spy)
    run_jobs()
    running = [r for r in seen if r.status == JobStatus.RUNNING]
    assert running, "no progress was recorded while the job ran"
    assert any(0 < r.progress < 1 for r in running)
    assert all(r.heartbeat_at is not None for r in running)
    assert all(r.worker for r in running)
    progress = [r.progress for r in running]
    assert progress == sorted(progress)


def test_cancel_stops_the_runner_and_keeps_nothing(app, adhoc, media, monkeypatch, run_jobs):
    job = adhoc(media["video"])
    job_id = job.id
    real_progress = services._Monitor.progress

    def cancel_midway(self, fraction, speed=None):
        if fraction > 0:
            db.session.execute(services.update(TranscodeJob).where(TranscodeJob.id == job_id)
                               .values(status=JobStatus.CANCELLED))
            db.session.commit()
        real_progress(self, fraction, speed)

    monkeypatch.setattr(services._Monitor, "progress", cancel_midway)
    assert run_jobs() == ["cancelled"]
    assert db.session.get(TranscodeJob, job_id).status == JobStatus.CANCELLED
    assert _outputs(job_id) == []
    assert not get_storage().exists(f"{job.storage_prefix}/E001.tiny_fast.mp4")


def test_cancel_a_queued_job(app, adhoc, media, world, run_jobs):
    job = adhoc(media["video"])
    services.cancel_job(job, by=world.producer)
    db.session.commit()
    assert run_jobs() == ["cancelled"]
    assert _outputs(job.id) == []
    with pytest.raises(services.DeliveryError):
        services.cancel_job(job, by=world.producer)


def test_reaper_requeues_a_job_whose_worker_died(app, adhoc, media, jobs, run_jobs):
    job = adhoc(media["video"])
    jobs.pending.clear()  # the message died with the worker
    assert services.claim_job(job.id, "celery@dead-host") == 1
    job = db.session.get(TranscodeJob, job.id)
    assert services.reap_stale_jobs() == []  # its heartbeat is fresh
    job.heartbeat_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert services.reap_stale_jobs() == [job.id]
    db.session.expire_all()
    assert job.status == JobStatus.QUEUED
    assert "celery@dead-host" in job.error
    assert jobs.names() == ["transcode.run_job"]
    run_jobs()
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert len(_outputs(job.id)) == 1


def test_reaper_gives_up_after_the_last_attempt(app, adhoc, media, jobs):
    job = adhoc(media["video"])
    jobs.pending.clear()
    job.status, job.attempts = JobStatus.RUNNING, 3
    job.heartbeat_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert services.reap_stale_jobs() == []
    db.session.expire_all()
    assert job.status == JobStatus.FAILED
    assert job.retryable
    assert "Gave up after 3 attempts" in job.error


# -- bad input: the job fails with a clear reason or adapts, as the profile says ----------


@pytest.mark.parametrize(("source", "changes", "status", "expected"), [
    ("noaudio", {}, "succeeded", "source has no audio: silent track added"),
    ("noaudio", {"audio": {"codec": "aac", "bitrate_kbps": 64, "no_audio": "reject"}},
     "failed", "the source has no audio and profile tiny_reject requires a sound track"),
    ("vfr", {}, "succeeded", "variable frame rate source converted to constant"),
    ("landscape", {}, "failed", "landscape source (320x180)"),
    ("landscape", {"video": {"codec": "h264", "width": 180, "height": 320, "profile": "high",
                             "preset": "superfast", "crf": 30, "landscape": "pad"}},
     "succeeded", "letterboxed into portrait"),
    ("tenbit", {}, "succeeded", "10-bit source converted to 8-bit yuv420p"),
    ("corrupt", {}, "failed", "ffmpeg failed"),
    ("text", {}, "failed", "unusable source"),
    ("empty", {}, "failed", "unusable source"),
], ids=["noaudio-silence", "noaudio-reject", "vfr", "landscape-reject", "landscape-pad",
        "10bit", "corrupt", "not-video", "empty"])
def test_bad_input(app, adhoc, media, run_jobs, source, changes, status, expected):
    if changes:
        changes = {"name": "tiny_reject" if "audio" in changes else "tiny_pad", **changes}
    job = adhoc(media(source), **changes)
    run_jobs()
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == status, job.error
    if status == "failed":
        assert expected in job.error
        assert not job.retryable
        assert _outputs(job.id) == []  # nothing half-written is ever recorded
        folder = get_storage().local_path(job.storage_prefix)
        assert not folder.exists() or not any(folder.iterdir())
    else:
        assert any(expected in note for note in job.result["notes"]), job.result["notes"]
        assert len(_outputs(job.id)) == 1


class FlakyStorage:
    """The real storage, except that saving job outputs fails ``failures`` times."""

    def __init__(self, inner, failures: int, message: str = "No space left on device"):
        self.inner = inner
        self.failures = failures
        self.message = message

    def save(self, key, stream, content_type=None):
        if key.startswith("transcode/jobs/") and self.failures > 0:
            self.failures -= 1
            raise StorageError(f"could not write {key}: {self.message}")
        return self.inner.save(key, stream, content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_storage_failure_fails_retryable_with_nothing_lost(app, adhoc, media, monkeypatch,
                                                           run_jobs):
    message = "No space left on device"  # a full disk under LocalStorage, or S3 refusing
    job = adhoc(media["video"])
    storage = FlakyStorage(app.extensions["pdx_storage"], failures=5, message=message)
    monkeypatch.setitem(app.extensions, "pdx_storage", storage)
    monkeypatch.setitem(app.config, "PDX_TRANSCODE_MAX_ATTEMPTS", 1)
    source_before = b"".join(storage.iter_bytes(job.source_key))
    assert run_jobs() == ["failed"]
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.FAILED
    assert job.retryable
    assert message in job.error
    assert job.error.startswith("Storage")
    assert _outputs(job.id) == []
    assert b"".join(storage.iter_bytes(job.source_key)) == source_before  # the master is intact

    # The storage recovers; running the job again delivers one complete set.
    storage.failures = 0
    services.retry_job(job, by=None)
    db.session.commit()
    run_jobs()
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.SUCCEEDED
    assert len(_outputs(job.id)) == 1


def test_retryable_failure_is_retried_by_celery_up_to_the_limit(app, adhoc, media, monkeypatch,
                                                                run_jobs):
    job = adhoc(media["video"])
    storage = FlakyStorage(app.extensions["pdx_storage"], failures=1)
    monkeypatch.setitem(app.extensions, "pdx_storage", storage)
    monkeypatch.setitem(app.config, "PDX_TRANSCODE_MAX_ATTEMPTS", 2)
    run_jobs()  # the first attempt fails to store, Celery retries, the second succeeds
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert len(_outputs(job.id)) == 1


def test_missing_source_fails_clearly(app, adhoc, media, run_jobs):
    job = adhoc(media["video"])
    get_storage().delete(job.source_key)
    run_jobs()
    job = db.session.get(TranscodeJob, job.id)
    assert job.status == JobStatus.FAILED
    assert "no longer in storage" in job.error


def test_a_worker_that_lost_its_job_records_and_deletes_nothing(app, adhoc, media, monkeypatch,
                                                               run_jobs):
    """Worker A was silent too long; the reaper gave the job to worker B, which runs it
    under the same keys. When A comes back it must neither record its outputs nor delete
    the files B writes."""
    job = adhoc(media["video"])
    job_id = job.id
    real_upload = services._upload

    def taken_over_during_upload(spec, out_dir, result, monitor, uploaded):
        rows = real_upload(spec, out_dir, result, monitor, uploaded)
        db.session.execute(services.update(TranscodeJob).where(TranscodeJob.id == job_id)
                           .values(attempts=TranscodeJob.attempts + 1, worker="celery@b"))
        db.session.commit()
        return rows

    monkeypatch.setattr(services, "_upload", taken_over_during_upload)
    assert run_jobs() == ["running"]
    job = db.session.get(TranscodeJob, job_id)
    assert job.worker == "celery@b"
    assert job.attempts == 2
    assert _outputs(job_id) == []
    assert get_storage().exists(f"{job.storage_prefix}/E001.tiny_fast.mp4")


@pytest.fixture
def s3_storage(app, monkeypatch):
    """S3Storage against moto's server on loopback, as the app's storage."""
    from moto.server import ThreadedMotoServer

    from marketplace.storage import S3Storage

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    storage = S3Storage("pdx-transcode-test", endpoint_url=f"http://{host}:{port}",
                        access_key_id="test", secret_access_key="test")
    storage.ensure_bucket()
    monkeypatch.setitem(app.extensions, "pdx_storage", storage)
    try:
        yield storage
    finally:
        server.stop()


def test_jobs_and_screeners_on_s3(app, s3_storage, world, store_asset, media, run_jobs):
    """The source comes down from S3 to a scratch file; outputs go up; the screener
    player gets S3's own presigned link."""
    asset = store_asset(world.title, media["video"], episode=world.title.episodes[0])
    assert s3_storage.local_path(asset.storage_key) is None
    screener = services.request_screener(world.title.id, by=world.buyer_a)
    db.session.commit()
    run_jobs()
    db.session.refresh(screener)
    assert screener.ready, screener.job.error
    (out,) = _outputs(screener.job_id)
    data = b"".join(s3_storage.iter_bytes(out.storage_key))
    assert hashlib.sha256(data).hexdigest() == out.sha256
    url = services.watch_screener(screener, by=world.buyer_a)
    assert url.startswith("http://127.0.0.1:")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=3600" in url
