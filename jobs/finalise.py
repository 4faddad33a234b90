"""Finishing jobs: each job's manifest is written last, then the jobs are marked finished.

One finaliser for the worker (after a job's last item) and the sweeper (for a job whose last
worker died before this ran): it needs SQL, the bucket and a pool for the manifest writes,
never a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor

from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Asset, Job, WorkItem
from jobs.lifecycle import final_status, finish_jobs, manifest_inputs
from jobs.manifest import build_manifest, kind_section, manifest_key
from jobs.storage import StorageUnavailable, Store


def finalise_jobs(
    sf: sessionmaker[Session], store: Store, io: Executor, job_ids: Iterable[str]
) -> None:
    """Write each job's manifest (in parallel on ``io``), then mark the jobs finished in one
    transaction.

    With storage away, a job that failed anyway is closed without a manifest (a retry writes
    it); a job that succeeded stays running until the sweeper can write it, and
    StorageUnavailable is raised once the others are closed.
    """
    writes = {
        job.id: io.submit(write_manifest, sf, store, job, assets, failed)
        for job, assets, failed in manifest_inputs(sf, list(job_ids))
    }
    written, unavailable = {}, None
    for job_id, write in writes.items():
        try:
            written[job_id] = write.result()
        except StorageUnavailable as exc:
            unavailable = exc
    finish_jobs(sf, written)
    if unavailable is not None:
        raise unavailable


def write_manifest(
    sf: sessionmaker[Session], store: Store, job: Job, assets: list[Asset], failed: list[WorkItem]
) -> str | None:
    """The job's manifest.json, replacing any earlier one; its key, or None where storage is away
    and the job did not succeed (StorageUnavailable where it did)."""
    status = final_status(job.done_items, job.failed_items).value
    key = manifest_key(job.id)
    body = build_manifest(job, assets, failed, status, kind_section(sf, job))
    try:
        store.replace(key, body, "application/json", {"job": job.id, "status": status})
    except StorageUnavailable:
        if status == "succeeded":
            raise
        return None
    return key
