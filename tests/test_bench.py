"""`assetgen bench --quick --json` end to end with real worker processes: the report's shape and
its counts.

Speed is reported, never asserted: the benchmark measures, the tests check behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from gan.upscale_checkpoint import default_upscaler_path, load_upscaler
from gan.upscaler import macs
from jobs.bench import QUICK
from tests.support import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

RATES = (
    "generator_ips",
    "bare_loop_ips",
    "pipeline_ips",
    "small_jobs_ips",
    "submit_rps",
    "naive_ips",
    "catalogue_bare_ips",
    "catalogue_pipeline_ips",
    "upscaled_tiles_ips",
    "catalogue_bare_upscaled_ips",
    "catalogue_pipeline_upscaled_ips",
)
RATIOS = (
    "pipeline_ratio",
    "small_jobs_ratio",
    "speedup_vs_naive",
    "catalogue_pipeline_ratio",
    "catalogue_bare_upscale_ratio",
    "catalogue_pipeline_upscale_ratio",
)
UPSCALER, UPSCALER_META = load_upscaler(default_upscaler_path())


def run_quick_bench(env: dict, out: Path) -> dict:
    done = run_cli(env, "bench", "--quick", "--json", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    for phase in (
        "[generator]",
        "[bare_loop]",
        "[upscale]",
        "[catalogue_bare]",
        "[catalogue_submit]",
        "[pipeline]",
        "[catalogue_pipeline]",
        "[small_jobs]",
        "[urgent]",
        "[scaling]",
        "[naive]",
    ):
        assert phase in done.stderr  # a progress line per phase
    report = json.loads(done.stdout)
    assert json.loads((out / "bench.json").read_text()) == report
    return report


def check_report(report: dict) -> None:
    for key in RATES + RATIOS:
        assert isinstance(report[key], (int, float)) and report[key] > 0, key
    assert report["quick"] is True
    assert set(report["generator"]["per_batch_size"]) == {str(b) for b in QUICK.batch_sizes}
    assert report["generator_ips"] == max(report["generator"]["per_batch_size"].values())
    assert report["pipeline_ratio"] == round(report["pipeline_ips"] / report["bare_loop_ips"], 3)
    cat = report["catalogue_submit"]
    assert report["catalogue_submit_s"] == cat["wall_s"] > 0
    # a Shopify export read at submit, against a bucket with real photos for one product in five
    assert (cat["rows"], cat["format"], cat["bucket_objects"]) == (
        QUICK.catalogue_rows,
        "shopify",
        QUICK.catalogue_objects,
    )
    assert cat["real_photos"] == len(range(0, QUICK.catalogue_rows, 5)) > 0
    assert cat["skus_to_generate"] == QUICK.catalogue_rows - cat["real_photos"]

    # every count matches: images stored == images requested, every job succeeded
    checks = report["checks"]
    assert checks["all_ok"] is True
    phases = {c["phase"] for c in checks["phases"]}
    assert {"bare_loop", "pipeline", "small_jobs", "urgent", "naive"} <= phases
    assert {f"scaling {n}" for n in QUICK.scaling} <= phases
    assert {"bare_loop", "catalogue_submit", "catalogue_bare", "catalogue_pipeline"} <= phases
    assert (
        report["catalogue_bare"]["stored"]
        == report["catalogue_pipeline"]["tiles"]
        == QUICK.catalogue_tiles
    )
    assert report["catalogue_pipeline_ratio"] == round(
        report["catalogue_pipeline_ips"] / report["catalogue_bare_ips"], 3
    )
    # the upscaler's cost, and the catalogue workload with upscale auto against off
    up = report["upscaler"]
    assert up["sha256"] == UPSCALER_META["sha256"]
    assert up["macs_per_128px_sample"] == macs(UPSCALER.cfg, 128, 128) > 0
    assert report["upscale_gmac_per_128px"] == round(up["macs_per_128px_sample"] / 1e9, 3)
    assert up["x4_128px_ips"] > 0 and up["tile_passes"] == 2  # x4: 32 px samples, 800 px tiles
    assert report["upscaled_tiles_ips"] == up["upscaled_tiles_ips"]
    assert {"catalogue_bare_upscaled", "catalogue_pipeline_upscaled"} <= phases
    assert (
        report["catalogue_bare"]["upscale_passes"],
        report["catalogue_bare_upscaled"]["upscale_passes"],
    ) == (0, 1)  # auto: one x4 pass (x4's two are upscaled_tiles_ips)
    assert report["catalogue_bare_upscaled"]["stored"] == QUICK.catalogue_tiles
    assert report["catalogue_pipeline"]["upscaler_sha256"] is None
    assert report["catalogue_pipeline_upscaled"]["upscaler_sha256"] == UPSCALER_META["sha256"]
    assert report["catalogue_pipeline_upscaled"]["tiles"] == QUICK.catalogue_tiles
    assert report["catalogue_pipeline_upscale_ratio"] == round(
        report["catalogue_pipeline_upscaled_ips"] / report["catalogue_pipeline_ips"], 3
    )
    assert report["catalogue_bare_upscale_ratio"] == round(
        report["catalogue_bare_upscaled_ips"] / report["catalogue_bare_ips"], 3
    )
    for c in checks["phases"]:
        assert c["ok"], c
        if c["phase"] == "catalogue_submit":
            continue  # timed and cancelled: nothing is stored
        assert c["objects_stored"] == c["images_requested"], c
        if "jobs" in c:
            assert c["jobs_succeeded"] == c["jobs"] and c["asset_rows"] == c["images_requested"], c
    assert report["bare_loop"]["stored"] == QUICK.bare_images
    assert (report["pipeline"]["images"], report["pipeline"]["jobs"]) == (QUICK.pipeline_images, 1)
    assert (report["small_jobs"]["jobs"], report["small_jobs"]["images"]) == (
        QUICK.small_jobs,
        QUICK.small_jobs * QUICK.small_job_images,
    )
    assert report["naive"]["images"] == QUICK.naive_images

    urgent = report["urgent"]
    assert report["urgent_latency_s"] == {
        "idle_s": urgent["idle_s"],
        "during_bulk_s": urgent["during_bulk_s"],
    }
    assert (
        urgent["idle_s"] > 0
        and urgent["during_bulk_s"] > 0
        and urgent["bulk_images"] == QUICK.bulk_images
    )

    points = report["scaling"]["points"]
    assert [p["images"] for p in points] == list(QUICK.scaling)
    assert all(p["wall_s"] > 0 and p["counts_ok"] for p in points)
    assert set(report["scaling"]["fit"]) >= {"slope_s_per_image", "intercept_s", "r2"}
    with Image.open(report["scaling"]["plot"]) as plot:
        assert plot.format == "PNG" and plot.width > 100
    assert set(report["worker_peak_rss_mb"]) == {str(n) for n in QUICK.scaling[-2:]}
    assert all(
        mb > 10 for mb in report["worker_peak_rss_mb"].values()
    )  # a live worker tree was measured


def test_bench_quick_embedded(embedded_env, tmp_path):
    report = run_quick_bench(embedded_env, tmp_path / "out")
    check_report(report)
    assert report["system"]["database"] == "sqlite" and report["gpu_memory"] is None
    assert report["host"]["device"] == "cpu"


def test_bench_quick_postgres_redis_s3(prod_env, tmp_path):
    migrated = run_cli(prod_env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    report = run_quick_bench(prod_env, tmp_path / "out")
    check_report(report)
    assert report["system"]["database"] == "postgresql" and report["system"]["broker"] == "redis"
    assert report["system"]["storage"].startswith("s3://")


def test_bench_refuses_an_unmigrated_database_and_a_missing_gpu(embedded_env, tmp_path):
    env = {**embedded_env, "ASSETGEN_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    out = run_cli(env, "bench", "--quick", "--out", str(tmp_path / "out"))
    assert out.returncode != 0 and "assetgen db upgrade" in out.stderr, out.stderr
    import torch

    if not torch.cuda.is_available():
        out = run_cli(
            embedded_env, "bench", "--quick", "--device", "cuda", "--out", str(tmp_path / "out")
        )
        assert out.returncode != 0 and "no CUDA device" in out.stderr, out.stderr
