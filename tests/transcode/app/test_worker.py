"""A real Celery worker is killed in the middle of an encode; a second worker picks the
job up again and finishes it with exactly one set of outputs. On the embedded SQLite
broker (which never redelivers an unacknowledged message) and on Redis (which would, but
only after its visibility timeout): the heartbeat and the reaper do not depend on it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from celery import current_app as current_celery
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.extensions import db

REDIS_URL = os.environ.get("PDX_TEST_REDIS_URL")

#: Slow enough that the worker can be killed mid-encode: 720x1280 at x264's "slow".
SLOW_PROFILE = {
    "name": "slow_720", "container": "mp4",
    "video": {"codec": "h264", "width": 720, "height": 1280, "profile": "high",
              "preset": "slow", "crf": 18, "gop_seconds": 1},
    "audio": {"codec": "aac", "bitrate_kbps": 96},
    "ai_label": {"explicit": False, "implicit": False},
}


def _broker_params():
    yield pytest.param("sqlite", id="sqlite-broker")
    yield pytest.param("redis", id="redis-broker", marks=pytest.mark.skipif(
        not REDIS_URL, reason="set PDX_TEST_REDIS_URL (CI does) to run the Redis leg"))


def _start_worker(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "marketplace.worker:celery", "worker",
         "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"{name}@%h"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)  # its own process group: ffmpeg dies with it


def _stop(proc: subprocess.Popen, kill: bool = False) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()[0]


def _wait(app, job_id: int, done, seconds: float, worker: subprocess.Popen):
    from transcode.models import TranscodeJob

    deadline = time.monotonic() + seconds
    with app.app_context():
        while time.monotonic() < deadline:
            db.session.remove()
            job = db.session.get(TranscodeJob, job_id)
            if done(job):
                return job.status, job.progress, job.worker, job.attempts
            if worker.poll() is not None:
                break
            time.sleep(0.1)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("broker", list(_broker_params()))
def test_killed_worker_does_not_lose_the_job(tmp_path, broker):
    from catalog.models import Episode, MediaAsset, Title
    from marketplace.accounts.models import Organization, User
    from marketplace.storage import get_storage
    from transcode import services
    from transcode.models import JobOutput, TranscodeJob

    source = tmp_path / "ep001.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", "testsrc2=s=180x320:r=30:d=4", "-f", "lavfi", "-i",
                    "sine=f=440:r=48000:d=4", "-ac", "2", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(source)],
                   check=True)
    broker_url = (f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}" if broker == "sqlite"
                  else REDIS_URL)
    config = {
        "ENV": "testing", "SECRET_KEY": "worker-kill-test-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite'}",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'results.sqlite'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "TRANSCODE_STALE_SECONDS": 2, "TRANSCODE_REAP_INTERVAL": 1,
        "TRANSCODE_WORK_DIR": str(tmp_path / "work"),
    }
    env = {**os.environ, **{f"PDX_{k}": str(v) for k, v in config.items()}}
    env.pop("PDX_JOBS_CAPTURE", None)
    previous_celery = current_celery._get_current_object()
    app = create_app(config)
    first = second = None
    logs = []
    try:
        with app.app_context():
            db.create_all()
            org = Organization(name="Kill Test Pictures", slug="kill-test", kind="producer",
                               status="verified", country="CN")
            user = User(email="kill@example.com", name="K", password_hash="x",
                        organization=org, org_role="owner")
            title = Title(organization=org, original_title="断点续传", original_language="zh",
                          status="published")
            episode = Episode(series=title, number=1)
            with source.open("rb") as fh:
                stored = get_storage().save("catalog/title-1/master-ep001.mp4", fh)
            asset = MediaAsset(title=title, episode=episode, kind="master", filename="ep001.mp4",
                               storage_key=stored.key, size=stored.size, sha256=stored.sha256)
            db.session.add_all([org, user, title, episode, asset])
            db.session.commit()
            services.create_profile(SLOW_PROFILE, by=user, organization_id=org.id)
            job = services.create_adhoc_job(asset.id, "slow_720", by=user)
            db.session.commit()  # the job goes to the broker here
            job_id = job.id

        first = _start_worker(env, "first")
        running = _wait(app, job_id, lambda j: j.status == "running" and j.progress > 0, 90, first)
        logs.append(_stop(first, kill=True))  # SIGKILL mid-encode: no goodbye, no ack
        assert running is not None, f"the first worker never made progress:\n{logs[-1][-3000:]}"
        assert running[2].startswith("first@")
        with app.app_context():
            job = db.session.get(TranscodeJob, job_id)
            assert job.status == "running"  # nobody told the database
            assert job.progress < 1
            assert db.session.scalar(select(func.count()).select_from(JobOutput)) == 0

        second = _start_worker(env, "second")
        finished = _wait(app, job_id, lambda j: j.status in ("succeeded", "failed"), 120, second)
        logs.append(_stop(second))
        assert finished is not None, f"the job never finished:\n{logs[-1][-3000:]}"
        status, progress, worker, attempts = finished
        assert status == "succeeded", logs[-1][-3000:]
        assert worker.startswith("second@")
        assert attempts == 2
        with app.app_context():
            outputs = db.session.scalars(select(JobOutput)).all()
            assert len(outputs) == 1
            (out,) = outputs
            data = b"".join(get_storage().iter_bytes(out.storage_key))
            assert hashlib.sha256(data).hexdigest() == out.sha256
            from marketplace.audit import AuditEvent

            lost = db.session.scalars(select(AuditEvent).where(
                AuditEvent.action == "transcode.job_requeued")).all()
            assert [e.changes["worker"].split("@")[0] for e in lost] == ["first"]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                _stop(proc, kill=True)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        previous_celery.set_default()
