"""The whole flow on real components: PostgreSQL + Redis + moto S3 + a real `celery worker`,
and the same flow on the embedded defaults (SQLite + serverless broker + local folder)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from gan.checkpoint import default_model_path, init_generator_checkpoint
from jobs import service
from jobs.db.engine import create_db_engine, create_session_factory
from jobs.settings import load_settings
from jobs.storage import create_store
from tests.support import assert_job_consistent, run_cli, wait_until

pytestmark = pytest.mark.integration


def terminal(sf, job_id):
    job = service.get_job(sf, job_id)
    return job if job.status in ("succeeded", "failed", "partially_failed", "cancelled") else None


def test_postgres_redis_s3_worker_three_items(prod_env, app_for, start_worker):
    settings, sf, store = app_for(prod_env)
    out = run_cli(
        prod_env,
        "submit",
        "--category",
        "sneaker",
        "--count",
        "24",
        "--images-per-item",
        "8",
        "--seed",
        "7",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["id"]
    job = service.get_job(sf, job_id)
    assert job.total_items == 3 and job.status == "queued"
    start_worker(prod_env, "--concurrency", "2")
    wait_until(lambda: terminal(sf, job_id), 180, what="job to finish")
    manifest = assert_job_consistent(sf, store, job_id, 24)
    meta = store.head(manifest["assets"][0]["key"])
    assert (
        meta["synthetic"] == "true"
        and meta["category"] == "sneaker"
        and meta["content-type"] == "image/png"
    )
    image = Image.open(io.BytesIO(store.get(manifest["assets"][0]["key"])))
    assert image.size == (32, 32)
    shown = run_cli(prod_env, "jobs", "show", job_id)
    assert json.loads(shown.stdout)["images_done"] == 24


def test_jobs_wait_and_list_cli(prod_env, app_for, start_worker):
    app_for(prod_env)
    job_id = run_cli(
        prod_env, "submit", "--category", "bag", "--count", "4", "--format", "jpeg"
    ).stdout.strip()
    start_worker(prod_env)
    waited = run_cli(prod_env, "jobs", "wait", job_id, "--timeout", "120")
    assert waited.returncode == 0, waited.stderr
    assert f"{job_id} succeeded" in waited.stdout
    assert "4/4" in waited.stderr  # the progress bar reached the end
    listed = run_cli(prod_env, "jobs", "list", "--json")
    newest = json.loads(listed.stdout)[0]  # the session's database holds other tests' jobs too
    assert (newest["id"], newest["status"], newest["items"]) == (job_id, "succeeded", "1/1")


@pytest.fixture
def default_classes_model(tmp_path) -> Path:
    """An untrained 32 px model with the shipped default model's classes (the demo's catalogue
    and ad name them): fast, and enough for the demo's flow."""
    meta = json.loads((default_model_path() / "generator.json").read_text())
    return init_generator_checkpoint(tmp_path / "model", meta["class_names"], 32, 1, seed=0)


def test_embedded_defaults_demo(default_classes_model, tmp_path):
    out = tmp_path / "demo"
    result = run_cli(
        {"ASSETGEN_DEFAULT_MODEL": str(default_classes_model)},
        "demo",
        "--out",
        str(out),
        "--count",
        "3",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # one generate job per class x 3 images, 2 ad variants x 7 formats, 8 of the 12 catalogue
    # rows need an image
    classes = json.loads((default_classes_model / "generator.json").read_text())["class_names"]
    n_jobs, objects = len(classes) + 2, 3 * len(classes) + 14 + 8
    assert f"{n_jobs}/{n_jobs} jobs succeeded, {objects} objects" in result.stdout
    index = (out / "index.html").read_text()
    assert index.count("<img ") == objects and index.count(">manifest.json</a>") == n_jobs

    settings = load_settings(home=out, default_model=default_classes_model)
    sf, store = create_session_factory(create_db_engine(settings)), create_store(settings)
    jobs = {j.kind: j for j in service.list_jobs(sf)}
    assert len(service.list_jobs(sf)) == n_jobs
    for job in service.list_jobs(sf, kind="generate"):
        assert_job_consistent(sf, store, job.id, 3)
    ad = assert_job_consistent(sf, store, jobs["ad_creative"].id, 14)
    assert {(a["variant"], a["format"]) for a in ad["assets"]} == {
        (v, f)
        for v in (0, 1)
        for f in (
            "square",
            "portrait",
            "story",
            "landscape",
            "medium-rectangle",
            "leaderboard",
            "skyscraper",
        )
    }
    catalogue = json.loads(store.get(f"jobs/{jobs['catalogue_fill'].id}/manifest.json"))
    assert catalogue["catalogue"]["counts"] == {
        "read": 12,
        "generated": 8,
        "skipped": 2,
        "rejected": 2,
        "failed": 0,
    }
    rejected = {r["sku"] for r in catalogue["catalogue"]["rows"] if r["outcome"] == "rejected"}
    assert rejected == {"BAG-2001", "../../etc/passwd"}  # the unmapped category, the hostile SKU
    assert sorted(store.list("catalogue/")) == sorted(a["key"] for a in catalogue["assets"])
    srcs = [part.split('"')[0] for part in index.split(' src="')[1:]]
    assert len(srcs) == objects and all((out / src).is_file() for src in srcs)


def test_worker_refuses_unmigrated_database(tmp_path, tiny_model):
    env = {"ASSETGEN_HOME": str(tmp_path / "fresh"), "ASSETGEN_DEFAULT_MODEL": str(tiny_model)}
    result = run_cli(env, "worker", timeout=60)
    assert result.returncode != 0
    assert "run `assetgen db upgrade`" in result.stderr
    assert "revision none" in result.stderr
