"""Published models: immutable versions in the bucket, resolved at submit, fetched and verified
by workers."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from gan.upscale_checkpoint import default_upscaler_path, load_upscaler, save_upscaler
from gan.upscaler import UpscalerConfig, build_upscaler
from jobs import service
from jobs.model_registry import publish
from jobs.pipeline.runner import create_pipeline
from jobs.specs import SpecError
from tests.support import assert_job_consistent, cli_invoker

pytestmark = pytest.mark.integration  # every test runs on PostgreSQL, Redis and moto S3

DEFAULT_UPSCALER_SHA = load_upscaler(default_upscaler_path())[1]["sha256"]


@pytest.fixture
def env(prod_env, app_for):
    settings, sf, store = app_for(prod_env)
    return settings, sf, store, cli_invoker(prod_env)


def test_publish_list_show_and_immutability(env, tiny_model):
    settings, sf, store, invoke = env
    assert invoke("models", "publish", str(tiny_model), "--name", "shoes").output.startswith(
        "published shoes@v1"
    )
    assert invoke("models", "publish", str(tiny_model), "--name", "shoes").output.startswith(
        "published shoes@v2"
    )
    again = invoke("models", "publish", str(tiny_model), "--name", "shoes", "--version", "v1")
    assert again.exit_code == 1 and "already published; versions are immutable" in again.output
    listed = json.loads(invoke("models", "list", "--json").output)
    assert [v["version"] for v in listed["shoes"]] == ["v1", "v2"]
    shown = json.loads(invoke("models", "show", "shoes@v1").output)
    assert shown["name"] == "shoes" and shown["version"] == "v1" and len(shown["class_names"]) == 10
    # the tiny model has no upscaler of its own: the default one is carried along
    assert shown["upscaler"]["sha256"] == DEFAULT_UPSCALER_SHA
    assert listed["shoes"][0]["upscaler"] == DEFAULT_UPSCALER_SHA
    assert sorted(store.list("models/shoes/v1/")) == [
        "models/shoes/v1/generator.json",
        "models/shoes/v1/generator.safetensors",
        "models/shoes/v1/upscaler.json",
        "models/shoes/v1/upscaler.safetensors",
    ]
    missing = invoke("models", "show", "shoes@v9")
    assert missing.exit_code == 1 and "has no version 'v9'" in missing.output


def test_tampered_checkpoint_is_not_published(env, tiny_model, tmp_path):
    settings, sf, store, invoke = env
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    weights = bad / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    result = invoke("models", "publish", str(bad), "--name", "bad")
    assert result.exit_code == 1 and "sha256" in result.output
    assert store.list("models/") == []


def test_jobs_resolve_published_names_and_workers_fetch_them(env, tiny_model, tmp_path):
    settings, sf, store, invoke = env
    invoke("models", "publish", str(tiny_model), "--name", "shoes")
    invoke("models", "publish", str(tiny_model), "--name", "shoes")
    latest = service.submit(sf, settings, {"category": "sneaker", "count": 3, "model": "shoes"})
    pinned = service.submit(sf, settings, {"category": "sneaker", "count": 3, "model": "shoes@v1"})
    assert (latest.model_name, latest.model_version) == ("shoes", "v2")
    assert (pinned.model_version, pinned.model_uri) == ("v1", "bucket:models/shoes/v1/")
    with pytest.raises(SpecError, match="no published model 'hats'"):
        service.submit(sf, settings, {"category": "sneaker", "count": 3, "model": "hats"})
    pipeline = create_pipeline(settings)
    # same weights (sha256) in v1 and v2: one worker pass runs both jobs' items together
    assert [pipeline.run_item(j.items[0].id) for j in (latest, pinned)] == [
        "succeeded",
        "not-claimable",
    ]
    for job in (latest, pinned):
        manifest = assert_job_consistent(sf, store, job.id, 3)
        assert manifest["model"]["name"] == "shoes"
    # v1 and v2 hold the same weights: the worker fetched and loaded them once
    # (cache keyed by sha256)
    cache = settings.resolved_home() / "model-cache/models/shoes"
    assert sorted(p.name for p in cache.iterdir()) == ["v2"]
    generated = invoke(
        "generate",
        "--model",
        "shoes@v1",
        "--category",
        "bag",
        "--count",
        "2",
        "--out",
        str(tmp_path / "gen"),
    )
    assert generated.exit_code == 0, generated.output
    assert sorted(p.name for p in (tmp_path / "gen" / "bag").iterdir()) == [
        "00000.png",
        "00001.png",
    ]


def own_upscaler(folder, version: str):
    torch.manual_seed(len(version))
    save_upscaler(folder, build_upscaler(UpscalerConfig(width=4, depth=1)), {"version": version})
    return load_upscaler(folder)[1]["sha256"]


def test_publish_carries_the_models_upscaler_and_workers_fetch_it(env, tiny_model, tmp_path):
    settings, sf, store, invoke = env
    folder = tmp_path / "shop"
    shutil.copytree(tiny_model, folder)
    beside = own_upscaler(folder, "u1")
    assert invoke("models", "publish", str(folder), "--name", "shop").exit_code == 0
    published = json.loads(store.get("models/shop/v1/upscaler.json"))
    assert (published["name"], published["version"], published["sha256"]) == ("shop", "v1", beside)
    # --upscaler names another one
    other = tmp_path / "other-upscaler"
    given = own_upscaler(other, "u2")
    done = invoke("models", "publish", str(folder), "--name", "shop", "--upscaler", str(other))
    assert done.exit_code == 0 and f"upscaler sha256 {given[:12]}" in done.output
    assert json.loads(store.get("models/shop/v2/upscaler.json"))["sha256"] == given

    job = service.submit(
        sf,
        settings,
        {
            "kind": "catalogue_fill",
            "model": "shop@v1",
            "size": 200,
            "upscale": "x4",
            "rows": [{"sku": "PUB-1", "category": "bag"}],
        },
    )
    assert (job.upscaler_name, job.upscaler_version, job.upscaler_sha256, job.upscaler_uri) == (
        "shop",
        "v1",
        beside,
        "bucket:models/shop/v1/",
    )
    pipeline = create_pipeline(settings)
    assert pipeline.run_item(job.items[0].id) == "succeeded"
    meta = store.head("catalogue/PUB-1/synthetic.jpg")
    assert (meta["upscaler"], meta["upscaler-version"], meta["upscaler-sha256"]) == (
        "shop",
        "v1",
        beside,
    )
    fetched = settings.resolved_home() / "model-cache/models/shop/v1"
    assert load_upscaler(fetched)[1]["sha256"] == beside  # fetched with its generator, verified


def test_a_tampered_upscaler_is_not_published(env, tiny_model, tmp_path):
    settings, sf, store, invoke = env
    folder = tmp_path / "shop"
    shutil.copytree(tiny_model, folder)
    own_upscaler(folder, "u1")
    weights = folder / "upscaler.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    result = invoke("models", "publish", str(folder), "--name", "shop")
    assert result.exit_code == 1 and "sha256" in result.output
    assert store.list("models/") == []


def test_a_version_published_without_an_upscaler_uses_the_default(env, tiny_model):
    settings, sf, store, _ = env
    publish(store, tiny_model, "legacy")  # as versions were published before upscalers
    assert not store.list("models/legacy/v1/upscaler")
    job = service.submit(
        sf,
        settings,
        {
            "kind": "catalogue_fill",
            "model": "legacy",
            "upscale": "x4",
            "rows": [{"sku": "OLD-1", "category": "bag"}],
        },
    )
    assert (job.upscaler_name, job.upscaler_sha256) == ("default", DEFAULT_UPSCALER_SHA)
    service.cancel_job(sf, job.id)  # no worker here: leave no queued work in the shared database
