"""Fixtures for the localization tests: cue factories, sample files, a loopback HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from localization.formats import Cue


@pytest.fixture
def make_cues() -> Callable[..., list[Cue]]:
    """``make_cues((start_ms, end_ms, text), ...)`` → cues numbered from 1."""

    def build(*specs: tuple[int, int, str]) -> list[Cue]:
        return [Cue(n, start, end, text) for n, (start, end, text) in enumerate(specs, 1)]

    return build


SAMPLE_SRT = (
    "1\n"
    "00:00:01,000 --> 00:00:03,000\n"
    "你好，我是林婉儿。\n"
    "今天我们一起去上海吧！\n"
    "\n"
    "2\n"
    "00:00:04,000 --> 00:00:06,500\n"
    "总裁，这份合同必须马上签字。\n"
)

SAMPLE_SRT_HANT = (
    "1\n"
    "00:00:01,000 --> 00:00:03,000\n"
    "你好，我是林婉兒。\n"
    "今天我們一起去上海吧！\n"
    "\n"
    "2\n"
    "00:00:04,000 --> 00:00:06,500\n"
    "總裁，這份合約必須馬上簽字。\n"
)


@pytest.fixture
def sample_srt() -> str:
    return SAMPLE_SRT


@pytest.fixture
def sample_srt_hant() -> str:
    return SAMPLE_SRT_HANT


class LoopbackServer:
    """A JSON HTTP server on 127.0.0.1 whose answer the test sets: ``reply(status, body)``
    (a dict/list is sent as JSON, bytes/str as they are) and ``delay`` seconds to wait."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {}
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw or b"null")})
                if server.delay:
                    time.sleep(server.delay)
                body = server.body
                payload = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(server.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def reply(self, body: Any, status: int = 200) -> None:
        self.body, self.status = body, status


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
