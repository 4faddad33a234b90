"""Service and pipeline behaviour in-process on SQLite + a local bucket: leases and fencing,
cancellation, determinism, and a model that changed under a job."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from PIL import Image
from sqlalchemy import func, select

from gan.checkpoint import init_generator_checkpoint
from gan.data import FASHION_MNIST_CLASSES
from jobs import lifecycle, service
from jobs.db.tables import Asset, WorkItem
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.runner import Pipeline
from tests.support import assert_job_consistent


@pytest.fixture
def env(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    return settings, sf, store, Pipeline(settings, sf, store, ModelCache())


def run_all(pipeline: Pipeline, job_id: str) -> list[str]:
    job = service.get_job(pipeline.sf, job_id)
    with pipeline.sf() as s:
        items = [it.id for it in s.get(type(job), job_id).items]
    return [pipeline.run_item(i) for i in items]


def test_pipeline_in_process(env):
    settings, sf, store, pipeline = env
    job = service.submit(
        sf, settings, {"category": "coat", "count": 10, "images_per_item": 4, "format": "webp"}
    )
    # the first item's worker coalesced the other two small items into its forward passes
    assert run_all(pipeline, job.id) == ["succeeded", "not-claimable", "not-claimable"]
    assert_job_consistent(sf, store, job.id, 10)
    assert run_all(pipeline, job.id) == ["not-claimable"] * 3  # a duplicate delivery does nothing


def test_same_spec_same_bytes(env, embedded_env, app_for, tmp_path):
    settings, sf, store, pipeline = env
    spec = {"category": "sneaker", "count": 6, "images_per_item": 4, "seed": 42}
    digests = []
    for _ in range(2):
        job = service.submit(sf, settings, spec)
        run_all(pipeline, job.id)
        digests.append([a.sha256 for a in service.job_assets(sf, job.id)])
    assert digests[0] == digests[1] and len(set(digests[0])) == 6
    other = service.submit(sf, settings, {**spec, "seed": 43})
    run_all(pipeline, other.id)
    assert not set(digests[0]) & {a.sha256 for a in service.job_assets(sf, other.id)}


def test_stale_attempt_writes_nothing(env):
    settings, sf, store, pipeline = env
    job = service.submit(sf, settings, {"category": "bag", "count": 2})
    item_id = job.items[0].id
    # a lease that has already expired
    stale = lifecycle.claim_item(sf, item_id, "w1", lease_seconds=-1)
    assert lifecycle.claim_item(sf, item_id, "w2", lease_seconds=600).attempt == stale.attempt + 1
    # a live lease: not claimable
    assert lifecycle.claim_item(sf, item_id, "w3", lease_seconds=600) is None
    asset = {
        "key": "jobs/x/00000.png",
        "sha256": "0" * 64,
        "bytes": 1,
        "width": 1,
        "height": 1,
        "seed": 1,
        "category": "bag",
        "content_type": "image/png",
    }
    assert lifecycle.record_batch(sf, [(stale, [asset])], 600) == [stale.item_id]
    assert lifecycle.complete_items(sf, [stale]) == ([stale.item_id], [])
    with sf() as s:
        assert s.scalar(select(func.count()).select_from(Asset)) == 0
    assert service.get_job(sf, job.id).done_items == 0


def test_cancel_stops_work_and_is_idempotent(env):
    settings, sf, store, pipeline = env
    job = service.submit(sf, settings, {"category": "bag", "count": 8, "images_per_item": 4})
    running = lifecycle.claim_item(sf, job.items[0].id, "w1", 600)
    assert service.cancel_job(sf, job.id).status == "cancelled"
    assert service.cancel_job(sf, job.id).status == "cancelled"
    assert pipeline.run_item(job.items[1].id) == "not-claimable"
    # the running worker is fenced out
    assert lifecycle.record_batch(sf, [(running, [])], 600) == [running.item_id]
    assert store.list() == []
    with pytest.raises(service.JobNotFound):
        service.cancel_job(sf, "no-such-job")


def test_model_changed_after_submit_fails_the_job_with_a_reason(env, tiny_model, tmp_path):
    settings, sf, store, pipeline = env
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    job = service.submit(sf, settings, {"category": "bag", "count": 2, "model": str(model)})
    weights = model / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert run_all(pipeline, job.id) == ["failed"]
    job = service.get_job(sf, job.id)
    assert job.status == "failed" and job.error_code == "items_failed"
    failed = service.failed_items(sf, job.id)
    assert failed[0].error_code == "model_invalid" and "sha256" in failed[0].error_message
    manifest = json.loads(store.get(f"jobs/{job.id}/manifest.json"))
    assert manifest["status"] == "failed" and manifest["assets"] == []
    assert manifest["failed_items"][0]["error_code"] == "model_invalid"


def test_final_status_from_counts():
    assert lifecycle.final_status(3, 0).value == "succeeded"
    assert lifecycle.final_status(2, 1).value == "partially_failed"
    assert lifecycle.final_status(0, 3).value == "failed"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_coalesced_small_jobs_give_the_same_bytes_as_one_by_one(
    embedded_env, app_for, tmp_path, precision
):
    specs = [
        {"category": c, "count": 4, "seed": i, "format": f}
        for i, (c, f) in enumerate(
            [("bag", "png"), ("dress", "jpeg"), ("sneaker", "webp"), ("coat", "png")] * 5
        )
    ]
    results = {}
    for coalesce in (0, 64):
        env = {
            **embedded_env,
            "ASSETGEN_HOME": str(tmp_path / f"c{coalesce}"),
            "ASSETGEN_COALESCE_ITEMS": str(coalesce),
            "ASSETGEN_BATCH_SIZE": "64",
        }
        settings, sf, store = app_for(env)
        pipeline = Pipeline(settings, sf, store, ModelCache(), precision=precision)
        jobs = [service.submit(sf, settings, spec) for spec in specs]
        outcomes = [pipeline.run_item(job.items[0].id) for job in jobs]
        assert outcomes.count("succeeded") == (
            20 if coalesce == 0 else 2
        )  # 64 images = 16 jobs per pass
        results[coalesce] = [
            [(a.key.split("/")[-1], a.sha256) for a in service.job_assets(sf, j.id)] for j in jobs
        ]
        for job in jobs:
            assert_job_consistent(sf, store, job.id, 4)
    assert results[0] == results[64]


def test_a_job_larger_than_the_buffers_keeps_two_batches_in_flight(
    embedded_env, app_for, monkeypatch
):
    import jobs.pipeline.runner as runner

    settings, sf, store = app_for({**embedded_env, "ASSETGEN_BATCH_SIZE": "16"})
    pipeline = Pipeline(settings, sf, store, ModelCache())
    job = service.submit(sf, settings, {"category": "bag", "count": 400, "images_per_item": 400})
    generated, in_flight = [], []
    real_sample = runner.sample

    def counting_sample(generator, labels, seeds, **kw):
        generated.append(len(seeds))
        in_flight.append(
            sum(generated) - service.done_images(sf, job.id)
        )  # made but not yet recorded
        return real_sample(generator, labels, seeds, **kw)

    monkeypatch.setattr(runner, "sample", counting_sample)
    assert pipeline.run_item(job.items[0].id) == "succeeded"
    assert (
        len(generated) == 25 and max(in_flight) == 32
    )  # the batch being made + the one being stored
    assert_job_consistent(sf, store, job.id, 400)


def test_older_large_items_do_not_crowd_small_ones_out_of_coalescing(embedded_env, app_for):
    settings, sf, _ = app_for(embedded_env)
    big = service.submit(sf, settings, {"category": "bag", "count": 16 * 70, "images_per_item": 16})
    small = [
        service.submit(sf, settings, {"category": "bag", "count": 4, "seed": i}) for i in range(3)
    ]
    first = lifecycle.claim_item(sf, small[0].items[0].id, "w", 60)
    # 70 older queued items of 16 samples each cannot fit the 12 left of a 16-sample batch;
    # the two small ones can
    more = lifecycle.claim_more(sf, first, "w", 60, max_images=16, max_items=64)
    assert sorted(c.job_id for c in more) == sorted(j.id for j in small[1:])
    with sf() as s:
        states = set(s.scalars(select(WorkItem.state).where(WorkItem.job_id == big.id)))
    assert states == {"queued"}  # the large items wait for a run of their own


def test_a_lost_connection_retries_and_a_fenced_failure_says_fenced(env):
    """A write cut off by the database (e.g. it ended a frozen process's transaction) fails
    nothing: the task retries (DatabaseAway); failing an item whose lease another worker took
    reports 'fenced', not 'failed'."""
    from sqlalchemy.exc import InternalError

    from jobs.db.engine import DatabaseAway
    from jobs.kinds.generate.render import Generate

    settings, sf, store, pipeline = env

    class ConnectionCutOff(Generate):
        def render(self, unit, pixels):
            raise InternalError(
                "INSERT ...",
                {},
                RuntimeError("terminating connection"),
                connection_invalidated=True,
            )

    cut = Pipeline(settings, sf, store, ModelCache(), kinds={"generate": ConnectionCutOff()})
    job = service.submit(sf, settings, {"category": "bag", "count": 2})
    with pytest.raises(DatabaseAway):
        cut.run_item(job.items[0].id)
    assert service.failed_items(sf, job.id) == [] and service.get_job(sf, job.id).failed_items == 0

    other = service.submit(sf, settings, {"category": "bag", "count": 2})
    stale = lifecycle.claim_item(sf, other.items[0].id, "w1", lease_seconds=-1)
    lifecycle.claim_item(sf, other.items[0].id, "w2", lease_seconds=600)
    assert pipeline._fail(stale, "internal_error", "boom") == "fenced"
    assert service.failed_items(sf, other.id) == []


@pytest.mark.parametrize("arch", ["fastgan", "dcgan"])
def test_a_model_of_any_arch_runs_through_the_same_pipeline(env, tmp_path, arch):
    """The worker knows no architecture: a 64 px RGB FastGAN (or the classic DCGAN) checkpoint
    generates, renders a catalogue tile and is recorded like the default model."""
    settings, sf, store, pipeline = env
    model = init_generator_checkpoint(
        tmp_path / arch, FASHION_MNIST_CLASSES, 64, 3, seed=0, arch=arch, g_width=8, d_width=8
    )
    job = service.submit(
        sf, settings, {"category": "bag", "count": 3, "model": str(model), "seed": 5}
    )
    assert set(run_all(pipeline, job.id)) <= {"succeeded", "not-claimable"}
    assert_job_consistent(sf, store, job.id, 3)
    for asset in service.job_assets(sf, job.id):
        with Image.open(io.BytesIO(store.get(asset.key))) as img:
            assert (img.size, img.mode) == ((64, 64), "RGB")
