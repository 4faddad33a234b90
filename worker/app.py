"""The worker process's Celery app: the broker's app plus its one thin task.

Tasks take ids, load state from SQL and call the pipeline. Messages are JSON only; tasks are
acknowledged late and rejected (redelivered) when the worker process dies; each process
prefetches one message.
"""

from __future__ import annotations

import os

import torch
from celery import Celery
from celery.signals import task_postrun
from sqlalchemy.exc import InterfaceError, OperationalError

from jobs.broker.celery import RUN_ITEM_TASK, create_celery
from jobs.db.engine import DatabaseAway
from jobs.pipeline.runner import create_pipeline
from jobs.settings import Settings


def create_worker_app(settings: Settings) -> Celery:
    app = create_celery(settings)
    state: dict = {}

    def pipeline():
        # Built lazily in each worker process (after fork): own DB pool, own store, own models.
        if state.get("pid") != os.getpid():
            state.update(pid=os.getpid(), pipeline=create_pipeline(settings))
        return state["pipeline"]

    # A database that is briefly away (e.g. a PostgreSQL restart): retry the task with backoff.
    @app.task(
        name=RUN_ITEM_TASK,
        autoretry_for=(OperationalError, InterfaceError, DatabaseAway),
        retry_backoff=1,
        retry_backoff_max=30,
        max_retries=8,
    )
    def run_item(item_id: int) -> str:
        return pipeline().run_item(int(item_id))

    @task_postrun.connect(weak=False)
    def recycle_on_gpu_growth(**_):
        # Host memory is capped by worker_max_memory_per_child; GPU memory is checked here.
        # Exiting after the task is safe: the work is recorded, and the redelivered message
        # (reject on worker lost) finds its item finished and does nothing.
        if gpu_memory_exceeded(settings.worker_max_gpu_memory_mb):
            os._exit(0)

    return app


def gpu_memory_exceeded(limit_mb: int) -> bool:
    """True when this process holds more CUDA memory than limit_mb (never on a CPU worker)."""
    return torch.cuda.is_initialized() and torch.cuda.memory_reserved() > limit_mb * 2**20
