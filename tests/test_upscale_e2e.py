"""Upscaled deliveries end to end on real components: `assetgen submit ... --upscale x4 --wait`
against PostgreSQL + Redis + moto S3 with a real `assetgen worker` process. Exact output sizes,
the upscaler named on every object and in the manifest, and the exact bytes: the chosen sample
upscaled by the shipped x4 upscaler, then the usual resize (off: the usual resize alone)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from gan.checkpoint import load_generator
from gan.sampling import sample
from gan.upscale_checkpoint import default_upscaler_path, load_upscaler
from gan.upscaler import upscale
from jobs import service
from jobs.encode import encode
from jobs.kinds.ad_creative.plan import brand_of, copy_of
from jobs.kinds.ad_creative.render import cached_layout
from jobs.kinds.catalogue_fill.render import render_tile
from jobs.layout.compose import render
from jobs.pipeline.runner import resolve_precision
from jobs.quality import Scorer, choose_best
from jobs.seeds import sku_seeds
from tests.support import FMNIST_DIR, ad_cli_args, assert_job_consistent, bearer, run_cli

pytestmark = pytest.mark.integration

SHIPPED = default_upscaler_path().parent  # default_model/: the default x4 upscaler
NET, UPSCALER_META = load_upscaler(SHIPPED)
SHA = UPSCALER_META["sha256"]
# the exact delivery sizes (the channel formats' own, and a custom one)
AD_SIZES = {
    "square": (1080, 1080),
    "story": (1080, 1920),
    "leaderboard": (728, 90),
    "640x480": (640, 480),
}


@contextlib.contextmanager
def like_the_worker():
    """One torch thread and the worker's precision, as `assetgen worker` runs by default."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield resolve_precision("auto", "cpu")
    finally:
        torch.set_num_threads(threads)


def cli_job(env: dict, *args: str) -> dict:
    out = run_cli(env, "submit", *args, "--wait", "--json", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.JSONDecoder().raw_decode(out.stdout)[0]


def ad_job(env: dict, upscale: str) -> dict:
    # the built-in trained 32 px model: it has no upscaler of its own, so x4 takes the default's
    return cli_job(env, *ad_cli_args(2, AD_SIZES, "--upscale", upscale))


def test_ad_creatives_with_upscale_x4_through_a_real_worker(prod_env, app_for, start_worker):
    settings, sf, store = app_for(prod_env)
    start_worker(prod_env)
    jobs = {mode: ad_job(prod_env, mode) for mode in ("x4", "off")}
    named = {"name": "default", "version": SHA[:12], "sha256": SHA}
    generator, _ = load_generator(FMNIST_DIR)
    for mode, job in jobs.items():
        manifest = assert_job_consistent(sf, store, job["id"], 2 * len(AD_SIZES))
        row = service.get_job(sf, job["id"])
        assert manifest["upscaler"] == (named if mode == "x4" else None)
        assert row.upscaler_sha256 == (SHA if mode == "x4" else None)
        assert manifest["spec"]["upscale"] == mode
        for entry in manifest["assets"]:
            data = store.get(entry["key"])
            assert Image.open(io.BytesIO(data)).size == AD_SIZES[entry["format"]]
            assert (entry["width"], entry["height"]) == AD_SIZES[entry["format"]]
            meta = store.head(entry["key"])
            if mode == "x4":
                assert entry["upscaler"] == {**named, "passes": 2}  # 32 px -> 512 px
                assert {
                    k: meta.get(k)
                    for k in ("upscaler", "upscaler-version", "upscaler-sha256", "upscale")
                } == {
                    "upscaler": "default",
                    "upscaler-version": SHA[:12],
                    "upscaler-sha256": SHA,
                    "upscale": "x16",
                }
            else:
                assert "upscaler" not in entry and "upscaler" not in meta
            # the exact bytes: the variant's sample (upscaled for x4), laid out as always
            with like_the_worker() as precision:
                pixels = sample(generator, [7], [entry["seed"]], precision=precision).numpy()
                if mode == "x4":
                    pixels = upscale(NET, pixels, 2)
            copy = tuple(copy_of(manifest["spec"]["copy"]).items())
            lay = cached_layout(entry["format"], copy, False)
            image = render(lay, pixels[0], brand_of(manifest["spec"]["brand"]))
            assert data == encode(image, "jpeg"), (mode, entry["key"])
    # same seed, both modes: the same products, drawn differently
    assets = {
        m: {a.key.split("/")[-1]: a for a in service.job_assets(sf, j["id"])}
        for m, j in jobs.items()
    }
    assert {k: a.seed for k, a in assets["x4"].items()} == {
        k: a.seed for k, a in assets["off"].items()
    }
    assert all(assets["x4"][k].sha256 != assets["off"][k].sha256 for k in assets["x4"])


def write_catalogue(path: Path, skus: list[str]) -> Path:
    path.write_text("sku,category\n" + "".join(f"{s},bag\n" for s in skus))
    return path


def test_catalogue_fill_with_upscale_x4_through_a_real_worker(
    prod_env, app_for, start_worker, tiny_model, tmp_path
):
    settings, sf, store = app_for(prod_env)
    start_worker(prod_env)
    runs = {  # mode, tile size -> x4 passes: 800 px tiles of a 32 px model take two, 200 px one
        ("x4", 800): 2,
        ("x4", 200): 1,
        ("off", 800): 0,
    }
    jobs = {}
    for (mode, size), _ in runs.items():
        skus = [f"{mode}{size}-{i}" for i in range(3)]
        csv = write_catalogue(tmp_path / f"{mode}{size}.csv", skus)
        jobs[(mode, size)] = cli_job(
            prod_env,
            "catalogue-fill",
            "--catalogue",
            str(csv),
            "--size",
            str(size),
            "--upscale",
            mode,
        )
    generator, _ = load_generator(tiny_model)
    scorer = Scorer()
    for (mode, size), passes in runs.items():
        job = jobs[(mode, size)]
        row = service.get_job(sf, job["id"])
        assert row.status == "succeeded" and job["images"] == 3
        manifest = json.loads(store.get(f"jobs/{job['id']}/manifest.json"))
        rows = {a.key: a for a in service.job_assets(sf, job["id"])}
        assert sorted(rows) == sorted(a["key"] for a in manifest["assets"])
        assert manifest["upscaler"] == (
            {"name": "default", "version": SHA[:12], "sha256": SHA} if passes else None
        )
        assert (row.upscaler_name, row.upscaler_sha256) == (
            ("default", SHA) if passes else (None, None)
        )
        entries = manifest["assets"]
        assert len(entries) == 3
        for entry in entries:
            key = entry["key"]
            assert key == f"catalogue/{entry['sku']}/synthetic.jpg"
            data = store.get(key)
            assert hashlib.sha256(data).hexdigest() == entry["sha256"] == rows[key].sha256
            assert Image.open(io.BytesIO(data)).size == (size, size)
            assert (entry["width"], entry["height"]) == (size, size)
            meta = store.head(key)
            assert meta["synthetic"] == "true" and meta["sku"] == entry["sku"]
            if passes:
                assert entry["upscaler"] == {
                    "name": "default",
                    "version": SHA[:12],
                    "sha256": SHA,
                    "passes": passes,
                }
                assert (meta["upscaler"], meta["upscaler-sha256"], meta["upscale"]) == (
                    "default",
                    SHA,
                    f"x{4**passes}",
                )
            else:
                assert "upscaler" not in entry and "upscaler" not in meta
            # the exact bytes: the best of 4 candidates (upscaled), resized into the tile
            with like_the_worker() as precision:
                seeds = list(sku_seeds(entry["sku"], row.model_version, 4))
                candidates = sample(generator, [8] * 4, seeds, precision=precision).numpy()
                choice = choose_best(scorer, row.model_uri, candidates, "bag")
                assert (choice.best, entry["seed"]) == (entry["candidate"], seeds[choice.best])
                chosen = candidates[choice.best : choice.best + 1]
                if passes:
                    chosen = upscale(NET, chosen, passes)
            assert data == encode(render_tile(chosen[0], size), "jpeg"), (mode, size, key)


def test_the_api_takes_the_upscale_field(api_ctx):
    me = api_ctx.client()

    def spec(sku: str) -> dict:
        return {"kind": "catalogue_fill", "rows": [{"sku": sku, "category": "bag"}]}

    with TestClient(api_ctx.app()) as http:
        r = http.post("/v1/jobs", json={**spec("API-X4"), "upscale": "x4"}, headers=bearer(me))
        assert r.status_code == 202, r.text
        assert r.json()["upscaler"] == {"name": "default", "version": SHA[:12]}
        shown = http.get(f"/v1/jobs/{r.json()['id']}", headers=bearer(me)).json()
        assert shown["upscaler"] == {"name": "default", "version": SHA[:12]}
        off = http.post("/v1/jobs", json={**spec("API-OFF"), "upscale": "off"}, headers=bearer(me))
        assert off.status_code == 202 and off.json()["upscaler"] is None
        for job in (r.json(), off.json()):  # no worker here: leave no queued work behind
            assert http.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(me)).status_code == 200
        for bad in ("x8", "", 4):
            r = http.post("/v1/jobs", json={**spec("API-BAD"), "upscale": bad}, headers=bearer(me))
            assert r.status_code == 422, r.text
            (err,) = [e for e in r.json()["detail"] if "upscale" in e["loc"]]
            assert "'auto', 'off' or 'x4'" in err["msg"]
