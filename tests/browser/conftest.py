"""A live marketplace on a loopback port, with demo data, for the browser tests."""

from __future__ import annotations

import os
import threading
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
