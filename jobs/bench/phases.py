"""The phases that run through real worker processes: pipeline, small jobs, urgent latency, scaling,
naive."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from jobs.bench.flow import (
    Ctx,
    aware,
    check_jobs,
    finished_at,
    now,
    run_jobs,
    spec,
    submit_jobs,
    wait_jobs,
)
from jobs.bench.naive import create_naive_job, publish_naive
from jobs.bench.procs import MemoryWatch
from jobs.bench.sizes import Sizes
from jobs.db.tables import Asset, Job


def pipeline(ctx: Ctx, sizes: Sizes) -> dict:
    """One large job (the target workload), submit to the last image recorded and the job
    succeeded."""
    return run_jobs(
        ctx,
        [spec(ctx, sizes.pipeline_images, sizes.image_format)],
        sizes.phase_timeout_s,
        "pipeline",
    )


def catalogue_pipeline(
    ctx: Ctx, sizes: Sizes, run_id: str, upscale: str = "off", name: str = "catalogue_pipeline"
) -> dict:
    """One catalogue-fill job of catalogue_tiles SKUs (spec defaults: best of 4, 800 px JPEG; the
    given upscale), submit to done."""
    tag = f"CP-{run_id}-{upscale}-"
    spec = {
        "kind": "catalogue_fill",
        "rows": [
            {"sku": f"{tag}{i:06d}", "category": ctx.category} for i in range(sizes.catalogue_tiles)
        ],
        "upscale": upscale,
    }
    sub = submit_jobs(ctx, [spec])
    wait_jobs(ctx, sub.job_ids, sizes.phase_timeout_s, name)
    wall = (finished_at(ctx.sf, sub.job_ids) - sub.started).total_seconds()
    with ctx.sf() as s:
        status = s.get(Job, sub.job_ids[0]).status
        rows = s.scalar(
            select(func.count()).select_from(Asset).where(Asset.job_id == sub.job_ids[0])
        )
    objects = sum(tag in key for key in ctx.store.list("catalogue/"))
    check = {
        "phase": name,
        "jobs": 1,
        "jobs_succeeded": int(status == "succeeded"),
        "images_requested": sizes.catalogue_tiles,
        "asset_rows": rows,
        "objects_stored": objects,
    }
    check["ok"] = status == "succeeded" and rows == objects == sub.images == sizes.catalogue_tiles
    ctx.checks.append(check)
    with ctx.sf() as s:
        upscaler = s.get(Job, sub.job_ids[0]).upscaler_sha256
    return {
        "tiles": sub.images,
        "upscale": upscale,
        "upscaler_sha256": upscaler,
        "wall_s": round(wall, 3),
        "ips": round(sub.images / wall, 1),
        "submit_s": round(sub.submit_s, 3),
        "counts_ok": check["ok"],
    }


def small_jobs(ctx: Ctx, sizes: Sizes) -> dict:
    """Many small jobs submitted one after another (each relayed at once, as the API does)."""
    specs = [
        spec(ctx, sizes.small_job_images, sizes.image_format, seed=i)
        for i in range(sizes.small_jobs)
    ]
    out = run_jobs(ctx, specs, sizes.phase_timeout_s, "small_jobs")
    out["submit_rps"] = round(out["jobs"] / out["submit_s"], 1)
    out["submit_relay_rps"] = round(out["jobs"] / (out["submit_s"] + out["relay_s"]), 1)
    return out


def _latency(ctx: Ctx, job_id: str, started) -> float:
    return round((finished_at(ctx.sf, [job_id]) - started).total_seconds(), 3)


def _images_done(ctx: Ctx, job_id: str, before=None) -> int:
    q = select(func.count()).select_from(Asset).where(Asset.job_id == job_id)
    if before is not None:
        q = q.where(Asset.created_at <= before)
    with ctx.sf() as s:
        return s.scalar(q) or 0


def _wait_started(ctx: Ctx, job_id: str, timeout: float) -> None:
    """Bounded polling until the bulk job has stored its first image (the workers are busy with
    it)."""
    deadline = time.monotonic() + timeout
    while not _images_done(ctx, job_id):
        ctx.poll()
        with ctx.sf() as s:
            if s.get(Job, job_id).status not in ("queued", "running"):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"bulk job {job_id} stored nothing in {timeout} s")
        time.sleep(0.02)


def urgent(ctx: Ctx, sizes: Sizes) -> dict:
    """Submit-to-done of a small urgent job on an idle system, then while a bulk backfill runs."""
    urgent_spec = spec(ctx, sizes.urgent_images, sizes.image_format, priority="urgent")
    idle = submit_jobs(ctx, [urgent_spec])
    wait_jobs(ctx, idle.job_ids, sizes.phase_timeout_s, "urgent (idle)")
    bulk = submit_jobs(ctx, [spec(ctx, sizes.bulk_images, sizes.image_format, priority="bulk")])
    bulk_id = bulk.job_ids[0]
    _wait_started(ctx, bulk_id, sizes.phase_timeout_s)
    busy = submit_jobs(ctx, [{**urgent_spec, "seed": 1}])
    left_at_submit = sizes.bulk_images - _images_done(ctx, bulk_id)
    wait_jobs(ctx, busy.job_ids, sizes.phase_timeout_s, "urgent (busy)")
    urgent_done = finished_at(ctx.sf, busy.job_ids)
    wait_jobs(ctx, [bulk_id], sizes.phase_timeout_s, "bulk backfill")
    bulk_done = finished_at(ctx.sf, [bulk_id])
    check_jobs(
        ctx,
        "urgent",
        [idle.job_ids[0], busy.job_ids[0], bulk_id],
        {
            idle.job_ids[0]: sizes.urgent_images,
            busy.job_ids[0]: sizes.urgent_images,
            bulk_id: sizes.bulk_images,
        },
    )
    return {
        "idle_s": _latency(ctx, idle.job_ids[0], idle.started),
        "during_bulk_s": _latency(ctx, busy.job_ids[0], busy.started),
        "bulk_images": sizes.bulk_images,
        "bulk_images_left_when_urgent_submitted": left_at_submit,
        "bulk_images_done_before_urgent_finished": _images_done(ctx, bulk_id, urgent_done),
        "bulk_wall_s": round((bulk_done - bulk.started).total_seconds(), 3),
        "urgent_finished_before_bulk": aware(urgent_done) < aware(bulk_done),
    }


def scaling(ctx: Ctx, sizes: Sizes, memory: MemoryWatch, gpu: bool) -> list[dict]:
    """One job per size, with the workers' peak memory measured over each run."""
    points = []
    for n in sizes.scaling:
        memory.reset()
        sampler = ctx.poll

        def poll():
            sampler()
            memory.sample(gpu)

        run = run_jobs(
            Ctx(**{**ctx.__dict__, "poll": poll}),
            [spec(ctx, n, sizes.image_format)],
            sizes.phase_timeout_s,
            f"scaling {n}",
        )
        points.append(
            {
                "images": n,
                "wall_s": run["wall_s"],
                "ips": run["ips"],
                "counts_ok": run["counts_ok"],
                "worker_memory": memory.report(),
            }
        )
    return points


def naive(ctx: Ctx, sizes: Sizes, app) -> dict:
    """The naive baseline (jobs/bench/naive.py): a task per image, model loaded per task, commit per
    image."""
    started = now()
    job_id, item_ids = create_naive_job(ctx.sf, ctx.settings, ctx.category, sizes.naive_images)
    publish_naive(app, ctx.settings, item_ids)
    wait_jobs(ctx, [job_id], sizes.phase_timeout_s, "naive baseline")
    wall = (finished_at(ctx.sf, [job_id]) - started).total_seconds()
    check = check_jobs(ctx, "naive", [job_id], {job_id: sizes.naive_images}, manifests=False)
    return {
        "images": sizes.naive_images,
        "wall_s": round(wall, 3),
        "ips": round(sizes.naive_images / wall, 2),
        "counts_ok": check["ok"],
        "design": "one Celery task per image; generator loaded from its checkpoint "
        "in every task; PNG at Pillow's default level; one SQL commit "
        "per image (jobs/bench/naive.py, benchmark only)",
    }
