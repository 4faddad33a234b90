"""BENCHMARK BASELINE ONLY: the naive design that `assetgen bench` compares the real pipeline
against.

Never used to serve jobs. It is what the system would be without its design choices:
one Celery task per image, the generator loaded from its checkpoint in every task,
PNG encoded at Pillow's default compression level, and one SQL commit per image.
It writes the same kinds of rows (a job, one work item and one asset per image) and
objects (``jobs/<job_id>/<nnnnn>.png``) so the bench can check every count, but no
manifest. Its tasks go to a queue of their own (``<ASSETGEN_QUEUE>-naive``), consumed
by its own worker process: ``python -m jobs.bench.naive [--concurrency N]``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from datetime import timedelta

import torch
from celery import Celery
from PIL import Image
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from gan.checkpoint import load_generator
from gan.device import resolve_device
from gan.sampling import sample
from jobs.broker.sqla_transport import register as register_sqla_transport
from jobs.db.engine import create_db_engine, create_session_factory
from jobs.db.tables import Asset, ItemState, Job, JobStatus, WorkItem, utcnow
from jobs.encode import to_pil
from jobs.model_registry import resolve_model
from jobs.seeds import image_seed
from jobs.settings import Settings, load_settings
from jobs.storage import create_store

NAIVE_TASK = "assetgen.bench.naive_image"
# Naive items are created "running" under this lease so that a sweeper never re-publishes them.
LEASE = timedelta(hours=2)


def naive_queue(settings: Settings) -> str:
    return f"{settings.queue}-naive"


def naive_key(job_id: str, n: int) -> str:
    return f"jobs/{job_id}/{n:05d}.png"


def create_naive_celery(settings: Settings) -> Celery:
    """The baseline's own Celery app: same broker, JSON, acks_late, prefetch 1; a task per image."""
    register_sqla_transport()
    app = Celery("assetgen-naive-bench", broker=settings.celery_broker_url(), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_default_queue=naive_queue(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    state: dict = {}

    def handles():
        if state.get("pid") != os.getpid():  # per process, after fork
            state.update(
                pid=os.getpid(),
                sf=create_session_factory(create_db_engine(settings)),
                store=create_store(settings),
            )
        return state["sf"], state["store"]

    @app.task(name=NAIVE_TASK)
    def naive_image(item_id: int) -> str:
        sf, store = handles()
        return run_naive_image(settings, sf, store, int(item_id))

    return app


def run_naive_image(settings: Settings, sf: sessionmaker[Session], store, item_id: int) -> str:
    """Load the model, make one image, encode PNG at the default level, store it, commit it."""
    with sf() as s:
        item = s.get(WorkItem, item_id)
        job = s.get(Job, item.job_id)
        params, model_uri = item.params, job.model_uri
    torch.set_num_threads(settings.torch_threads)
    device = resolve_device(settings.device, must_exist=False)  # no CUDA: load_generator says so
    generator, _ = load_generator(
        model_uri, device=device
    )  # the naive part: every task loads the model
    image: Image.Image = to_pil(sample(generator, [params["label"]], [params["seed"]]).numpy()[0])
    buf = io.BytesIO()
    image.save(buf, format="PNG")  # Pillow's default compression level
    key = naive_key(job.id, params["start"])
    put = store.put_new(
        key,
        buf.getvalue(),
        "image/png",
        {"job": job.id, "seed": str(params["seed"]), "synthetic": "true", "baseline": "naive"},
    )
    with sf.begin() as s:  # one commit per image
        s.add(
            Asset(
                job_id=job.id,
                item_id=item_id,
                key=key,
                sha256=put.sha256,
                bytes=put.size,
                width=image.width,
                height=image.height,
                seed=params["seed"],
                category=params["category"],
                content_type="image/png",
            )
        )
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(state=ItemState.succeeded.value, done_images=1, lease_until=None)
        )
        row = s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(done_items=Job.done_items + 1)
            .returning(Job.done_items, Job.total_items)
        ).one()
        if row.done_items == row.total_items:
            s.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(status=JobStatus.succeeded.value, finished_at=utcnow())
            )
    return "succeeded"


def create_naive_job(
    sf: sessionmaker[Session], settings: Settings, category: str, count: int
) -> tuple[str, list[int]]:
    """A job with one work item per image (no outbox: the bench publishes the naive tasks
    itself)."""
    model = resolve_model(settings, "default")
    label = model.class_names.index(category)
    lease = utcnow() + LEASE
    job = Job(
        kind="generate",
        priority="normal",
        status=JobStatus.running.value,
        started_at=utcnow(),
        spec={
            "kind": "generate",
            "category": category,
            "count": count,
            "format": "png",
            "baseline": "naive (benchmark only)",
        },
        model_name=model.name,
        model_version=model.version,
        model_sha256=model.sha256,
        model_uri=model.uri,
        total_items=count,
        total_images=count,
    )
    with sf.begin() as s:
        s.add(job)
        s.flush()
        job.items = [
            WorkItem(
                index=n,
                state=ItemState.running.value,
                lease_until=lease,
                worker="naive-bench",
                params={
                    "label": label,
                    "category": category,
                    "start": n,
                    "count": 1,
                    "samples": 1,
                    "seed": image_seed(job.id, n, n),
                },
            )
            for n in range(count)
        ]
        s.flush()
        return job.id, [it.id for it in job.items]


def publish_naive(app: Celery, settings: Settings, item_ids: list[int]) -> None:
    for item_id in item_ids:
        app.send_task(NAIVE_TASK, args=[item_id], queue=naive_queue(settings))


def main(argv: list[str] | None = None) -> None:
    """Run the baseline's worker process (reads ASSETGEN_* like `assetgen worker`)."""
    parser = argparse.ArgumentParser(
        prog="python -m jobs.bench.naive", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    settings = load_settings()
    app = create_naive_celery(settings)
    app.worker_main(
        [
            "worker",
            f"--loglevel={args.loglevel}",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            f"--queues={naive_queue(settings)}",
            f"--hostname=naive-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
