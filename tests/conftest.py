"""Shared fixtures: real PostgreSQL, Redis, a moto S3 server and real worker processes.

Under CI=true a skipped test is a failure (tests marked `gpu` aside): CI provides
every service these fixtures need.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gan import FASHION_MNIST_CLASSES, init_generator_checkpoint

PG_ADMIN_URL = os.environ.get("ASSETGEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ASSETGEN_TEST_REDIS", "redis://127.0.0.1:6379/0")


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="needs CUDA"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and "gpu" not in item.keywords:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (only gpu tests may skip): {report.longrepr}"


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy (a bounded wait, not a sleep standing in for synchronisation)."""
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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An initialised (untrained) 32 px generator: fast, and enough to test the pipeline."""
    return init_generator_checkpoint(tmp_path_factory.mktemp("model"), FASHION_MNIST_CLASSES, 32, 1, seed=0)


@contextlib.contextmanager
def fresh_database():
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    import psycopg

    name = f"assetgen_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def own_pg_url():
    """A database of this test's own (for state that is global by design, like catalogue SKUs)."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server: a real HTTP endpoint on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), 30, what="moto server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(autouse=True)
def _s3_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def bucket(s3_endpoint):
    from worker.storage import create_s3_client

    name = f"test-{uuid.uuid4().hex[:12]}"
    create_s3_client(s3_endpoint, "us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def prod_env(pg_url, s3_endpoint, bucket, tiny_model, tmp_path) -> dict[str, str]:
    """ASSETGEN_* variables for PostgreSQL + Redis + S3, with a queue of this test's own."""
    return {
        "ASSETGEN_HOME": str(tmp_path / "home"),
        "ASSETGEN_DATABASE_URL": pg_url,
        "ASSETGEN_BROKER_URL": REDIS_URL,
        "ASSETGEN_STORAGE_URL": f"s3://{bucket}/pfx",
        "ASSETGEN_S3_ENDPOINT_URL": s3_endpoint,
        "ASSETGEN_DEFAULT_MODEL": str(tiny_model),
        "ASSETGEN_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
    }


@pytest.fixture
def embedded_env(tiny_model, tmp_path) -> dict[str, str]:
    return {"ASSETGEN_HOME": str(tmp_path / "home"), "ASSETGEN_DEFAULT_MODEL": str(tiny_model)}


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGEN_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    return {**env, **extra}


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `assetgen ARGS` as a real process."""
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], env=child_env(env), capture_output=True,
                          text=True, timeout=timeout)


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path, *extra: str):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "worker", "--loglevel", "INFO", *extra],
                                     env=child_env(env), stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_worker(tmp_path):
    workers: list[WorkerProcess] = []

    def start(env: dict[str, str], *extra: str) -> WorkerProcess:
        w = WorkerProcess(env, tmp_path / f"worker{len(workers)}.log", *extra)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()


@pytest.fixture
def app_for(monkeypatch):
    """Settings + migrated session factory + store for an env dict (in this process)."""

    def make(env: dict[str, str], migrate: bool = True):
        from jobs.db import create_db_engine, create_session_factory, upgrade
        from jobs.settings import load_settings
        from worker.storage import create_store

        for k, v in env.items():
            monkeypatch.setenv(k, v)
        settings = load_settings()
        if migrate:
            upgrade(settings)
        engine = create_db_engine(settings)
        return settings, create_session_factory(engine), create_store(settings)

    return make


def cli_invoker(env: dict[str, str]):
    """`assetgen ARGS` in this process (click's runner) with env as the environment."""
    from click.testing import CliRunner

    from jobs.cli import main

    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=env, catch_exceptions=False)
