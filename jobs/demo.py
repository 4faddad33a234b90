"""`assetgen demo`: the whole flow on embedded defaults, with a real Celery worker process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from jobs.contact_sheet import write_contact_sheet

DEMO_CATEGORIES_PER_JOB = 8


def embedded_env(home: Path) -> dict[str, str]:
    """The environment of the demo's processes: every ASSETGEN_* server setting unset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGEN_")}
    env["ASSETGEN_HOME"] = str(home)
    return env


def start_worker(home: Path, log_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jobs.cli", "worker", "--loglevel", "WARNING"]
    return subprocess.Popen(cmd, env=embedded_env(home), stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task in hand
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("assetgen-demo"),
              show_default=True, help="Folder for the database, broker, bucket and index.html.")
@click.option("--count", type=click.IntRange(1, 1000), default=DEMO_CATEGORIES_PER_JOB, show_default=True,
              help="Images per category.")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the jobs.")
def demo(out: Path, count: int, timeout: float):
    """Run the whole flow on embedded defaults (no servers needed).

    Submits one generation job per model category into SQLite, starts a real
    Celery worker process (serverless SQLite broker), waits for the jobs, and
    writes the images, their manifests and a browsable index.html.
    """
    from jobs.cli import AppContext, exit_code, wait_for
    from jobs.db import upgrade
    from jobs.model_registry import resolve_model
    from jobs import service
    from jobs.settings import load_settings

    home = out.resolve()
    settings = load_settings(home=home, database_url=None, broker_url=None, storage_url=None,
                             s3_endpoint_url=None)
    upgrade(settings)
    app = AppContext()
    app._settings = settings
    sf = app.session_factory()
    model = resolve_model(settings, "default")
    click.echo(f"model: default@{model.version} ({len(model.class_names)} classes, {model.image_size} px)")
    started = time.monotonic()
    job_ids = [service.submit(sf, settings, {"category": c, "count": count, "images_per_item": 4, "seed": i}).id
               for i, c in enumerate(model.class_names)]
    app.relay()
    click.echo(f"submitted {len(job_ids)} jobs ({len(job_ids) * count} images); starting a worker")
    log_path = home / "worker.log"
    proc = start_worker(home, log_path)
    try:
        states = wait_for(app, job_ids, timeout=timeout)
    finally:
        stop_worker(proc)
    elapsed = time.monotonic() - started
    bucket = Path(settings.bucket_url())
    index = write_contact_sheet(bucket, job_ids, home)
    click.echo(f"\n{states.count('succeeded')}/{len(job_ids)} jobs succeeded, "
               f"{len(job_ids) * count} images in {elapsed:.1f}s")
    click.echo(f"contact sheet: {index}\nbucket:        {bucket}\ndatabase:      {settings.db_url()}\n"
               f"worker log:    {log_path}")
    if exit_code(states):
        raise SystemExit(exit_code(states))
