"""Shared fixtures: real PostgreSQL, Redis, a moto S3 server, real worker processes, the API test
context and a webhook receiver. pytest injects them by name; the plain helpers the tests import
are in tests/support.py (nothing imports this module).

Under CI=true a skipped test is a failure (tests marked `gpu` aside): CI provides
every service these fixtures need.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch

from gan.checkpoint import init_generator_checkpoint
from gan.data import FASHION_MNIST_CLASSES
from jobs.db.engine import create_db_engine, create_session_factory, upgrade
from jobs.settings import load_settings
from jobs.storage import create_s3_client, create_store
from tests.support import (
    REDIS_URL,
    ApiContext,
    Receiver,
    WorkerProcess,
    free_port,
    fresh_database,
    port_open,
    wait_until,
)


def pytest_collection_modifyitems(config, items):
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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An initialised (untrained) 32 px generator: fast, and enough to test the pipeline."""
    return init_generator_checkpoint(
        tmp_path_factory.mktemp("model"), FASHION_MNIST_CLASSES, 32, 1, seed=0
    )


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
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


@pytest.fixture
def start_worker(tmp_path):
    """start(env, *args): an `assetgen worker` process, stopped at the end of the test."""
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
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        settings = load_settings()
        if migrate:
            upgrade(settings)
        engine = create_db_engine(settings)
        return settings, create_session_factory(engine), create_store(settings)

    return make


@pytest.fixture
def api_ctx(prod_env, app_for) -> ApiContext:
    """PostgreSQL + Redis + moto S3, migrated; loopback webhook targets allowed, fast webhook
    backoff."""
    env = {
        **prod_env,
        "ASSETGEN_WEBHOOK_ALLOW_PRIVATE": "true",
        "ASSETGEN_WEBHOOK_BACKOFF_SECONDS": "2",
        "ASSETGEN_WEBHOOK_TIMEOUT_SECONDS": "5",
    }
    settings, sf, store = app_for(env)
    return ApiContext(settings, sf, store, env)


@pytest.fixture
def receiver():
    """A webhook receiver on loopback (scripted status codes, then 200), stopped afterwards."""
    r = Receiver().start()
    yield r
    r.stop()
