"""The per-job manifest: written last, atomically; a consumer that sees it sees a finished job."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Asset, Job, WorkItem
from jobs.kinds.registry import get_kind


def manifest_key(job_id: str) -> str:
    return f"jobs/{job_id}/manifest.json"


def kind_section(sf: sessionmaker[Session], job: Job) -> dict:
    """The kind's own parts of a manifest, read from SQL (catalogue fill: counts and every row's
    outcome)."""
    return get_kind(job.kind).manifest_section(sf, job)


def build_manifest(
    job: Job, assets: list[Asset], failed: list[WorkItem], status: str, extra: dict | None = None
) -> bytes:
    """``extra``: the kind's own sections (kind_section)."""
    doc = {
        "job_id": job.id,
        "kind": job.kind,
        "status": status,
        "model": {"name": job.model_name, "version": job.model_version, "sha256": job.model_sha256},
        # the x4 upscaler of the job's upscaled assets (each names it too), or null
        "upscaler": {
            "name": job.upscaler_name,
            "version": job.upscaler_version,
            "sha256": job.upscaler_sha256,
        }
        if job.upscaler_sha256
        else None,
        "spec": job.spec,
        "assets": [
            {
                "key": a.key,
                "sha256": a.sha256,
                "bytes": a.bytes,
                "width": a.width,
                "height": a.height,
                "seed": a.seed,
                "category": a.category,
                "content_type": a.content_type,
                "model": job.model_name,
                "version": job.model_version,
                **(a.attrs or {}),
            }
            for a in sorted(assets, key=lambda a: a.key)
        ],
        "failed_items": [
            {"index": i.index, "error_code": i.error_code, "error_message": i.error_message}
            for i in failed
        ],
        **(extra or {}),
    }
    return json.dumps(doc, indent=1, sort_keys=True).encode()
