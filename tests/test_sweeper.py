"""The sweeper finalises a job whose last worker died before its manifest, with the worker's own
finaliser and without a pipeline: it never imports torch."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from jobs import service
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.runner import Pipeline
from tests.support import assert_job_consistent
from worker.sweeper import sweep_once


def test_the_sweeper_imports_no_torch():
    code = "import sys, worker.sweeper; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def test_sweep_finalises_a_job_whose_worker_died_before_its_manifest(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)

    class DiesBeforeTheManifest(Pipeline):
        def finalize(self, *job_ids: str) -> None:
            pass

    job = service.submit(sf, settings, {"category": "bag", "count": 4})
    worker = DiesBeforeTheManifest(settings, sf, store, ModelCache())
    assert worker.run_item(job.items[0].id) == "succeeded"
    assert service.get_job(sf, job.id).status == "running"
    assert store.list(f"jobs/{job.id}/manifest") == []

    def publish(task: str, payload: dict) -> None:  # the broker (unused by this sweep's finaliser)
        pass

    with ThreadPoolExecutor(2) as io:
        assert sweep_once(settings, sf, store, io, publish).finalized == 1
        assert_job_consistent(sf, store, job.id, 4)
        assert sweep_once(settings, sf, store, io, publish).finalized == 0  # once only
