"""The worker's upscale stage in-process (SQLite + a local bucket + the real pipeline and the
shipped x4 upscaler): the `upscale` spec field, the passes a plan chooses, exact bytes (off: the
plain resize of today; x4: only the chosen candidate upscaled, then the same resize), bytes that
do not depend on batching, the upscaler a job resolves and pins, and a tampered upscaler."""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan.checkpoint import load_generator
from gan.sampling import sample
from gan.upscale_checkpoint import default_upscaler_path, load_upscaler, save_upscaler
from gan.upscaler import UpscalerConfig, build_upscaler, upscale
from jobs import service
from jobs.db.tables import WorkItem
from jobs.encode import encode
from jobs.kinds.ad_creative.plan import brand_of, copy_of
from jobs.kinds.ad_creative.render import cached_layout
from jobs.kinds.base import Claim
from jobs.kinds.catalogue_fill.render import CatalogueFill, render_tile
from jobs.kinds.planning import upscale_passes
from jobs.kinds.registry import create_kinds, parse_spec
from jobs.layout.compose import render
from jobs.model_registry import resolve_model
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.runner import Pipeline
from jobs.pipeline.upscale import UpscaleStage, upscaler_cache
from jobs.quality import Scorer, choose_best
from jobs.seeds import image_seed, sku_seeds
from jobs.specs import SpecError
from tests.support import FMNIST, FMNIST_DIR

SHIPPED = default_upscaler_path().parent  # default_model/: the default x4 upscaler
UPSCALER_SHA = load_upscaler(SHIPPED)[1]["sha256"]
COPY = {"headline": "Walk further in winter", "cta": "Shop now"}


def catalogue(skus: list[str], **over) -> dict:
    rows = [{"sku": sku, "category": "bag"} for sku in skus]
    return {"kind": "catalogue_fill", "rows": rows, "format": "png", "candidates": 4, **over}


def ad(**over) -> dict:
    return {
        "kind": "ad_creative",
        "category": "sneaker",
        "formats": ["square", "leaderboard"],
        "copy": COPY,
        "seed": 5,
        "file_format": "png",
        **over,
    }


@pytest.fixture
def env(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    pipeline = Pipeline(settings, sf, store, ModelCache(), kinds=create_kinds(store))
    return settings, sf, store, pipeline


def run_job(pipeline: Pipeline, job) -> list[str]:
    return [pipeline.run_item(item.id) for item in job.items]


def objects(sf, store, job_id: str) -> dict[str, bytes]:
    return {a.key: store.get(a.key) for a in service.job_assets(sf, job_id)}


def native_candidates(
    model_dir: Path, sku: str, version: str, label: int, precision: str = "fp32", k: int = 4
):
    """The K candidates of a SKU as the pipeline samples them (same seeds and precision: these
    tests' Pipeline runs fp32)."""
    generator, _ = load_generator(model_dir)
    seeds = list(sku_seeds(sku, version, k))
    return sample(generator, [label] * k, seeds, precision=precision).numpy()


# ---------------------------------------------------------------- the spec field


@pytest.mark.parametrize("kind", ["catalogue", "ad"])
@pytest.mark.parametrize("bad", ["x8", "X4", "", "on", 4, True, None])
def test_a_bad_upscale_value_is_refused_naming_the_field(kind, bad):
    spec = catalogue(["A"], upscale=bad) if kind == "catalogue" else ad(upscale=bad)
    with pytest.raises(SpecError) as err:
        parse_spec(spec)
    assert err.value.field == "upscale"
    assert "'auto', 'off' or 'x4'" in err.value.message, err.value.message


def test_upscale_defaults_to_auto():
    assert parse_spec(catalogue(["A"])).upscale == "auto"
    assert parse_spec(ad()).upscale == "auto"
    assert parse_spec(ad(upscale="off")).upscale == "off"


def test_passes_follow_the_enlargement(embedded_env, app_for):
    settings, _, _ = app_for(embedded_env)
    model = resolve_model(settings, "default")
    assert model.upscaler is not None and model.upscaler.sha256 == UPSCALER_SHA
    table = {
        ("off", 20.0): 0,
        ("auto", 2.0): 0,  # at most 2x: Lanczos alone
        ("auto", 2.01): 1,
        ("auto", 8.0): 1,
        ("auto", 20.0): 1,  # auto: one pass at most (the default 800 px tile of a 32 px sample)
        ("x4", 0.5): 1,  # x4: always at least once
        ("x4", 8.0): 1,  # one x4 pass leaves 2x
        ("x4", 8.01): 2,
        ("x4", 20.0): 2,
    }
    assert {key: upscale_passes(*key, model) for key in table} == table
    bare = dataclasses.replace(model, upscaler=None)
    assert upscale_passes("auto", 20.0, bare) == 0  # auto without an upscaler: none
    with pytest.raises(SpecError) as err:
        upscale_passes("x4", 20.0, bare)
    assert err.value.field == "upscale" and "needs an upscaler" in err.value.message


def item_passes(job) -> list[int]:
    return [item.params["upscale"] for item in job.items]


def test_plans_pick_passes_from_the_target_and_pin_the_upscaler(env):
    settings, sf, store, _ = env
    # the tiny 32 px model: an 800 px tile (inner 640 px) is 20x, 200 px 5x, 64 px 1.6x
    for size, auto in ((800, 1), (200, 1), (64, 0)):
        job = service.submit(sf, settings, catalogue([f"S{size}"], size=size))
        assert item_passes(job) == [auto], size
        assert job.upscaler_sha256 == (UPSCALER_SHA if auto else None)
    forced = service.submit(sf, settings, catalogue(["F64"], size=64, upscale="x4"))
    off = service.submit(sf, settings, catalogue(["O800"], upscale="off"))
    assert (item_passes(forced), item_passes(off)) == ([1], [0])
    assert (forced.upscaler_name, forced.upscaler_version) == ("default", UPSCALER_SHA[:12])
    assert forced.upscaler_uri == str(SHIPPED) and off.upscaler_sha256 is None
    # ads: the largest product slot decides (the square's is 467 px: 14.6x; a leaderboard's 2.4x)
    assert item_passes(service.submit(sf, settings, ad(formats=["leaderboard"]))) == [1]
    assert item_passes(service.submit(sf, settings, ad())) == [1]
    assert item_passes(service.submit(sf, settings, ad(upscale="x4"))) == [2]
    assert item_passes(service.submit(sf, settings, ad(upscale="off"))) == [0]


def test_x4_without_any_upscaler_is_refused_and_auto_does_without(embedded_env, app_for, tmp_path):
    empty = tmp_path / "no-upscaler"
    empty.mkdir()
    settings, sf, _ = app_for({**embedded_env, "ASSETGEN_DEFAULT_UPSCALER": str(empty)})
    with pytest.raises(SpecError) as err:
        service.submit(sf, settings, catalogue(["A"], upscale="x4"))
    assert err.value.field == "upscale" and "ASSETGEN_DEFAULT_UPSCALER" in err.value.message
    job = service.submit(sf, settings, catalogue(["A"]))
    assert item_passes(job) == [0] and job.upscaler_sha256 is None


def test_a_model_folder_with_its_own_upscaler_uses_it(env, tiny_model, tmp_path):
    settings, sf, store, pipeline = env
    folder = tmp_path / "shop-model"
    shutil.copytree(tiny_model, folder)
    torch.manual_seed(0)
    save_upscaler(folder, build_upscaler(UpscalerConfig(width=4, depth=1)), {"version": "u7"})
    own = load_upscaler(folder)[1]["sha256"]
    job = service.submit(sf, settings, catalogue(["OWN"], model=str(folder), size=200))
    assert (job.upscaler_name, job.upscaler_version, job.upscaler_sha256) == (
        "shop-model",
        "u7",
        own,
    )
    assert run_job(pipeline, job) == ["succeeded"]
    (asset,) = service.job_assets(sf, job.id)
    meta = store.head(asset.key)
    assert (meta["upscaler"], meta["upscaler-version"], meta["upscaler-sha256"]) == (
        "shop-model",
        "u7",
        own,
    )
    assert meta["upscale"] == "x4" and asset.attrs["upscaler"]["passes"] == 1


# ---------------------------------------------------------------- exact bytes


def test_catalogue_tiles_off_are_the_plain_resize_and_x4_the_chosen_candidate_upscaled(
    env, tiny_model
):
    settings, sf, store, pipeline = env
    net, _ = load_upscaler(SHIPPED)
    scorer = Scorer()
    tiles = {}
    for mode in ("off", "x4"):
        skus = [f"{mode}-1", f"{mode}-2"]
        job = service.submit(sf, settings, catalogue(skus, upscale=mode))
        assert run_job(pipeline, job) == ["succeeded"]
        got = objects(sf, store, job.id)
        for sku in skus:
            candidates = native_candidates(tiny_model, sku, job.model_version, 8)
            choice = choose_best(scorer, job.model_uri, candidates, "bag")
            chosen = candidates[choice.best : choice.best + 1]
            if mode == "x4":  # two x4 passes: 32 -> 512 px, then Lanczos into the 640 px square
                chosen = upscale(net, chosen, 2)
                assert chosen.shape == (1, 512, 512, 1)
            data = got[f"catalogue/{sku}/synthetic.png"]
            assert data == encode(render_tile(chosen[0], 800), "png"), (mode, sku)
            assert Image.open(io.BytesIO(data)).size == (800, 800)
            # the same SKU's tile without the upscaler: what `off` gives
            tiles[(mode, sku[-1])] = data
    assert tiles[("off", "1")] != tiles[("x4", "1")] and tiles[("off", "2")] != tiles[("x4", "2")]


def test_ad_creatives_off_are_the_plain_layout_and_x4_the_upscaled_sample(env):
    settings, sf, store, pipeline = env
    net, _ = load_upscaler(SHIPPED)
    generator, _ = load_generator(FMNIST_DIR)  # the trained model: real products, not noise
    seeds = [image_seed(5, c, 0) for c in range(4)]  # variant 0's 4 candidates
    candidates = sample(generator, [7] * 4, seeds).numpy()  # sneakers, fp32 as here
    outputs = {}
    for mode in ("off", "x4"):
        job = service.submit(sf, settings, ad(model=FMNIST, upscale=mode))
        assert run_job(pipeline, job) == ["succeeded"]
        best = choose_best(Scorer(), job.model_uri, candidates, "sneaker").best
        chosen = candidates[best : best + 1]  # only the chosen one is upscaled
        drawn = chosen if mode == "off" else upscale(net, chosen, 2)
        got = objects(sf, store, job.id)
        copy = tuple(copy_of(job.spec["copy"]).items())
        for fmt in ("square", "leaderboard"):
            image = render(cached_layout(fmt, copy, False), drawn[0], brand_of(job.spec["brand"]))
            key = f"jobs/{job.id}/00000-{fmt}.png"
            assert got[key] == encode(image, "png"), (mode, fmt)
            outputs[(mode, fmt)] = got[key]
    assert outputs[("off", "square")] != outputs[("x4", "square")]


def test_upscaled_bytes_do_not_depend_on_batching(embedded_env, app_for, tmp_path):
    """The same jobs run one item per pass and coalesced (several items per pass, several units
    per upscale batch): every object is byte-identical."""
    specs = [catalogue([f"B{i}-{j}" for j in range(3)], upscale="x4") for i in range(4)]
    specs += [ad(seed=i, variants=2, candidates=2, upscale="x4") for i in range(3)]  # 60 samples
    results = {}
    for coalesce in (0, 64):
        settings, sf, store = app_for(
            {
                **embedded_env,
                "ASSETGEN_HOME": str(tmp_path / f"c{coalesce}"),
                "ASSETGEN_COALESCE_ITEMS": str(coalesce),
                "ASSETGEN_BATCH_SIZE": "64",
            }
        )
        pipeline = Pipeline(settings, sf, store, ModelCache(), kinds=create_kinds(store))
        jobs = [service.submit(sf, settings, spec) for spec in specs]
        outcomes = [pipeline.run_item(job.items[0].id) for job in jobs]
        assert outcomes.count("succeeded") == (7 if coalesce == 0 else 1)
        results[coalesce] = [
            sorted((a.key.replace(j.id, "JOB"), a.sha256) for a in service.job_assets(sf, j.id))
            for j in jobs
        ]
    assert results[0] == results[64]
    assert sum(len(r) for r in results[0]) == 4 * 3 + 3 * 2 * 2


# ---------------------------------------------------------------- the stage itself


def test_the_stage_upscales_only_the_chosen_candidate(tiny_model):
    net, _ = load_upscaler(SHIPPED)
    stage = UpscaleStage(upscaler_cache("cpu"), 1)
    kinds = {"catalogue_fill": CatalogueFill(Scorer())}
    claim = Claim(
        item_id=1,
        attempt=1,
        job_id="job",
        index=0,
        params={"start": 0, "skus": [["A1", 8, "bag"]], "upscale": 2},
        spec={"kind": "catalogue_fill", "candidates": 4, "format": "png", "size": 800},
        model_uri=str(tiny_model),
        model_sha256="x",
        model_name="m",
        model_version="v1",
        upscaler_uri=str(SHIPPED),
        upscaler_sha256=UPSCALER_SHA,
        upscaler_name="default",
        upscaler_version=UPSCALER_SHA[:12],
    )
    (unit,) = kinds["catalogue_fill"].units(claim)
    assert unit.upscale == 2
    candidates = native_candidates(tiny_model, "A1", "v1", 8)
    ((chosen_unit, pixels),) = stage(kinds, [(unit, candidates)])
    best = chosen_unit.params["choice"].best
    assert pixels.shape == (1, 512, 512, 1)  # one of the four, x16
    assert np.array_equal(pixels, upscale(net, candidates[best : best + 1], 2))
    # a unit that is not to be upscaled passes through untouched
    plain = dataclasses.replace(unit, upscale=0)
    ((same_unit, same),) = stage(kinds, [(plain, candidates)])
    assert same_unit is plain and same is candidates


def test_a_tampered_upscaler_fails_the_item_with_a_reason(env, tiny_model, tmp_path):
    settings, sf, store, pipeline = env
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    for name in ("upscaler.safetensors", "upscaler.json"):
        shutil.copy(SHIPPED / name, folder / name)
    job = service.submit(sf, settings, catalogue(["T1"], model=str(folder), upscale="x4"))
    weights = folder / "upscaler.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")  # changed after submit
    assert run_job(pipeline, job) == ["failed"]
    with sf() as s:
        item = s.get(WorkItem, job.items[0].id)
        assert item.error_code == "upscaler_invalid" and "sha256" in item.error_message
    assert store.list("catalogue/T1/") == []
