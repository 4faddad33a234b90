"""An ad-creative job end to end on real components: `assetgen submit ad-creative --wait` against
PostgreSQL + Redis + moto S3 with a real `assetgen worker` process."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from jobs.layout.formats import FORMATS
from tests.support import FMNIST, ad_cli_args, assert_job_consistent, run_cli

pytestmark = pytest.mark.integration

SIZES = {**{name: (f.width, f.height) for name, f in FORMATS.items()}, "640x480": (640, 480)}


def test_ad_creative_job_through_a_real_worker(prod_env, app_for, start_worker):
    settings, sf, store = app_for(prod_env)
    start_worker(prod_env)
    out = run_cli(
        prod_env,
        "submit",
        *ad_cli_args(5, SIZES, "--subline", "Recycled knit, cushioned soles"),
        "--wait",
        "--json",
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    job, _ = json.JSONDecoder().raw_decode(out.stdout)
    assert (job["kind"], job["images"], job["items"]) == (
        "ad_creative",
        40,
        "0/2",
    )  # 5 variants x 8 formats
    manifest = assert_job_consistent(sf, store, job["id"], 40)

    entries = {(a["variant"], a["format"]): a for a in manifest["assets"]}
    assert set(entries) == {
        (v, f) for v in range(5) for f in SIZES
    }  # every variant x format, with attrs
    for (variant, fmt), entry in entries.items():
        assert entry["key"] == f"jobs/{job['id']}/{variant:05d}-{fmt}.jpg"
        assert (entry["width"], entry["height"]) == SIZES[fmt]
        assert (
            entry["seed"] == entries[(variant, "square")]["seed"]
        )  # all formats show the same product
        meta = store.head(entry["key"])
        assert meta == {
            **meta,
            "job": job["id"],
            "variant": str(variant),
            "format": fmt,
            "model": FMNIST,
            "version": manifest["model"]["version"],
            "seed": str(entry["seed"]),
            "score": f"{entry['score']:.6f}",
            "score-method": entry["score_method"],
            "synthetic": "true",
            "content-type": "image/jpeg",
        }
    assert len({entries[(v, "square")]["seed"] for v in range(5)}) == 5  # each variant its own seed
    for fmt, size in SIZES.items():
        assert Image.open(io.BytesIO(store.get(entries[(0, fmt)]["key"]))).size == size
