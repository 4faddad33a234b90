"""Plain helpers the tests import: waits, ports, the CLI as a process or in-process, worker
processes, a fresh PostgreSQL database, the API test context, a webhook receiver, a live API
server, and the invariant every pipeline test ends with. The fixtures are in conftest.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import uvicorn
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from jobs import service
from jobs.api.app import create_app
from jobs.auth import create_client
from jobs.cli.main import main
from jobs.settings import Settings
from jobs.storage import Store

PG_ADMIN_URL = os.environ.get("ASSETGEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ASSETGEN_TEST_REDIS", "redis://127.0.0.1:6379/0")
# The built-in Fashion-MNIST model (10 classes, 32 px, 1 channel, with a classifier): for tests
# that depend on what the model is, since `default` may be another one.
FMNIST = "fashion-mnist-32"
FMNIST_DIR = Path(__file__).resolve().parents[1] / "models" / FMNIST


def ad_cli_args(variants: int, formats, *extra: str) -> list[str]:
    """`assetgen submit ad-creative` arguments of the e2e tests: the trained Fashion-MNIST
    built-in's sneaker, fixed copy and seed; `extra` adds or overrides flags."""
    return [
        "ad-creative",
        "--category",
        "sneaker",
        "--variants",
        str(variants),
        "--formats",
        ",".join(formats),
        "--headline",
        "Run further, every day",
        "--cta",
        "Shop now",
        "--badge",
        "-30%",
        "--seed",
        "3",
        "--model",
        FMNIST,
        *extra,
    ]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy (a bounded wait, not a sleep standing in for
    synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def fresh_database():
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    name = f"assetgen_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- the CLI and worker processes


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGEN_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return {**env, **extra}


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `assetgen ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli.main", *args],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_invoker(env: dict[str, str]):
    """`assetgen ARGS` in this process (click's runner) with env as the environment."""
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=env, catch_exceptions=False)


class WorkerProcess:
    """`assetgen worker` as a real process, its output appended to log."""

    def __init__(self, env: dict[str, str], log: Path, *extra: str):
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli.main", "worker", "--loglevel", "INFO", *extra],
            env=child_env(env),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- the API and webhooks


@dataclass
class ApiContext:
    """What the API tests build apps and clients from (the api_ctx fixture)."""

    settings: Settings
    sf: sessionmaker[Session]
    store: Store
    env: dict

    def app(self, **overrides):
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return create_app(settings, sf=self.sf, store=self.store)

    def client(self, scopes=("submit", "read"), name: str | None = None):
        return create_client(self.sf, name or f"c-{uuid.uuid4().hex[:10]}", tuple(scopes))


def metric(text: str, sample: str) -> float:
    """The value of one sample line (e.g. 'assetgen_jobs{state="queued"}') of a Prometheus page."""
    values = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(sample + " ")]
    assert len(values) == 1, f"{sample} not exactly once in /metrics"
    return float(values[0])


def bearer(new_client) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_client.token}"}


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the scripted status codes, then 200; records
    every request."""

    codes: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
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


class LiveServer:
    """The API on uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app):
        self.port = free_port()
        # log_config=None: uvicorn leaves logging alone, so its access log reaches pytest's log
        # capture.
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, 30, what="uvicorn to start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


# ---------------------------------------------------------------- the pipeline invariant


def assert_job_consistent(sf, store, job_id: str, expected_images: int) -> dict:
    """bucket keys == asset rows == manifest entries, each object's bytes matching its row."""
    job = service.get_job(sf, job_id)
    assert job.status == "succeeded", (job.status, job.error_code, job.error_message)
    assert job.done_items == job.total_items and job.failed_items == 0
    rows = service.job_assets(sf, job_id)
    manifest = json.loads(store.get(f"jobs/{job_id}/manifest.json"))
    bucket_keys = set(store.list(f"jobs/{job_id}/")) - {f"jobs/{job_id}/manifest.json"}
    row_keys = {r.key for r in rows}
    manifest_keys = [a["key"] for a in manifest["assets"]]
    assert len(rows) == len(row_keys) == len(manifest_keys) == expected_images
    assert bucket_keys == row_keys == set(manifest_keys)
    assert service.done_images(sf, job_id) == expected_images
    for row in rows:
        data = store.get(row.key)
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert len(data) == row.bytes
    by_key = {a["key"]: a for a in manifest["assets"]}
    for row in rows:
        entry = by_key[row.key]
        assert (entry["sha256"], entry["bytes"], entry["seed"], entry["width"]) == (
            row.sha256,
            row.bytes,
            row.seed,
            row.width,
        )
    assert manifest["status"] == "succeeded" and manifest["model"]["sha256"] == job.model_sha256
    return manifest
