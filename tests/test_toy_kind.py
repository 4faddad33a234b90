"""A fourth job kind needs only its own module and one registry call: a test-only toy kind
(tests/toy_kind.py) goes submit -> a real worker process -> bucket -> manifest on the embedded
defaults (SQLite, kombu's SQLAlchemy broker, a local-folder bucket)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jobs import service
from jobs.db.tables import TERMINAL_JOB, JobStatus
from jobs.kinds import registry
from jobs.kinds.registry import kind_names, register
from jobs.specs import SpecError
from tests import toy_kind
from tests.support import assert_job_consistent, child_env, wait_until

REPO = Path(__file__).resolve().parents[1]
# The worker process registers the toy kind before the CLI starts the worker.
BOOTSTRAP = (
    "from jobs.kinds.registry import register; from tests.toy_kind import KIND; "
    "register(KIND); from jobs.cli.main import main; "
    "main(['worker', '--loglevel', 'INFO', '--concurrency', '1'])"
)


@pytest.fixture
def toy_registered(monkeypatch):
    """The toy kind registered in this process for this test only (a copy of the registry)."""
    monkeypatch.setattr(registry, "KINDS", dict(registry.KINDS))
    register(toy_kind.KIND)


@pytest.fixture
def toy_worker(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(env: dict[str, str]) -> subprocess.Popen:
        log = (tmp_path / "toy-worker.log").open("ab")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP],
                cwd=REPO,
                env=child_env(env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        return procs[-1]

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_unregistered_kind_is_refused(embedded_env, app_for):
    settings, sf, _ = app_for(embedded_env)
    assert "toy" not in kind_names()
    with pytest.raises(SpecError) as err:
        service.submit(sf, settings, {"kind": "toy", "count": 1, "colour": "#000000"})
    assert err.value.field == "kind"


def test_a_registered_toy_kind_runs_end_to_end(
    embedded_env, app_for, toy_registered, toy_worker, tmp_path
):
    settings, sf, store = app_for(embedded_env)
    assert settings.db_url().startswith("sqlite") and "sqla+sqlite" in settings.celery_broker_url()
    with pytest.raises(SpecError) as err:  # the toy's own spec is what validates it
        service.submit(sf, settings, {"kind": "toy", "count": 3, "colour": "green"})
    assert err.value.field == "colour"
    job = service.submit(sf, settings, {"kind": "toy", "count": 5, "colour": "#12AB34"})
    assert (job.kind, job.total_items, job.total_images) == ("toy", 3, 5)

    proc = toy_worker(embedded_env)  # publishes the outbox at start, then runs the items
    final = wait_until(
        lambda: (
            JobStatus(service.get_job(sf, job.id).status) in TERMINAL_JOB or proc.poll() is not None
        ),
        180,
        interval=0.2,
        what="the toy job to finish",
    )
    assert proc.poll() is None, (tmp_path / "toy-worker.log").read_text()[-3000:]
    assert final

    manifest = assert_job_consistent(sf, store, job.id, 5)
    assert manifest["kind"] == "toy" and manifest["toy"] == {"colour": "#12AB34"}
    assert [a["key"] for a in manifest["assets"]] == [toy_kind.toy_key(job.id, n) for n in range(5)]
    assert [a["toy"] for a in manifest["assets"]] == list(range(5))
    for a in manifest["assets"]:
        pixels = np.asarray(Image.open(io.BytesIO(store.get(a["key"]))))
        assert pixels.shape == (toy_kind.SIDE, toy_kind.SIDE, 3)
        assert (pixels == (0x12, 0xAB, 0x34)).all()
