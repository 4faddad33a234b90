"""The generation pipeline for one work item: claim, sample, encode, store, record, complete."""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import torch
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gan import sample
from gan.checkpoint import CheckpointError
from jobs import service
from jobs.seeds import image_seed
from jobs.settings import Settings
from worker.encode import CONTENT_TYPES, EXTENSIONS, encode, to_pil
from worker.manifest import build_manifest, manifest_key
from worker.model_cache import ModelCache
from worker.storage import Store, StorageUnavailable

log = logging.getLogger(__name__)


def asset_key(job_id: str, image_index: int, fmt: str) -> str:
    return f"jobs/{job_id}/{image_index:05d}.{EXTENSIONS[fmt]}"


@dataclass
class Pipeline:
    settings: Settings
    sf: sessionmaker[Session]
    store: Store
    models: ModelCache

    @property
    def worker_name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def run_item(self, item_id: int) -> str:
        """Run one work item; returns what happened (for logs and tests)."""
        claim = service.claim_item(self.sf, item_id, self.worker_name, self.settings.lease_seconds)
        if claim is None:
            return "not-claimable"
        try:
            generator, _ = self.models.get(claim.model_uri, claim.model_sha256)
        except CheckpointError as exc:
            return self._fail(claim, "model_invalid", str(exc))
        try:
            if not self._generate(claim, generator):
                return "fenced"
        except StorageUnavailable as exc:
            return self._fail(claim, "storage_unavailable", f"{exc}; `assetgen jobs retry {claim.job_id} "
                                                             "--failed-only` runs it again once storage is back")
        except (OperationalError, InterfaceError):
            raise  # the database is away: nothing can be recorded; the task retries, the sweeper backs it up
        except Exception as exc:  # the item fails with a reason; the rest of the job goes on
            log.exception("work item %s failed", item_id)
            return self._fail(claim, "internal_error", f"{type(exc).__name__}: {exc}")
        if service.complete_item(self.sf, claim):
            self.finalize(claim.job_id)
        return "succeeded"

    def _generate(self, claim: service.Claim, generator) -> bool:
        spec, params = claim.spec, claim.params
        fmt, base = spec["format"], spec["seed"] if spec.get("seed") is not None else claim.job_id
        stored = service.stored_keys(self.sf, claim)
        todo = [n for n in range(params["start"], params["start"] + params["count"])
                if asset_key(claim.job_id, n, fmt) not in stored]
        for i in range(0, len(todo), self.settings.batch_size):
            batch = todo[i:i + self.settings.batch_size]
            seeds = [image_seed(base, claim.index, n) for n in batch]
            pixels = sample(generator, [params["label"]] * len(batch), seeds).numpy()
            assets = [self._store_one(claim, n, seed, img, fmt) for n, seed, img in zip(batch, seeds, pixels)]
            if not service.record_assets(self.sf, claim, assets, self.settings.lease_seconds):
                return False
        return True

    def _store_one(self, claim: service.Claim, n: int, seed: int, pixels, fmt: str) -> dict:
        image = to_pil(pixels)
        key = asset_key(claim.job_id, n, fmt)
        metadata = {"job": claim.job_id, "model": claim.model_name, "version": claim.model_version,
                    "seed": str(seed), "category": claim.params["category"], "synthetic": "true"}
        put = self.store.put_new(key, encode(image, fmt), CONTENT_TYPES[fmt], metadata)
        return {"key": key, "sha256": put.sha256, "bytes": put.size, "width": image.width, "height": image.height,
                "seed": seed, "category": claim.params["category"], "content_type": CONTENT_TYPES[fmt]}

    def _fail(self, claim: service.Claim, code: str, message: str) -> str:
        if service.fail_item(self.sf, claim, code, message):
            self.finalize(claim.job_id)
        return "failed"

    def finalize(self, job_id: str) -> None:
        """Write the manifest (last), then mark the job finished.

        With storage away, a job that failed anyway is closed without a manifest (a retry
        writes it); a job that succeeded stays running until the sweeper can write it.
        """
        job = service.get_job(self.sf, job_id)
        failed = service.failed_items(self.sf, job_id)
        status = service.final_status(job.done_items, job.failed_items).value
        key = manifest_key(job_id)
        try:
            self.store.replace(key, build_manifest(job, service.job_assets(self.sf, job_id), failed, status),
                               "application/json", {"job": job_id, "status": status})
        except StorageUnavailable:
            if status == "succeeded":
                raise
            key = None
        service.finish_job(self.sf, job_id, key)


def create_pipeline(settings: Settings) -> Pipeline:
    """Everything a worker process needs, built after fork (no shared connections, no CUDA in the parent)."""
    from jobs.db import create_db_engine, create_session_factory
    from worker.storage import create_store

    torch.set_num_threads(settings.torch_threads)
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    from jobs.model_registry import fetch_published

    store = create_store(settings)
    cache_dir = settings.resolved_home() / "model-cache"
    models = ModelCache(device=device, fetch=lambda uri: fetch_published(store, uri, cache_dir))
    return Pipeline(settings, create_session_factory(create_db_engine(settings)), store, models)
