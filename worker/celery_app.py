"""The Celery app factory and its thin tasks.

Tasks take ids, load state from SQL and call the pipeline. Messages are JSON
only; tasks are acknowledged late and rejected (redelivered) when the worker
process dies; each process prefetches one message.
"""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun
from sqlalchemy.exc import InterfaceError, OperationalError

from jobs.db import DatabaseAway
from jobs.settings import Settings
from worker.sqla_transport import register as register_sqla_transport

RUN_ITEM_TASK = "assetgen.run_item"


PRIORITIES = ("urgent", "normal", "bulk")  # consumed in this order, strictly


def queue_for(settings: Settings, priority: str) -> str:
    return f"{settings.queue}.{priority}"


def worker_queues(settings: Settings) -> list[str]:
    return [queue_for(settings, p) for p in PRIORITIES]


def broker_options(settings: Settings) -> dict:
    if "sqla+" in settings.celery_broker_url():
        return {}  # kombu passes these to create_engine; strict queue order comes from our transport
    # visibility_timeout: longer than any task may run, so Redis does not redeliver work in progress.
    # queue_order_strategy=priority: BRPOP lists the queues in a fixed order (urgent, normal, bulk),
    # so a worker takes urgent work first at its next item boundary (Celery's numeric task
    # priorities on Redis are not reliable; separate queues are).
    return {"visibility_timeout": 2 * 3600, "queue_order_strategy": "priority"}


def create_celery(settings: Settings) -> Celery:
    register_sqla_transport()
    app = Celery("assetgen", broker=settings.celery_broker_url(), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_time_limit=3600,
        task_default_queue=queue_for(settings, "normal"),
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        worker_hijack_root_logger=False,
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,  # KiB: recycle a process that grew
    )
    state: dict = {}

    def pipeline():
        # Built lazily in each worker process (after fork): own DB pool, own store, own models.
        if state.get("pid") != os.getpid():
            from worker.runner import create_pipeline

            state.update(pid=os.getpid(), pipeline=create_pipeline(settings))
        return state["pipeline"]

    # A database that is briefly away (e.g. a PostgreSQL restart): retry the task with backoff.
    @app.task(name=RUN_ITEM_TASK, autoretry_for=(OperationalError, InterfaceError, DatabaseAway), retry_backoff=1,
              retry_backoff_max=30, max_retries=8)
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
    import torch

    return torch.cuda.is_initialized() and torch.cuda.memory_reserved() > limit_mb * 2**20


def create_publisher(app: Celery, settings: Settings):
    """The outbox relay's publish function: one Celery message per work item."""
    retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

    def publish(topic: str, payload: dict) -> None:
        if topic != "run_item":
            raise ValueError(f"unknown outbox topic {topic!r}")
        app.send_task(RUN_ITEM_TASK, args=[payload["item_id"]], queue=queue_for(settings, payload["priority"]),
                      retry=True, retry_policy=retry_policy)

    return publish
