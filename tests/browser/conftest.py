"""A live marketplace on a loopback port, with demo data, for the browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, base_app):
    from marketplace import create_app
    from marketplace.extensions import db

    base = tmp_path_factory.mktemp("live")
    app = create_app({"ENV": "testing", "SECRET_KEY": "live-secret",
                      "DATABASE_URL": f"sqlite:///{base / 'live.sqlite'}",
                      "MEDIA_ROOT": str(base / "media"), "JOBS_CAPTURE": True,
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{base / 'broker.sqlite'}"})
    with app.app_context():
        db.create_all()
        for loader in app.extensions["pdx_demo"]:
            loader(lambda *_: None)
            db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_app.extensions["celery"].set_default()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Served:
    """A marketplace whose jobs really run: its address, its app (for seeding and for
    reading what the pages should show) and the log of its job worker."""

    url: str
    app: object
    worker_log: Path

    def worker_tail(self, chars: int = 4000) -> str:
        return self.worker_log.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def served_with_worker(tmp_path_factory, base_app):
    """The marketplace on a loopback port with a job worker beside it, started as an
    operator starts one (``pdx worker``: Celery on the embedded SQLite broker, two
    processes). Nothing is captured: what the pages ask for is queued, and the worker
    runs it. Only the accounts of the demo are loaded (fast); tests add what they need."""
    from marketplace import create_app
    from marketplace.accounts.demo import load_demo
    from marketplace.extensions import db

    base = tmp_path_factory.mktemp("served")
    config = {"ENV": "testing", "SECRET_KEY": "served-secret",
              "DATABASE_URL": f"sqlite:///{base / 'served.sqlite'}",
              "MEDIA_ROOT": str(base / "media"), "TRANSCODE_WORK_DIR": str(base / "work"),
              "CELERY_BROKER_URL": f"sqla+sqlite:///{base / 'broker.sqlite'}",
              "CELERY_RESULT_BACKEND": f"db+sqlite:///{base / 'results.sqlite'}"}
    app = create_app({**config, "JOBS_CAPTURE": False})
    with app.app_context():
        db.create_all()
        load_demo(lambda *_: None)
        db.session.commit()
    env = {**os.environ, **{f"PDX_{key}": value for key, value in config.items()}}
    env.pop("PDX_JOBS_CAPTURE", None)
    log = base / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("pdx")), "worker", "--concurrency", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: its pool and ffmpeg stop with it
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_app.extensions["celery"].set_default()
    try:
        yield Served(f"http://127.0.0.1:{server.server_port}", app, log)
    finally:
        server.shutdown()
        worker.terminate()  # a warm shutdown: Celery stops its own pool
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        with app.app_context():
            db.engine.dispose()
