"""`assetgen demo`: the whole flow on embedded defaults, with a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from jobs import service
from jobs.cli.contact_sheet import write_contact_sheet
from jobs.cli.context import AppContext, exit_code
from jobs.db.engine import upgrade
from jobs.kinds.catalogue_fill.rows import parse_catalogue
from jobs.layout.formats import FORMATS
from jobs.model_registry import resolve_model
from jobs.settings import load_settings

DEMO_CATEGORIES_PER_JOB = 8


def embedded_env(home: Path) -> dict[str, str]:
    """The environment of the demo's processes: every ASSETGEN_* server setting unset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGEN_")}
    env["ASSETGEN_HOME"] = str(home)
    return env


def start_worker(home: Path, log_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jobs.cli.main", "worker", "--loglevel", "WARNING"]
    return subprocess.Popen(
        cmd, env=embedded_env(home), stdout=log_path.open("ab"), stderr=subprocess.STDOUT
    )


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task in hand
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


DEMO_CATALOGUE = """sku,category,title,image
SHO-1001,Shoes,Runner low,
SHO-1002,Shoes,Court classic,
SHO-1003,Shoes,Trail mid,https://shop.example/img/sho-1003.jpg
DRS-3001,Dresses,Summer wrap,
DRS-3002,Dresses,Evening slip,https://shop.example/img/drs-3002.jpg
TEE-4001,T-Shirts,Basic crew,
TEE-4002,T-Shirts,Striped boxy,
HOD-5001,Hoodies,Zip hoodie,
HAT-6001,Hats,Bucket hat,
JKT-7001,Jackets,Rain shell,
BAG-2001,Bags,City tote,
../../etc/passwd,Shoes,Hostile SKU,
"""
# Catalogue category -> class of the default model; "Bags" has no class: its row is reported.
DEMO_MAPPING = {
    "Shoes": "shoe",
    "Dresses": "dress",
    "T-Shirts": "t-shirt",
    "Hoodies": "hoodie",
    "Hats": "hat",
    "Jackets": "outerwear",
}


def demo_specs(home: Path, class_names: tuple[str, ...], count: int) -> list[dict]:
    """One job of each kind: an ad creative in every format, a catalogue fill, and plain
    generation."""
    (home / "catalogue.csv").write_text(DEMO_CATALOGUE)  # what a catalogue manager would hand over
    ad = {
        "kind": "ad_creative",
        "category": "shoe" if "shoe" in class_names else class_names[0],
        "variants": 2,
        "formats": list(FORMATS),
        "seed": 7,
        "file_format": "jpeg",
        "copy": {
            "headline": "Step into spring",
            "subline": "Light shoes for every day",
            "cta": "Shop now",
            "badge": "-20%",
        },
        "brand": {
            "background": "#F4F1EA",
            "text": "#1A1A1A",
            "accent": "#B63A0F",
            "accent_text": "#FFFFFF",
        },
    }
    catalogue = {
        "kind": "catalogue_fill",
        "rows": parse_catalogue(DEMO_CATALOGUE),
        "mapping": DEMO_MAPPING,
        "size": 400,
        "format": "jpeg",
    }
    plain = [
        {"category": c, "count": count, "images_per_item": 4, "seed": i}
        for i, c in enumerate(class_names)
    ]
    return [ad, catalogue, *plain]


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("assetgen-demo"),
    show_default=True,
    help="Folder for the database, broker, bucket and index.html.",
)
@click.option(
    "--count",
    type=click.IntRange(1, 1000),
    default=DEMO_CATEGORIES_PER_JOB,
    show_default=True,
    help="Images per category of the plain generation jobs.",
)
@click.option(
    "--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the jobs."
)
def demo(out: Path, count: int, timeout: float):
    """Run the whole flow on embedded defaults (no servers needed).

    Submits an ad-creative job (every channel format), a catalogue-fill job (a
    small CSV with SKUs that have images, an unknown category and a hostile SKU)
    and one generation job per model category into SQLite, starts a real Celery
    worker process (serverless SQLite broker), waits for the jobs, and writes the
    results, their manifests and a browsable index.html.
    """
    home = out.resolve()
    settings = load_settings(
        home=home, database_url=None, broker_url=None, storage_url=None, s3_endpoint_url=None
    )
    upgrade(settings)
    app = AppContext(settings)
    sf = app.session_factory()
    model = resolve_model(settings, "default")
    click.echo(
        f"model: default@{model.version} ({len(model.class_names)} classes, {model.image_size} px)"
    )
    started = time.monotonic()
    jobs = [
        service.submit(sf, settings, spec)
        for spec in demo_specs(home, tuple(model.class_names), count)
    ]
    app.relay()
    job_ids = [j.id for j in jobs]
    click.echo(
        f"submitted {len(jobs)} jobs (1 ad creative, 1 catalogue fill, {len(jobs) - 2} generate; "
        f"{sum(j.total_images for j in jobs)} objects); starting a worker"
    )
    log_path = home / "worker.log"
    proc = start_worker(home, log_path)
    try:
        states = app.wait_for(job_ids, timeout=timeout)
    finally:
        stop_worker(proc)
    elapsed = time.monotonic() - started
    bucket = Path(settings.bucket_url())
    index = write_contact_sheet(bucket, job_ids, home)
    click.echo(
        f"\n{states.count('succeeded')}/{len(job_ids)} jobs succeeded, "
        f"{sum(j.total_images for j in jobs)} objects in {elapsed:.1f}s"
    )
    click.echo(
        f"contact sheet: {index}\nbucket:        {bucket}\ndatabase:      {settings.db_url()}\n"
        f"worker log:    {log_path}"
    )
    if exit_code(states):
        raise SystemExit(exit_code(states))
