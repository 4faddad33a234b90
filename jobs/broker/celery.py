"""The Celery app as the publishers and the worker share it: JSON only, late acks, strict queues.

Publishers (the outbox relay in the API, the CLI and the sweeper) use ``create_celery`` to send
``RUN_ITEM_TASK`` messages by name; the worker process (``worker.app``) adds the task itself.
"""

from __future__ import annotations

from celery import Celery

from jobs.broker.sqla_transport import register as register_sqla_transport
from jobs.settings import PRIORITIES, Settings

RUN_ITEM_TASK = "assetgen.run_item"


def queue_for(settings: Settings, priority: str) -> str:
    return f"{settings.queue}.{priority}"


def worker_queues(settings: Settings) -> list[str]:
    return [queue_for(settings, p) for p in PRIORITIES]


def broker_options(settings: Settings) -> dict:
    if "sqla+" in settings.celery_broker_url():
        # kombu passes these to create_engine; strict queue order comes from our transport
        return {}
    # visibility_timeout: longer than any task may run, so Redis does not redeliver work in
    # progress.
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
        worker_max_memory_per_child=settings.worker_max_memory_mb
        * 1024,  # KiB: recycle a process that grew
    )
    return app


def create_publisher(app: Celery, settings: Settings):
    """The outbox relay's publish function: one Celery message per work item."""
    retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

    def publish(topic: str, payload: dict) -> None:
        if topic != "run_item":
            raise ValueError(f"unknown outbox topic {topic!r}")
        app.send_task(
            RUN_ITEM_TASK,
            args=[payload["item_id"]],
            queue=queue_for(settings, payload["priority"]),
            retry=True,
            retry_policy=retry_policy,
        )

    return publish
