"""Jobs through the real system: submit (service + outbox relay), wait by polling SQL, check every
count."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs import service
from jobs.db.tables import TERMINAL_JOB, Asset, Job
from jobs.outbox import relay
from jobs.settings import Settings

TERMINAL = tuple(s.value for s in TERMINAL_JOB)
POLL_S = 0.1


@dataclass
class Ctx:
    settings: Settings
    sf: sessionmaker[Session]
    store: object
    publish: Callable[[str, dict], None]
    category: str
    poll: Callable[[], None] = lambda: (
        None
    )  # called on every poll: liveness and memory of the workers
    checks: list[dict] = field(default_factory=list)


@dataclass
class Submitted:
    job_ids: list[str]
    images: int
    started: datetime  # wall clock just before the first submit
    submit_s: float  # time inside service.submit
    relay_s: float  # time inside the outbox relay (publishing to the broker)
    ended: datetime  # wall clock when the last submit (and its relay) returned


def now() -> datetime:
    return datetime.now(UTC)


def aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite returns naive UTC


def submit_jobs(ctx: Ctx, specs: list[dict]) -> Submitted:
    """Submit each spec and relay after each one, as the API and the CLI do."""
    started, submit_s, relay_s, ids, images = now(), 0.0, 0.0, [], 0
    for spec in specs:
        t0 = time.perf_counter()
        job = service.submit(ctx.sf, ctx.settings, spec)
        t1 = time.perf_counter()
        relay(ctx.sf, ctx.publish)
        submit_s, relay_s = submit_s + t1 - t0, relay_s + time.perf_counter() - t1
        ids.append(job.id)
        images += job.total_images
    return Submitted(ids, images, started, submit_s, relay_s, now())


def spec(ctx: Ctx, count: int, fmt: str, **extra) -> dict:
    return {"category": ctx.category, "count": count, "format": fmt, **extra}


def _chunks(ids: list[str], n: int = 500):
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


def unfinished(sf, job_ids: list[str]) -> int:
    with sf() as s:
        return sum(
            s.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.id.in_(c), Job.status.not_in(TERMINAL))
            )
            for c in _chunks(job_ids)
        )


def wait_jobs(ctx: Ctx, job_ids: list[str], timeout: float, what: str) -> None:
    """Bounded polling of SQL until every job is terminal (the workers are checked on every
    poll)."""
    deadline = time.monotonic() + timeout
    while unfinished(ctx.sf, job_ids):
        ctx.poll()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{what}: {unfinished(ctx.sf, job_ids)} of {len(job_ids)} job(s) unfinished "
                f"after {timeout:.0f} s"
            )
        time.sleep(POLL_S)


def finished_at(sf, job_ids: list[str]) -> datetime:
    """When the last of these jobs finished (as recorded in SQL by the worker)."""
    with sf() as s:
        return max(
            aware(s.scalar(select(func.max(Job.finished_at)).where(Job.id.in_(c))))
            for c in _chunks(job_ids)
        )


def run_jobs(ctx: Ctx, specs: list[dict], timeout: float, what: str) -> dict:
    """Submit, wait, check; wall time is from just before the first submit to the last job's
    finished_at."""
    sub = submit_jobs(ctx, specs)
    wait_jobs(ctx, sub.job_ids, timeout, what)
    done = finished_at(ctx.sf, sub.job_ids)
    wall = (done - sub.started).total_seconds()
    check = check_jobs(ctx, what, sub.job_ids, {j: s["count"] for j, s in zip(sub.job_ids, specs)})
    return {
        "jobs": len(sub.job_ids),
        "images": sub.images,
        "wall_s": round(wall, 3),
        "ips": round(sub.images / wall, 1),
        "submit_s": round(sub.submit_s, 3),
        "relay_s": round(sub.relay_s, 3),
        "submit_wall_s": round((sub.ended - sub.started).total_seconds(), 3),
        "done_after_last_submit_s": round((done - sub.ended).total_seconds(), 3),
        "counts_ok": check["ok"],
        "job_ids": sub.job_ids,
    }


# ---------------------------------------------------------------- checks


def count_objects(store, prefix: str) -> list[str]:
    """Keys under prefix; a local bucket is read from its folder directly (its list() walks
    everything)."""
    root = getattr(store, "root", None)
    if root is None:
        return store.list(prefix)
    folder = Path(root) / prefix
    if not folder.is_dir():
        return []
    return [
        prefix + e.name
        for e in os.scandir(folder)
        if e.is_file() and not e.name.startswith(".tmp-")
    ]


def check_jobs(
    ctx: Ctx, phase: str, job_ids: list[str], expected: dict[str, int], manifests: bool = True
) -> dict:
    """Every job succeeded; asset rows, bucket objects (and manifests) match the images
    requested."""
    with ctx.sf() as s:
        status = {
            j: st
            for c in _chunks(job_ids)
            for j, st in s.execute(select(Job.id, Job.status).where(Job.id.in_(c)))
        }
        rows = {
            j: n
            for c in _chunks(job_ids)
            for j, n in s.execute(
                select(Asset.job_id, func.count()).where(Asset.job_id.in_(c)).group_by(Asset.job_id)
            )
        }
    objects = found_manifests = 0
    for job_id in job_ids:
        keys = count_objects(ctx.store, f"jobs/{job_id}/")
        has_manifest = f"jobs/{job_id}/manifest.json" in keys
        found_manifests += has_manifest
        objects += len(keys) - has_manifest
    requested = sum(expected.values())
    check = {
        "phase": phase,
        "jobs": len(job_ids),
        "jobs_succeeded": sum(v == "succeeded" for v in status.values()),
        "images_requested": requested,
        "asset_rows": sum(rows.values()),
        "objects_stored": objects,
        "manifests": found_manifests if manifests else None,
    }
    check["ok"] = (
        check["jobs_succeeded"] == len(job_ids)
        and check["asset_rows"] == requested == objects
        and all(rows.get(j, 0) == n for j, n in expected.items())
        and (not manifests or found_manifests == len(job_ids))
    )
    ctx.checks.append(check)
    return check
