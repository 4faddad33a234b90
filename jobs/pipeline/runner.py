"""The generation pipeline for one work item: claim, sample, upscale, render, encode, store, record,
complete."""

from __future__ import annotations

import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gan.checkpoint import CheckpointError
from gan.device import resolve_device
from gan.sampling import sample
from jobs import lifecycle
from jobs.db.engine import DatabaseAway, create_db_engine, create_session_factory
from jobs.finalise import finalise_jobs
from jobs.kinds.base import Claim, Kind, Output, Unit
from jobs.kinds.registry import create_kinds
from jobs.model_registry import fetch_published
from jobs.pipeline.model_cache import ModelCache
from jobs.pipeline.upscale import UpscaleStage, needs_upscaler, pass_batch_size, upscaler_cache
from jobs.settings import Settings
from jobs.storage import StorageUnavailable, Store, create_store

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    settings: Settings
    sf: sessionmaker[Session]
    store: Store
    models: ModelCache
    # Encodes and uploads one batch while the next is generated (threads: Pillow's encoders and
    # network I/O release the GIL).
    io: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="io")
    )
    # "bf16": autocast, where the device supports it (resolved by create_pipeline)
    precision: str = "fp32"
    kinds: dict[str, Kind] = field(default_factory=create_kinds)
    # between sampling and rendering (jobs.pipeline.upscale); default: upscalers on the models'
    # device, loaded like them
    upscaler: UpscaleStage | None = None

    def __post_init__(self) -> None:
        if self.upscaler is None:
            self.upscaler = UpscaleStage(
                upscaler_cache(self.models.device, self.models.fetch),
                pass_batch_size(self.settings.upscale_batch_size, self.models.device),
            )

    @property
    def worker_name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def run_item(self, item_id: int) -> str:
        """Run one work item, coalesced with other small queued items of its model; returns its
        outcome."""
        claim = lifecycle.claim_item(
            self.sf, item_id, self.worker_name, self.settings.lease_seconds
        )
        if claim is None:
            return "not-claimable"
        more = lifecycle.claim_more(
            self.sf,
            claim,
            self.worker_name,
            self.settings.lease_seconds,
            self.settings.batch_size,
            self.settings.coalesce_items,
        )
        return self.run_claims([claim, *more])[claim.item_id]

    def run_claims(self, claims: list[Claim]) -> dict[int, str]:
        """Generate, store and record the images of claimed items of one model: item id ->
        outcome."""
        outcome: dict[int, str] = {}  # items that stopped early: "failed" or "fenced"
        try:
            generator, _ = self.models.get(claims[0].model_uri, claims[0].model_sha256)
        except CheckpointError as exc:
            return {c.item_id: self._fail(c, "model_invalid", str(exc)) for c in claims}
        self._load_upscalers(claims, outcome)
        try:
            self._generate(claims, generator, outcome)
        except (OperationalError, InterfaceError):
            # the database is away: nothing can be recorded; the task retries, the sweeper backs
            # it up
            raise
        except Exception as exc:  # the items fail with a reason; the rest of their jobs go on
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # e.g. the server ended a transaction this (frozen) process left idle: the
                # database is away
                raise DatabaseAway(f"{type(exc.orig).__name__}: {exc.orig}") from exc
            log.exception("work items %s failed", [c.item_id for c in claims])
            for c in claims:
                if c.item_id not in outcome:
                    outcome[c.item_id] = self._fail(
                        c, "internal_error", f"{type(exc).__name__}: {exc}"
                    )
        done = [c for c in claims if c.item_id not in outcome]
        fenced, complete = lifecycle.complete_items(self.sf, done)
        outcome.update({c.item_id: "fenced" if c.item_id in fenced else "succeeded" for c in done})
        self.finalize(*complete)
        return outcome

    def _load_upscalers(self, claims: list[Claim], outcome: dict[int, str]) -> None:
        """Load (verify) the upscalers the claims need; an item whose upscaler is refused fails."""
        assert self.upscaler is not None
        for c in claims:
            if needs_upscaler(c):
                try:
                    self.upscaler.load(c)
                except CheckpointError as exc:
                    outcome[c.item_id] = self._fail(c, "upscaler_invalid", str(exc))

    def _todo(self, claims: list[Claim]) -> list[Unit]:
        """The units of the items that no earlier attempt recorded."""
        stored = lifecycle.stored_keys(self.sf, claims)
        return [
            u for c in claims for u in self.kinds[c.spec["kind"]].units(c) if not u.keys <= stored
        ]

    def _generate(self, claims: list[Claim], generator, outcome: dict[int, str]) -> None:
        """Batches of units across items; while batch k+1 is generated (and upscaled), batch k is
        rendered, encoded and uploaded by the I/O pool. At most two batches are held
        (back-pressure); a fenced item stops at a batch edge."""
        assert self.upscaler is not None
        pending = None
        for batch in self._batches(self._todo(claims)):
            batch = [u for u in batch if u.claim.item_id not in outcome]
            if not batch:
                continue
            pixels = sample(
                generator,
                [u.label for u in batch for _ in u.seeds],
                [s for u in batch for s in u.seeds],
                batch_size=self.settings.batch_size,
                precision=self.precision,
            ).numpy()
            at = np.cumsum([0] + [len(u.seeds) for u in batch])
            made = self.upscaler(
                self.kinds, [(u, pixels[at[i] : at[i + 1]]) for i, u in enumerate(batch)]
            )
            if pending:
                self._record(*pending, outcome)
            live = [(u, px) for u, px in made if u.claim.item_id not in outcome]
            pending = (
                [u for u, _ in live],
                [self.io.submit(self._store_unit, u, px) for u, px in live],
            )
        if pending:
            self._record(*pending, outcome)

    def _batches(self, units: list[Unit]):
        """Consecutive units whose samples fill about one batch (a unit's samples stay together)."""
        batch, size = [], 0
        for u in units:
            batch.append(u)
            size += len(u.seeds)
            if size >= self.settings.batch_size:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _record(self, units: list[Unit], futures: list, outcome: dict[int, str]) -> None:
        """Wait for a batch's uploads, then record its assets per item (fenced by each item's
        attempt)."""
        assets: dict[int, list[dict]] = {}
        errors: dict[int, tuple[str, str]] = {}
        claims = {u.claim.item_id: u.claim for u in units}
        for u, future in zip(units, futures):
            try:
                assets.setdefault(u.claim.item_id, []).extend(future.result())
            except StorageUnavailable as exc:
                errors[u.claim.item_id] = (
                    "storage_unavailable",
                    f"{exc}; `assetgen jobs retry {u.claim.job_id} "
                    f"--failed-only` runs it again once storage is back",
                )
        for item_id, claim in claims.items():
            if item_id in errors:
                outcome[item_id] = self._fail(claim, *errors[item_id])
        batch = [(claims[i], a) for i, a in assets.items() if i not in outcome]
        for item_id in lifecycle.record_batch(self.sf, batch, self.settings.lease_seconds):
            outcome[item_id] = "fenced"

    def _store_unit(self, unit: Unit, pixels) -> list[dict]:
        """Render a unit's objects, store each (never overwriting), return their asset rows."""
        return [
            self._store_one(out) for out in self.kinds[unit.claim.spec["kind"]].render(unit, pixels)
        ]

    def _store_one(self, out: Output) -> dict:
        put = self.store.put_new(out.key, out.data, out.content_type, out.metadata)
        return {
            "key": out.key,
            "sha256": put.sha256,
            "bytes": put.size,
            "width": out.width,
            "height": out.height,
            "seed": out.seed,
            "category": out.category,
            "content_type": out.content_type,
            "attrs": out.attrs,
        }

    def _fail(self, claim: Claim, code: str, message: str) -> str:
        ended = lifecycle.fail_item(self.sf, claim, code, message)
        if ended:
            self.finalize(claim.job_id)
        return "fenced" if ended is None else "failed"

    def finalize(self, *job_ids: str) -> None:
        """Write each job's manifest (last, on the I/O pool), then mark the jobs finished."""
        finalise_jobs(self.sf, self.store, self.io, job_ids)


def create_pipeline(settings: Settings) -> Pipeline:
    """Everything a worker process needs, built after fork (no shared connections, no CUDA in the
    parent)."""
    torch.set_num_threads(settings.torch_threads)
    device = resolve_device(settings.device, must_exist=False)  # no CUDA: the model load fails
    precision = resolve_precision(settings.precision, device)
    store = create_store(settings)
    cache_dir = settings.resolved_home() / "model-cache"
    models = ModelCache(device=device, fetch=lambda uri: fetch_published(store, uri, cache_dir))
    return Pipeline(
        settings,
        create_session_factory(create_db_engine(settings)),
        store,
        models,
        precision=precision,
        kinds=create_kinds(store=store, fetch=models.fetch),
    )


def resolve_precision(setting: str, device: str) -> str:
    """auto: bf16 where the hardware computes it natively (CUDA, CPUs with AVX512-BF16/AMX),
    else fp32."""
    if setting != "auto":
        return setting
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
