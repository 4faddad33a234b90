"""Priority: urgent work is taken first (separate queues consumed in strict order, and urgent
items first when a worker coalesces), and bulk work ages into normal so it is never starved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from jobs import recovery, service
from jobs.broker.celery import create_celery, create_publisher
from jobs.db.tables import Asset, Job, OutboxMessage, utcnow
from jobs.outbox import relay
from tests.support import wait_until

pytestmark = pytest.mark.integration


def first_asset_at(sf, job_id):
    with sf() as s:
        return s.scalar(select(func.min(Asset.created_at)).where(Asset.job_id == job_id))


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_urgent_queue_is_consumed_before_bulk(
    broker, prod_env, embedded_env, app_for, start_worker
):
    env = {**(prod_env if broker == "redis" else embedded_env), "ASSETGEN_COALESCE_ITEMS": "0"}
    settings, sf, store = app_for(env)
    bulk = service.submit(
        sf, settings, {"category": "bag", "count": 40, "images_per_item": 4, "priority": "bulk"}
    )
    urgent = service.submit(sf, settings, {"category": "dress", "count": 4, "priority": "urgent"})
    relay(
        sf, create_publisher(create_celery(settings), settings)
    )  # all 11 messages wait in their queues
    start_worker(env)
    wait_until(
        lambda: all(service.get_job(sf, j.id).status == "succeeded" for j in (bulk, urgent)),
        180,
        what="both jobs",
    )
    assert first_asset_at(sf, urgent.id) < first_asset_at(sf, bulk.id)


def test_urgent_job_overtakes_a_running_backfill(prod_env, app_for, start_worker):
    settings, sf, store = app_for(prod_env)
    bulk = service.submit(
        sf, settings, {"category": "bag", "count": 3000, "images_per_item": 50, "priority": "bulk"}
    )
    relay(sf, create_publisher(create_celery(settings), settings))
    start_worker(prod_env)
    wait_until(
        lambda: service.get_job(sf, bulk.id).done_items >= 2,
        120,
        what="the backfill to be under way",
    )
    urgent = service.submit(sf, settings, {"category": "dress", "count": 4, "priority": "urgent"})
    relay(sf, create_publisher(create_celery(settings), settings))
    wait_until(
        lambda: service.get_job(sf, urgent.id).status == "succeeded", 120, what="the urgent job"
    )
    backfill = service.get_job(sf, bulk.id)
    assert backfill.done_items < backfill.total_items / 2  # it did not wait for the backfill
    service.cancel_job(sf, bulk.id)


def test_bulk_work_ages_into_normal(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    bulk = service.submit(sf, settings, {"category": "bag", "count": 4, "priority": "bulk"})
    with sf.begin() as s:
        s.execute(update(OutboxMessage).values(sent_at=utcnow()))
        s.execute(
            update(Job).where(Job.id == bulk.id).values(created_at=utcnow() - timedelta(hours=1))
        )
    assert recovery.republish_stale(sf, older_than_s=-1, bulk_ageing_seconds=3600 * 2) == 1
    assert recovery.republish_stale(sf, older_than_s=-1, bulk_ageing_seconds=60) == 1
    with sf() as s:
        priorities = list(
            s.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
            )
        )
    assert [p["priority"] for p in priorities] == ["bulk", "normal"]
