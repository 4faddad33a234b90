"""The work-item lifecycle: claim, claim more (coalescing), record, complete, fail, requeue, retry.

    queued --claim--> running --complete--> succeeded
                         |  \\--fail / out of attempts--> failed --retry--> queued
                         \\--lease expired (requeue)--> queued

Cancelling (jobs.service.cancel_job) moves a job's queued and running items to cancelled.

Each function takes a session factory and runs its own short transaction. A claim leases an
item and bumps its attempt number, the fencing token: every later write of the claimant is
conditional on that attempt, so a worker whose lease was taken over (or whose job was
cancelled) changes nothing. Coalescing: a worker that claimed one item also claims other
small queued items of the same model, so hundreds of 4-image jobs share forward passes;
every item keeps its own claim, seeds, keys and manifest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, Executable, Select, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Asset, ItemState, Job, JobStatus, OutboxMessage, WorkItem, utcnow
from jobs.kinds.base import Claim
from jobs.kinds.registry import get_kind
from jobs.service import ACTIVE_JOB, RUN_ITEM, JobNotFound, announce_webhook, get_job

ATTEMPTS_EXHAUSTED = "attempts_exhausted"
# Coalescing takes the most urgent queued items first.
PRIORITY_RANK = case((Job.priority == "urgent", 0), (Job.priority == "normal", 1), else_=2)


def _changed(s: Session, statement: Executable) -> int:
    """Rows an UPDATE changed (0: its conditions, e.g. the fence, matched nothing)."""
    result = s.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


# ---------------------------------------------------------------- claim


def _claimable(now: datetime):
    """Queued, or running under a lease that has expired."""
    return (WorkItem.state == ItemState.queued.value) | (
        (WorkItem.state == ItemState.running.value) & (WorkItem.lease_until < now)
    )


def _claim(s: Session, item_ids: list[int], worker: str, lease_seconds: int) -> list[Claim]:
    """The claim query: lease those of item_ids that are claimable (attempt + 1), mark their jobs
    running, and return their claims in item id order."""
    now = utcnow()
    claimed = s.execute(
        update(WorkItem)
        .where(WorkItem.id.in_(item_ids), _claimable(now))
        .values(
            state=ItemState.running.value,
            attempt=WorkItem.attempt + 1,
            lease_until=now + timedelta(seconds=lease_seconds),
            worker=worker[:200],
        )
        .returning(WorkItem.id, WorkItem.attempt)
    ).all()
    if not claimed:
        return []
    attempts: dict[int, int] = {row.id: row.attempt for row in claimed}
    rows = s.execute(
        select(WorkItem, Job)
        .join(Job, Job.id == WorkItem.job_id)
        .where(WorkItem.id.in_(list(attempts)))
        .order_by(WorkItem.id)
    ).all()
    s.execute(
        update(Job)
        .where(Job.id.in_({job.id for _, job in rows}), Job.status == JobStatus.queued.value)
        .values(status=JobStatus.running.value, started_at=now)
    )
    return [
        Claim(
            item_id=item.id,
            attempt=attempts[item.id],
            job_id=job.id,
            index=item.index,
            params=item.params,
            spec=job.spec,
            model_uri=job.model_uri,
            model_sha256=job.model_sha256,
            model_name=job.model_name,
            model_version=job.model_version,
            upscaler_uri=job.upscaler_uri,
            upscaler_sha256=job.upscaler_sha256,
            upscaler_name=job.upscaler_name,
            upscaler_version=job.upscaler_version,
        )
        for item, job in rows
    ]


def claim_item(
    sf: sessionmaker[Session], item_id: int, worker: str, lease_seconds: int
) -> Claim | None:
    """Lease a queued item (or one whose lease expired); None if it is not ours to run."""
    with sf.begin() as s:
        claims = _claim(s, [item_id], worker, lease_seconds)
    return claims[0] if claims else None


def claim_more(
    sf: sessionmaker[Session],
    first: Claim,
    worker: str,
    lease_seconds: int,
    max_images: int,
    max_items: int = 64,
) -> list[Claim]:
    """Claim queued items of first's model (most urgent first) while their samples fit in
    max_images; items too large to fit are filtered in SQL, so they never crowd small ones out
    of the candidates."""
    room = max_images - first.params["samples"]
    if room <= 0 or max_items <= 0:
        return []
    with sf.begin() as s:
        candidates = s.execute(
            select(WorkItem.id, WorkItem.params)
            .join(Job, Job.id == WorkItem.job_id)
            .where(
                WorkItem.state == ItemState.queued.value,
                Job.model_sha256 == first.model_sha256,
                Job.status.in_(ACTIVE_JOB),
                WorkItem.params["samples"].as_integer() <= room,
            )
            .order_by(PRIORITY_RANK, WorkItem.id)
            .limit(max_items)
            .with_for_update(of=WorkItem, skip_locked=True)
        ).all()
        picked = []
        for row in candidates:
            if row.params["samples"] <= room:
                picked.append(row.id)
                room -= row.params["samples"]
        return _claim(s, picked, worker, lease_seconds) if picked else []


# ---------------------------------------------------------------- record


def _fenced(claim: Claim):
    """The claimant's writes touch the item only while this claim is still the item's lease."""
    return (
        WorkItem.id == claim.item_id,
        WorkItem.attempt == claim.attempt,
        WorkItem.state == ItemState.running.value,
    )


def stored_keys(sf: sessionmaker[Session], claims: list[Claim]) -> set[str]:
    """Keys earlier attempts of these items already recorded (a retry skips them), in one query."""
    with sf() as s:
        ids = [c.item_id for c in claims]
        return set(s.scalars(select(Asset.key).where(Asset.item_id.in_(ids))))


def _record(s: Session, claim: Claim, assets: list[dict], lease_seconds: int) -> bool:
    lease = utcnow() + timedelta(seconds=lease_seconds)
    if not _changed(s, update(WorkItem).where(*_fenced(claim)).values(lease_until=lease)):
        return False
    keys = [a["key"] for a in assets]
    known = set(s.scalars(select(Asset.key).where(Asset.key.in_(keys))))
    fresh = [a for a in assets if a["key"] not in known]
    s.add_all(Asset(job_id=claim.job_id, item_id=claim.item_id, **a) for a in fresh)
    if fresh:
        _on_recorded(s, claim, fresh)
    s.flush()
    count = (
        select(func.count())
        .select_from(Asset)
        .where(Asset.item_id == claim.item_id)
        .scalar_subquery()
    )
    s.execute(update(WorkItem).where(WorkItem.id == claim.item_id).values(done_images=count))
    return True


def _on_recorded(s: Session, claim: Claim, fresh: list[dict]) -> None:
    """Kind-specific state kept with newly recorded assets, in the same fenced transaction."""
    get_kind(claim.spec["kind"]).on_recorded(s, claim, fresh)


def record_batch(
    sf: sessionmaker[Session], batch: list[tuple[Claim, list[dict]]], lease_seconds: int
) -> list[int]:
    """Record stored objects of several items (extending their leases) in one transaction;
    returns the ids of items fenced out, whose rows are not written."""
    fenced = []
    with sf.begin() as s:
        for claim, assets in batch:
            if not _record(s, claim, assets, lease_seconds):
                fenced.append(claim.item_id)
    return fenced


# ---------------------------------------------------------------- complete / fail


def _count_done(s: Session, job_id: str, **deltas) -> bool:
    """Add to a job's item counters; True when every item of the job is now terminal."""
    values = {name: getattr(Job, name) + n for name, n in deltas.items()}
    row = s.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(**values)
        .returning(Job.done_items, Job.failed_items, Job.total_items)
    ).one()
    return row.done_items + row.failed_items == row.total_items


def complete_items(sf: sessionmaker[Session], claims: list[Claim]) -> tuple[list[int], list[str]]:
    """Mark claimed items succeeded in one transaction: (ids of items fenced out, ids of jobs
    now complete)."""
    fenced: list[int] = []
    done_per_job: dict[str, int] = {}
    with sf.begin() as s:
        for claim in claims:
            closed = _changed(
                s,
                update(WorkItem)
                .where(*_fenced(claim))
                .values(lease_until=None, state=ItemState.succeeded.value),
            )
            if closed:
                done_per_job[claim.job_id] = done_per_job.get(claim.job_id, 0) + 1
            else:
                fenced.append(claim.item_id)
        # a fixed order: no lock-order deadlocks between workers
        complete = [
            job_id
            for job_id, n in sorted(done_per_job.items())
            if _count_done(s, job_id, done_items=n)
        ]
    return fenced, complete


def fail_item(sf: sessionmaker[Session], claim: Claim, code: str, message: str) -> bool | None:
    """Mark a claimed item failed with a reason; True if that ended the whole job, None if
    fenced out."""
    values = {"state": ItemState.failed.value, "error_code": code, "error_message": message[:2000]}
    with sf.begin() as s:
        if not _changed(
            s, update(WorkItem).where(*_fenced(claim)).values(lease_until=None, **values)
        ):
            return None
        return _count_done(s, claim.job_id, failed_items=1)


# ---------------------------------------------------------------- finish (after the manifest)


def manifest_inputs(
    sf: sessionmaker[Session], job_ids: list[str]
) -> list[tuple[Job, list[Asset], list[WorkItem]]]:
    """Each job with its assets (by key) and failed items (by index), read in three queries."""
    with sf() as s:
        jobs = list(s.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)))
        assets: dict[str, list[Asset]] = {j: [] for j in job_ids}
        for a in s.scalars(select(Asset).where(Asset.job_id.in_(job_ids)).order_by(Asset.key)):
            assets[a.job_id].append(a)
        failed: dict[str, list[WorkItem]] = {j: [] for j in job_ids}
        q = select(WorkItem).where(
            WorkItem.job_id.in_(job_ids), WorkItem.state == ItemState.failed.value
        )
        for it in s.scalars(q.order_by(WorkItem.index)):
            failed[it.job_id].append(it)
        return [(job, assets[job.id], failed[job.id]) for job in jobs]


def final_status(done: int, failed: int) -> JobStatus:
    if failed == 0:
        return JobStatus.succeeded
    return JobStatus.failed if done == 0 else JobStatus.partially_failed


def finish_jobs(sf: sessionmaker[Session], manifests: dict[str, str | None]) -> None:
    """Set each job's final state from its items' counts (after its manifest, job id -> key,
    is written), in one transaction."""
    with sf.begin() as s:
        for job_id, manifest_key in sorted(manifests.items()):
            job = s.get(Job, job_id)
            if job is None:  # jobs are never deleted
                continue
            status = final_status(job.done_items, job.failed_items)
            values: dict = {
                "status": status.value,
                "finished_at": utcnow(),
                "manifest_key": manifest_key,
            }
            if status is not JobStatus.succeeded:
                values |= {
                    "error_code": "items_failed",
                    "error_message": f"{job.failed_items} of {job.total_items} work items "
                    f"failed: see `assetgen jobs show {job_id}`",
                }
            active = update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
            if _changed(s, active.values(**values)):
                announce_webhook(s, job, status)


# ---------------------------------------------------------------- requeue / retry


def effective_priority(job: Job, bulk_ageing_seconds: float | None) -> str:
    """Bulk work waiting longer than the ageing time is announced as normal: never starved."""
    if (
        job.priority == "bulk"
        and bulk_ageing_seconds is not None
        and _aware(job.created_at) < utcnow() - timedelta(seconds=bulk_ageing_seconds)
    ):
        return "normal"
    return job.priority


def _aware(ts: datetime) -> datetime:
    # SQLite returns naive UTC datetimes
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def announce(s: Session, items: list[WorkItem], bulk_ageing_seconds: float | None = None) -> None:
    """Outbox rows that (re-)announce items to the broker, in the caller's transaction."""
    s.add_all(
        OutboxMessage(
            topic=RUN_ITEM,
            payload={"item_id": it.id, "priority": effective_priority(it.job, bulk_ageing_seconds)},
        )
        for it in items
    )


def active_items() -> Select:
    """Work items of queued or running jobs."""
    return select(WorkItem).join(Job, Job.id == WorkItem.job_id).where(Job.status.in_(ACTIVE_JOB))


def tries(item: WorkItem) -> int:
    """Claims in the current round (a retry starts a new round; the attempt number never goes
    back)."""
    return item.attempt - item.params.get("retry_base", 0)


def requeue_expired(
    sf: sessionmaker[Session], max_attempts: int, limit: int = 1000
) -> tuple[int, int]:
    """Items whose lease expired: back to queued (and re-announced), or failed once out of
    attempts."""
    now = utcnow()
    requeued: list[WorkItem] = []
    failed: list[WorkItem] = []
    with sf.begin() as s:
        q = active_items().where(
            WorkItem.state == ItemState.running.value, WorkItem.lease_until < now
        )
        for item in s.scalars(
            q.order_by(WorkItem.id).limit(limit).with_for_update(skip_locked=True)
        ):
            (failed if tries(item) >= max_attempts else requeued).append(item)
        for item in requeued:
            item.state, item.lease_until = ItemState.queued.value, None
        for item in failed:
            item.state, item.lease_until = ItemState.failed.value, None
            item.error_code = ATTEMPTS_EXHAUSTED
            item.error_message = (
                f"gave up after {tries(item)} attempts (the worker died or "
                f"stalled each time); `assetgen jobs retry {item.job_id} "
                f"--failed-only` runs it again"
            )
            s.execute(
                update(Job).where(Job.id == item.job_id).values(failed_items=Job.failed_items + 1)
            )
        announce(s, requeued)
    return len(requeued), len(failed)


def retry_failed(sf: sessionmaker[Session], job_id: str) -> Job:
    """Run a finished job's failed items again (its succeeded items and their objects stay)."""
    with sf.begin() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        if job.status not in (JobStatus.failed.value, JobStatus.partially_failed.value):
            raise ValueError(
                f"job {job_id} is {job.status}: only failed or partially_failed jobs can be retried"
            )
        items = list(
            s.scalars(
                select(WorkItem).where(
                    WorkItem.job_id == job_id, WorkItem.state == ItemState.failed.value
                )
            )
        )
        for item in items:
            item.state, item.error_code, item.error_message = ItemState.queued.value, None, None
            item.params = {**item.params, "retry_base": item.attempt}
        job.status, job.failed_items, job.finished_at = JobStatus.queued.value, 0, None
        job.error_code = job.error_message = None
        announce(s, items)
    return get_job(sf, job_id)
