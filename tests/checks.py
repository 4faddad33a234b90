"""The invariant every pipeline test ends with: bucket keys == asset rows == manifest entries."""
from __future__ import annotations

import hashlib
import json

from jobs import service


def assert_job_consistent(sf, store, job_id: str, expected_images: int) -> dict:
    job = service.get_job(sf, job_id)
    assert job.status == "succeeded", (job.status, job.error_code, job.error_message)
    assert job.done_items == job.total_items and job.failed_items == 0
    rows = service.job_assets(sf, job_id)
    manifest = json.loads(store.get(f"jobs/{job_id}/manifest.json"))
    bucket_keys = set(store.list(f"jobs/{job_id}/")) - {f"jobs/{job_id}/manifest.json"}
    row_keys = {r.key for r in rows}
    manifest_keys = [a["key"] for a in manifest["assets"]]
    assert len(rows) == len(row_keys) == len(manifest_keys) == expected_images
    assert bucket_keys == row_keys == set(manifest_keys)
    assert service.done_images(sf, job_id) == expected_images
    for row in rows:
        data = store.get(row.key)
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert len(data) == row.bytes
    by_key = {a["key"]: a for a in manifest["assets"]}
    for row in rows:
        entry = by_key[row.key]
        assert (entry["sha256"], entry["bytes"], entry["seed"], entry["width"]) == (row.sha256, row.bytes, row.seed,
                                                                                    row.width)
    assert manifest["status"] == "succeeded" and manifest["model"]["sha256"] == job.model_sha256
    return manifest
