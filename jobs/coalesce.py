"""Coalescing: a worker that claimed one work item also claims other small queued items of
the same model, so hundreds of 4-image jobs share forward passes. Every item keeps its own
claim (lease, attempt), seeds, keys and manifest: coalescing changes who runs it, not what."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.models import ItemState, Job, JobStatus, WorkItem, utcnow
from jobs.service import ACTIVE_JOB, Claim

PRIORITY_RANK = case((Job.priority == "urgent", 0), (Job.priority == "normal", 1), else_=2)


def claim_more(sf: sessionmaker[Session], first: Claim, worker: str, lease_seconds: int,
               max_images: int, max_items: int = 64) -> list[Claim]:
    """Claim queued items of first's model (most urgent first) while their samples fit in max_images;
    items too large to fit are filtered in SQL, so they never crowd small ones out of the candidates."""
    room = max_images - first.params["samples"]
    if room <= 0 or max_items <= 0:
        return []
    now = utcnow()
    with sf.begin() as s:
        candidates = s.execute(
            select(WorkItem.id, WorkItem.params).join(Job, Job.id == WorkItem.job_id)
            .where(WorkItem.state == ItemState.queued.value, Job.model_sha256 == first.model_sha256,
                   Job.status.in_(ACTIVE_JOB), WorkItem.params["samples"].as_integer() <= room)
            .order_by(PRIORITY_RANK, WorkItem.id).limit(max_items)
            .with_for_update(of=WorkItem, skip_locked=True)).all()
        picked = []
        for row in candidates:
            if row.params["samples"] <= room:
                picked.append(row.id)
                room -= row.params["samples"]
        if not picked:
            return []
        claimed = s.execute(
            update(WorkItem).where(WorkItem.id.in_(picked), WorkItem.state == ItemState.queued.value)
            .values(state=ItemState.running.value, attempt=WorkItem.attempt + 1,
                    lease_until=now + timedelta(seconds=lease_seconds), worker=worker[:200])
            .returning(WorkItem.id, WorkItem.attempt)).all()
        attempts = dict(claimed)
        rows = s.execute(select(WorkItem, Job).join(Job, Job.id == WorkItem.job_id)
                         .where(WorkItem.id.in_(list(attempts)))).all()
        job_ids = {job.id for _, job in rows}
        s.execute(update(Job).where(Job.id.in_(job_ids), Job.status == JobStatus.queued.value)
                  .values(status=JobStatus.running.value, started_at=now))
        return [Claim(item_id=item.id, attempt=attempts[item.id], job_id=job.id, index=item.index,
                      params=item.params, spec=job.spec, model_uri=job.model_uri,
                      model_sha256=job.model_sha256, model_name=job.model_name, model_version=job.model_version)
                for item, job in sorted(rows, key=lambda r: r[0].id)]
