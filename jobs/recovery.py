"""Recovery in SQL: what the sweeper and `assetgen jobs retry` do.

Redis may lose messages and workers may die; SQL knows what is unfinished. Every
function here changes state and writes the outbox rows that re-announce the work
in one transaction. Finished work is never touched.
"""
from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.models import ItemState, Job, JobStatus, OutboxMessage, WorkItem, utcnow
from jobs.service import ACTIVE_JOB, RUN_ITEM, JobNotFound, get_job

ATTEMPTS_EXHAUSTED = "attempts_exhausted"


def effective_priority(job: Job, bulk_ageing_seconds: float | None) -> str:
    """Bulk work waiting longer than the ageing time is announced as normal: never starved forever."""
    if job.priority == "bulk" and bulk_ageing_seconds is not None and \
            _aware(job.created_at) < utcnow() - timedelta(seconds=bulk_ageing_seconds):
        return "normal"
    return job.priority


def _aware(ts):
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC datetimes


def _announce(s: Session, items: list[WorkItem], bulk_ageing_seconds: float | None = None) -> None:
    s.add_all(OutboxMessage(topic=RUN_ITEM, payload={"item_id": it.id,
                                                     "priority": effective_priority(it.job, bulk_ageing_seconds)})
              for it in items)


def _active(q):
    return q.join(Job, Job.id == WorkItem.job_id).where(Job.status.in_(ACTIVE_JOB))


def tries(item: WorkItem) -> int:
    """Claims in the current round (a retry starts a new round; the attempt number never goes back)."""
    return item.attempt - item.params.get("retry_base", 0)


def requeue_expired(sf: sessionmaker[Session], max_attempts: int, limit: int = 1000) -> tuple[int, int]:
    """Items whose lease expired: back to queued (and re-announced), or failed once out of attempts."""
    now = utcnow()
    requeued, failed = [], []
    with sf.begin() as s:
        q = _active(select(WorkItem)).where(WorkItem.state == ItemState.running.value, WorkItem.lease_until < now)
        for item in s.scalars(q.order_by(WorkItem.id).limit(limit).with_for_update(skip_locked=True)):
            (failed if tries(item) >= max_attempts else requeued).append(item)
        for item in requeued:
            item.state, item.lease_until = ItemState.queued.value, None
        for item in failed:
            item.state, item.lease_until, item.error_code = ItemState.failed.value, None, ATTEMPTS_EXHAUSTED
            item.error_message = (f"gave up after {tries(item)} attempts (the worker died or stalled each time); "
                                  f"`assetgen jobs retry {item.job_id} --failed-only` runs it again")
            s.execute(update(Job).where(Job.id == item.job_id).values(failed_items=Job.failed_items + 1))
        _announce(s, requeued)
    return len(requeued), len(failed)


def republish_stale(sf: sessionmaker[Session], older_than_s: float, bulk_ageing_seconds: float | None = None,
                    limit: int = 1000) -> int:
    """Queued items nobody claimed for a while (their message may be lost, or it waits behind more
    urgent work): announce them again, bulk work past its ageing time as normal."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with sf.begin() as s:
        q = _active(select(WorkItem)).where(WorkItem.state == ItemState.queued.value, WorkItem.updated_at < cutoff)
        items = list(s.scalars(q.order_by(WorkItem.id).limit(limit).with_for_update(skip_locked=True)))
        for item in items:
            item.updated_at = utcnow()
        _announce(s, items, bulk_ageing_seconds)
    return len(items)


def unfinalized_jobs(sf: sessionmaker[Session]) -> list[str]:
    """Active jobs whose items are all terminal (a worker died between its last item and the manifest)."""
    with sf() as s:
        q = select(Job.id).where(Job.status.in_(ACTIVE_JOB), Job.done_items + Job.failed_items == Job.total_items)
        return list(s.scalars(q))


def retry_failed(sf: sessionmaker[Session], job_id: str) -> Job:
    """Run a finished job's failed items again (its succeeded items and their objects stay)."""
    with sf.begin() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        if job.status not in (JobStatus.failed.value, JobStatus.partially_failed.value):
            raise ValueError(f"job {job_id} is {job.status}: only failed or partially_failed jobs can be retried")
        items = list(s.scalars(select(WorkItem).where(WorkItem.job_id == job_id,
                                                      WorkItem.state == ItemState.failed.value)))
        for item in items:
            item.state, item.error_code, item.error_message = ItemState.queued.value, None, None
            item.params = {**item.params, "retry_base": item.attempt}
        job.status, job.failed_items, job.finished_at = JobStatus.queued.value, 0, None
        job.error_code = job.error_message = None
        _announce(s, items)
    return get_job(sf, job_id)
