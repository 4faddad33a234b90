"""Helpers for the API and webhook tests: an API context on real PostgreSQL, a webhook receiver, a live server."""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port, wait_until


@dataclass
class ApiContext:
    settings: object
    sf: object
    store: object
    env: dict

    def app(self, **overrides):
        from jobs.api import create_app

        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return create_app(settings, sf=self.sf, store=self.store)

    def client(self, scopes=("submit", "read"), name: str | None = None):
        from jobs.auth import create_client

        return create_client(self.sf, name or f"c-{uuid.uuid4().hex[:10]}", tuple(scopes))


def metric(text: str, sample: str) -> float:
    """The value of one sample line (e.g. 'assetgen_jobs{state="queued"}') of a Prometheus text page."""
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(sample + " ")]
    assert len(values) == 1, f"{sample} not exactly once in /metrics"
    return float(values[0])


def bearer(new_client) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_client.token}"}


@pytest.fixture
def api_ctx(prod_env, app_for) -> ApiContext:
    """PostgreSQL + Redis + moto S3, migrated; loopback webhook targets allowed, fast webhook backoff."""
    env = {**prod_env, "ASSETGEN_WEBHOOK_ALLOW_PRIVATE": "true", "ASSETGEN_WEBHOOK_BACKOFF_SECONDS": "2",
           "ASSETGEN_WEBHOOK_TIMEOUT_SECONDS": "5"}
    settings, sf, store = app_for(env)
    return ApiContext(settings, sf, store, env)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the scripted status codes, then 200; records every request."""

    codes: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class LiveServer:
    """The API on uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        # log_config=None: uvicorn leaves logging alone, so its access log reaches pytest's log capture.
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, 30, what="uvicorn to start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
