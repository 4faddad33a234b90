"""What the sweeper looks for in SQL besides expired leases (jobs.lifecycle.requeue_expired).

Redis may lose messages and workers may die; SQL knows what is unfinished: queued work whose
announcement may be lost, and jobs whose last worker died before writing the manifest.
Finished work is never touched.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import ItemState, Job, WorkItem, utcnow
from jobs.lifecycle import active_items, announce
from jobs.service import ACTIVE_JOB


def republish_stale(
    sf: sessionmaker[Session],
    older_than_s: float,
    bulk_ageing_seconds: float | None = None,
    limit: int = 1000,
) -> int:
    """Queued items nobody claimed for a while (their message may be lost, or it waits behind
    more urgent work): announce them again, bulk work past its ageing time as normal."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with sf.begin() as s:
        q = active_items().where(
            WorkItem.state == ItemState.queued.value, WorkItem.updated_at < cutoff
        )
        items = list(
            s.scalars(q.order_by(WorkItem.id).limit(limit).with_for_update(skip_locked=True))
        )
        for item in items:
            item.updated_at = utcnow()
        announce(s, items, bulk_ageing_seconds)
    return len(items)


def unfinalized_jobs(sf: sessionmaker[Session]) -> list[str]:
    """Active jobs whose items are all terminal (a worker died between its last item and the
    manifest)."""
    with sf() as s:
        q = select(Job.id).where(
            Job.status.in_(ACTIVE_JOB), Job.done_items + Job.failed_items == Job.total_items
        )
        return list(s.scalars(q))
