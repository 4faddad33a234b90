"""Prometheus metrics for /metrics, read from SQL at scrape time (SQL is the source of truth).

Every API process reports the same numbers, so scrape one of them (or dedupe
by job). ``assetgen_job_latency_seconds`` covers every finished job, from
submission to its final state.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import (
    Asset,
    ItemState,
    Job,
    JobStatus,
    OutboxMessage,
    WebhookDelivery,
    WorkItem,
)

LATENCY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


def _latency_seconds(dialect: str):
    if dialect == "sqlite":
        return (func.julianday(Job.finished_at) - func.julianday(Job.created_at)) * 86400.0
    return func.extract("epoch", Job.finished_at - Job.created_at)


class SqlCollector:
    def __init__(self, sf: sessionmaker[Session]):
        self.sf = sf

    def collect(self):
        with self.sf() as s:
            yield self._jobs(s)
            yield self._images(s)
            yield self._queue(s)
            yield self._webhooks(s)
            yield self._latency(s)

    def _jobs(self, s: Session):
        counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        g = GaugeMetricFamily("assetgen_jobs", "Jobs by state.", labels=["state"])
        for state in JobStatus:
            g.add_metric([state.value], counts.get(state.value, 0))
        return g

    def _images(self, s: Session):
        c = CounterMetricFamily("assetgen_images_generated", "Images stored and recorded.")
        c.add_metric([], s.scalar(select(func.count()).select_from(Asset)) or 0)
        return c

    def _queue(self, s: Session):
        g = GaugeMetricFamily(
            "assetgen_queue_depth",
            "Work waiting: queued work items and unsent outbox rows.",
            labels=["queue"],
        )
        items = (
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.state == ItemState.queued.value)
        )
        g.add_metric(["work_items"], s.scalar(items) or 0)
        unsent = (
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        g.add_metric(["outbox"], s.scalar(unsent) or 0)
        return g

    def _webhooks(self, s: Session):
        counts = dict(
            s.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ).all()
        )
        g = GaugeMetricFamily(
            "assetgen_webhook_deliveries", "Webhook deliveries by state.", labels=["state"]
        )
        for state in ("pending", "delivered", "failed"):
            g.add_metric([state], counts.get(state, 0))
        return g

    def _latency(self, s: Session):
        latency = _latency_seconds(s.get_bind().dialect.name)
        cols = [func.sum(case((latency <= b, 1), else_=0)) for b in LATENCY_BUCKETS]
        row = s.execute(
            select(func.count(), func.coalesce(func.sum(latency), literal(0.0)), *cols).where(
                Job.finished_at.is_not(None)
            )
        ).one()
        count, total = row[0] or 0, float(row[1] or 0)
        buckets = [(str(b), int(v or 0)) for b, v in zip(LATENCY_BUCKETS, row[2:])] + [
            ("+Inf", count)
        ]
        h = HistogramMetricFamily(
            "assetgen_job_latency_seconds", "Submission to final state, finished jobs."
        )
        h.add_metric([], buckets, total)
        return h


def create_registry(sf: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SqlCollector(sf))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
