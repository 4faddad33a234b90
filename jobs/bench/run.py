"""The benchmark run: in-process phases, then real worker processes, then the naive baseline; one
JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from gan.checkpoint import load_generator
from gan.device import DeviceUnavailable, resolve_device
from jobs.bench import phases as ph
from jobs.bench.flow import Ctx, count_objects, submit_jobs, wait_jobs
from jobs.bench.inproc import (
    bare_loop,
    catalogue_bare_loop,
    catalogue_submit,
    cuda_memory_mb,
    generator_ips,
    upscaler_speed,
)
from jobs.bench.naive import create_naive_celery, create_naive_job, publish_naive
from jobs.bench.plot import line_fit, plot_scaling
from jobs.bench.procs import MemoryWatch, ProcessDied, Procs
from jobs.bench.sizes import DEFAULT, PHASES, QUICK, Sizes
from jobs.broker.celery import create_celery, create_publisher
from jobs.db.engine import (
    DatabaseNotMigrated,
    check_migrated,
    create_db_engine,
    create_session_factory,
    upgrade,
)
from jobs.model_registry import resolve_model
from jobs.pipeline.runner import resolve_precision
from jobs.pipeline.upscale import pass_batch_size
from jobs.settings import Settings
from jobs.storage import create_store


class BenchError(RuntimeError):
    """The benchmark could not run (no CUDA, un-migrated database, a worker that died ...)."""


_T0 = time.monotonic()


def stderr_progress(line: str) -> None:
    print(f"bench {time.monotonic() - _T0:6.1f}s {line}", file=sys.stderr, flush=True)


def open_database(settings: Settings):
    if settings.database_url is None:
        upgrade(
            settings
        )  # the embedded default SQLite file is ours to create, as `assetgen demo` does
    engine = create_db_engine(settings)
    try:
        check_migrated(settings, engine)
    except DatabaseNotMigrated as exc:
        raise BenchError(str(exc)) from None
    return engine, create_session_factory(engine)


def host_info(device: str, settings: Settings) -> dict:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else None
    )
    info = {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "torch_threads": settings.torch_threads,
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
    }  # other work sharing the CPUs shows here
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def code_version() -> dict:
    """The commit measured and whether the tree had local changes (read-only git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "local_changes": None}
    return {"commit": head or None, "local_changes": dirty}


def run_bench(
    settings: Settings,
    *,
    out_dir: Path,
    device: str | None = None,
    quick: bool = False,
    phases: tuple[str, ...] = PHASES,
    workers: int = 1,
    progress: Callable[[str], None] = stderr_progress,
) -> dict:
    """Run the selected phases and return the report (also written to OUT_DIR/bench.json)."""
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise BenchError(
            f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}"
        )
    sizes = QUICK if quick else DEFAULT
    try:
        device = resolve_device(device or settings.device)
    except DeviceUnavailable as exc:
        raise BenchError(str(exc)) from None
    if device == "cuda" and not quick:
        sizes = replace(
            sizes, batch_sizes=sizes.batch_sizes + (4096,)
        )  # a GPU keeps gaining past 1024
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    # A queue of this run's own: other workers on the deployment's queue never take bench work.
    settings = settings.model_copy(
        update={"queue": f"{settings.queue}-bench-{run_id}", "device": device}
    )
    engine, sf = open_database(settings)
    store = create_store(settings)
    model = resolve_model(settings, "default")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "phases": list(phases),
        "sizes": sizes.as_dict(),
        "host": host_info(device, settings),
        "code": code_version(),
        "system": {
            "database": engine.url.get_backend_name(),
            "broker": settings.celery_broker_url().split(":")[0],
            "storage": store.describe(),
            "workers": workers,
            "worker_concurrency": settings.worker_concurrency,
            "batch_size": settings.batch_size,
            "torch_threads": settings.torch_threads,
            "precision_setting": settings.precision,
        },
        "gpu_memory": {"bench_process": None, "workers_peak_mb": None}
        if device == "cuda"
        else None,
        "model": {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "image_size": model.image_size,
            "classes": len(model.class_names),
        },
        "upscaler": None,  # the upscale phase fills it in
    }
    ctx = Ctx(settings, sf, store, publish=None, category=sizes.category or model.class_names[0])
    _in_process(report, ctx, sizes, phases, device, run_id, model, progress)
    _through_workers(
        report, ctx, sizes, phases, device, workers, out_dir / "logs" / run_id, run_id, progress
    )
    report["host"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    _summarise(report, ctx, sizes, out_dir)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    progress(f"done: {out_dir / 'bench.json'}")
    return report


def _in_process(
    report: dict, ctx: Ctx, sizes: Sizes, phases, device: str, run_id: str, model, progress
) -> None:
    if "catalogue_submit" in phases:
        progress(
            f"[catalogue_submit] a {sizes.catalogue_rows}-product Shopify export, a bucket of "
            f"{sizes.catalogue_objects} catalogue objects"
        )
        cat = catalogue_submit(
            ctx.sf,
            ctx.settings,
            ctx.store,
            sizes.catalogue_rows,
            sizes.catalogue_objects,
            ctx.category,
        )
        ctx.checks.append(
            {
                "phase": "catalogue_submit",
                "rows": cat["rows"],
                "ok": cat["skus_to_generate"] == cat["rows"] - cat["real_photos"]
                and cat["format"] == "shopify",
            }
        )
        report["catalogue_submit"], report["catalogue_submit_s"] = cat, cat["wall_s"]
        progress(f"[catalogue_submit] {cat['wall_s']} s for {cat['rows']} rows")
    if not {"generator", "bare_loop", "upscale", "catalogue_bare"} & set(phases):
        return
    label = model.class_names.index(ctx.category)
    torch.set_num_threads(ctx.settings.torch_threads)  # as the worker sets it
    precision = resolve_precision(ctx.settings.precision, device)  # as the worker resolves it
    generator, _ = load_generator(ctx.settings.default_model, device=device)
    upscaler = None
    if model.upscaler is not None and {"upscale", "catalogue_bare"} & set(phases):
        from gan.upscale_checkpoint import load_upscaler

        upscaler = load_upscaler(model.upscaler.uri, device=device)
    if "generator" in phases:
        progress(
            f"[generator] gan.sample, batch sizes {list(sizes.batch_sizes)}, {device}, {precision}"
        )
        gen = generator_ips(generator, device, sizes.batch_sizes, sizes.min_seconds, precision)
        report["generator"], report["generator_ips"] = gen, gen["best_ips"]
        progress(f"[generator] best {gen['best_ips']} img/s at batch {gen['best_batch_size']}")
    if "bare_loop" in phases:
        progress(
            f"[bare_loop] {sizes.bare_images} images: generate, encode {sizes.image_format}, store"
        )
        prefix = f"bench/{run_id}/bare/"
        bare = bare_loop(
            generator,
            ctx.store,
            prefix,
            sizes.bare_images,
            ctx.settings.batch_size,
            label,
            sizes.image_format,
            precision,
        )
        stored = len(count_objects(ctx.store, prefix))
        ok = stored == bare["stored"] == sizes.bare_images
        ctx.checks.append(
            {
                "phase": "bare_loop",
                "images_requested": sizes.bare_images,
                "objects_stored": stored,
                "ok": ok,
            }
        )
        report["bare_loop"], report["bare_loop_ips"] = bare, bare["ips"]
        progress(f"[bare_loop] {bare['ips']} img/s ({bare['wall_s']} s)")
    pass_batch = pass_batch_size(ctx.settings.upscale_batch_size, device)  # as the worker's
    if "upscale" in phases and upscaler is not None:
        progress(f"[upscale] {model.upscaler.name} x4 on {device}, {pass_batch} image(s) per pass")
        up = upscaler_speed(
            *upscaler, generator, model, device, sizes.upscale_images, pass_batch, sizes.min_seconds
        )
        report["upscaler"] = up
        report["upscale_gmac_per_128px"] = up["gmac_per_128px_sample"]
        report["upscaled_tiles_ips"] = up["upscaled_tiles_ips"]
        progress(
            f"[upscale] {up['gmac_per_128px_sample']} GMAC per 128 px sample; "
            f"{up['upscaled_tiles_ips']} upscaled tiles/s ({up['tile_passes']} x4 passes)"
        )
    if "catalogue_bare" in phases:
        net = upscaler[0] if upscaler else None
        _catalogue_bare(report, ctx, sizes, generator, model, precision, run_id, progress)
        if net is not None:
            _catalogue_bare(
                report, ctx, sizes, generator, model, precision, run_id, progress, net, pass_batch
            )
    if device == "cuda":
        report["gpu_memory"]["bench_process"] = cuda_memory_mb()
    del generator


def _catalogue_bare(
    report: dict,
    ctx: Ctx,
    sizes: Sizes,
    generator,
    model,
    precision: str,
    run_id: str,
    progress,
    upscaler=None,
    pass_batch: int = 1,
) -> None:
    """The plain catalogue loop with upscale off, or (given the upscaler) auto."""
    upscaled = upscaler is not None
    mode, name = ("auto", "catalogue_bare_upscaled") if upscaled else ("off", "catalogue_bare")
    progress(
        f"[catalogue_bare] {sizes.catalogue_tiles} catalogue tiles: "
        f"best of 4 candidates, upscale {mode}, 800 px JPEG, store"
    )
    prefix = f"bench/{run_id}/{name}/"
    cat = catalogue_bare_loop(
        generator,
        ctx.store,
        prefix,
        model,
        ctx.category,
        sizes.catalogue_tiles,
        ctx.settings.batch_size,
        precision,
        mode,
        upscaler,
        pass_batch,
    )
    stored = len(count_objects(ctx.store, prefix))
    ctx.checks.append(
        {
            "phase": name,
            "images_requested": sizes.catalogue_tiles,
            "objects_stored": stored,
            "ok": stored == cat["stored"] == sizes.catalogue_tiles,
        }
    )
    report[name], report[f"{name}_ips"] = cat, cat["ips"]
    progress(f"[catalogue_bare] upscale {mode}: {cat['ips']} tiles/s ({cat['wall_s']} s)")


def _start_fleet(procs: Procs, ctx: Ctx, sizes: Sizes, workers: int, progress) -> None:
    """Start the workers and run one image per process slot through them (startup is not
    measured)."""
    for i in range(workers):
        procs.worker(f"worker{i}", ctx.settings.worker_concurrency)
    slots = workers * ctx.settings.worker_concurrency
    progress(
        f"[workers] {workers} x "
        f"`assetgen worker --concurrency {ctx.settings.worker_concurrency}`; warm-up"
    )
    warm = submit_jobs(ctx, [{"category": ctx.category, "count": slots, "images_per_item": 1}])
    wait_jobs(ctx, warm.job_ids, sizes.start_timeout_s, "worker warm-up")


def _through_workers(
    report: dict,
    ctx: Ctx,
    sizes: Sizes,
    phases,
    device: str,
    workers: int,
    log_dir: Path,
    run_id: str,
    progress,
) -> None:
    fleet_phases = [
        p
        for p in ("pipeline", "catalogue_pipeline", "small_jobs", "urgent", "scaling")
        if p in phases
    ]
    if not fleet_phases and "naive" not in phases:
        return
    env = {**os.environ, "ASSETGEN_QUEUE": ctx.settings.queue, "ASSETGEN_DEVICE": device}
    procs = Procs(log_dir, env)
    gpu_peak = MemoryWatch(procs)
    last_gpu = [0.0]

    def poll() -> None:
        procs.check_alive()
        if device == "cuda" and time.monotonic() - last_gpu[0] > 1:
            gpu_peak.sample(gpu=True)
            last_gpu[0] = time.monotonic()

    ctx.poll = poll
    ctx.publish = create_publisher(create_celery(ctx.settings), ctx.settings)
    try:
        if fleet_phases:
            _start_fleet(procs, ctx, sizes, workers, progress)
            _fleet_phases(
                report,
                ctx,
                sizes,
                fleet_phases,
                MemoryWatch(procs),
                device == "cuda",
                run_id,
                progress,
            )
            procs.stop_all()
        if device == "cuda":
            report["gpu_memory"]["workers_peak_mb"] = gpu_peak.peak_gpu_mb
        if "naive" in phases:
            _naive(report, ctx, sizes, procs, progress)
    except ProcessDied as exc:
        raise BenchError(f"{exc} (worker logs: {log_dir})") from None
    except TimeoutError as exc:
        raise BenchError(f"{exc}; worker logs in {log_dir}\n{procs.log_tails()}") from None
    finally:
        procs.stop_all()


def _fleet_phases(
    report: dict,
    ctx: Ctx,
    sizes: Sizes,
    phases,
    memory: MemoryWatch,
    gpu: bool,
    run_id: str,
    progress,
) -> None:
    if "pipeline" in phases:
        progress(f"[pipeline] one job of {sizes.pipeline_images} images")
        report["pipeline"] = _public(ph.pipeline(ctx, sizes))
        report["pipeline_ips"] = report["pipeline"]["ips"]
        progress(f"[pipeline] {report['pipeline_ips']} img/s ({report['pipeline']['wall_s']} s)")
    if "catalogue_pipeline" in phases:
        for mode, name in (("off", "catalogue_pipeline"), ("auto", "catalogue_pipeline_upscaled")):
            progress(
                f"[catalogue_pipeline] one catalogue-fill job of {sizes.catalogue_tiles} SKUs, "
                f"upscale {mode}"
            )
            report[name] = ph.catalogue_pipeline(ctx, sizes, run_id, mode, name)
            report[f"{name}_ips"] = report[name]["ips"]
            progress(
                f"[catalogue_pipeline] upscale {mode}: {report[f'{name}_ips']} tiles/s "
                f"({report[name]['wall_s']} s)"
            )
    if "small_jobs" in phases:
        progress(f"[small_jobs] {sizes.small_jobs} jobs of {sizes.small_job_images} images")
        report["small_jobs"] = _public(ph.small_jobs(ctx, sizes))
        report["small_jobs_ips"] = report["small_jobs"]["ips"]
        report["submit_rps"] = report["small_jobs"]["submit_rps"]
        progress(
            f"[small_jobs] {report['small_jobs_ips']} img/s; submit {report['submit_rps']} jobs/s"
        )
    if "urgent" in phases:
        progress(
            f"[urgent] {sizes.urgent_images}-image urgent job idle, then during a "
            f"{sizes.bulk_images}-image bulk job"
        )
        report["urgent"] = ph.urgent(ctx, sizes)
        report["urgent_latency_s"] = {k: report["urgent"][k] for k in ("idle_s", "during_bulk_s")}
        progress(
            f"[urgent] idle {report['urgent']['idle_s']} s, "
            f"during bulk {report['urgent']['during_bulk_s']} s"
        )
    if "scaling" in phases:
        progress(f"[scaling] jobs of {list(sizes.scaling)} images")
        report["scaling"] = {"points": ph.scaling(ctx, sizes, memory, gpu)}
        progress(
            "[scaling] "
            + ", ".join(f"{p['images']}: {p['wall_s']} s" for p in report["scaling"]["points"])
        )


def _naive(report: dict, ctx: Ctx, sizes: Sizes, procs: Procs, progress) -> None:
    app = create_naive_celery(ctx.settings)
    procs.naive_worker("naive", ctx.settings.worker_concurrency)
    progress("[naive] starting the baseline's worker; warm-up")
    job_id, items = create_naive_job(ctx.sf, ctx.settings, ctx.category, 1)
    publish_naive(app, ctx.settings, items)
    wait_jobs(ctx, [job_id], sizes.start_timeout_s, "naive warm-up")
    progress(f"[naive] {sizes.naive_images} images, one task each")
    report["naive"] = ph.naive(ctx, sizes, app)
    report["naive_ips"] = report["naive"]["ips"]
    progress(f"[naive] {report['naive_ips']} img/s")
    procs.stop("naive")


def _public(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "job_ids"}


def _ratio(a, b, digits: int = 3):
    return round(a / b, digits) if a is not None and b else None


def _summarise(report: dict, ctx: Ctx, sizes: Sizes, out_dir: Path) -> None:
    report["pipeline_ratio"] = _ratio(report.get("pipeline_ips"), report.get("bare_loop_ips"))
    report["small_jobs_ratio"] = _ratio(report.get("small_jobs_ips"), report.get("pipeline_ips"))
    report["catalogue_pipeline_ratio"] = _ratio(
        report.get("catalogue_pipeline_ips"), report.get("catalogue_bare_ips")
    )
    # the catalogue workload with upscale: auto over the same without (the target: >= 0.5)
    report["catalogue_bare_upscale_ratio"] = _ratio(
        report.get("catalogue_bare_upscaled_ips"), report.get("catalogue_bare_ips")
    )
    report["catalogue_pipeline_upscale_ratio"] = _ratio(
        report.get("catalogue_pipeline_upscaled_ips"), report.get("catalogue_pipeline_ips")
    )
    report["speedup_vs_naive"] = _ratio(report.get("pipeline_ips"), report.get("naive_ips"), 1)
    report.setdefault("catalogue_submit_s", None)
    points = report.get("scaling", {}).get("points", [])
    if len(points) >= 2:
        fit = line_fit([p["images"] for p in points], [p["wall_s"] for p in points])
        report["scaling"]["fit"] = fit
        title = (
            f"assetgen pipeline scaling ({report['host']['device']}, "
            f"{report['system']['database']}, {report['system']['broker']})"
        )
        report["scaling"]["plot"] = str(plot_scaling(points, fit, out_dir / "scaling.png", title))
        big = points[-2:]
        report["worker_peak_rss_mb"] = {
            str(p["images"]): p["worker_memory"]["tree_peak_sum_mb"] for p in big
        }
        a, b = (p["worker_memory"]["tree_peak_sum_mb"] for p in big)
        report["worker_rss_growth_pct"] = round((b - a) / a * 100, 1) if a else None
    report["checks"] = {"all_ok": all(c["ok"] for c in ctx.checks), "phases": ctx.checks}
