"""Service functions of the job domain: submit, get, list, cancel, claim, record, complete.

Each takes a session factory and runs its own short transaction. Writes a
worker makes after claiming an item are fenced by the item's attempt number: a
worker whose lease was taken over (or whose job was cancelled) changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.model_registry import resolve_model
from jobs.models import Asset, ItemState, Job, JobStatus, OutboxMessage, WorkItem, utcnow
from jobs.settings import Settings
from jobs.planning import plan_job
from jobs.specs import parse_spec

RUN_ITEM = "run_item"
WEBHOOK = "webhook"  # outbox topic consumed by jobs.webhooks (not by the broker relay)
ACTIVE_JOB = (JobStatus.queued.value, JobStatus.running.value)


class JobNotFound(LookupError):
    pass


# ---------------------------------------------------------------- submit / read


def submit(sf: sessionmaker[Session], settings: Settings, raw_spec: dict | str | bytes, *,
           client_id: str | None = None, in_transaction: Callable[[Session, Job], None] | None = None) -> Job:
    """Validate a spec and record the job, its items and their outbox messages in one transaction.

    ``client_id`` scopes the job to an API client; ``in_transaction(session, job)`` runs inside the
    job's transaction after its rows are flushed (the API records the Idempotency-Key there).
    """
    spec = parse_spec(raw_spec)
    model = resolve_model(settings, spec.model)
    plan = plan_job(spec, model, settings)
    callback = str(spec.callback_url) if spec.callback_url else None
    # a catalogue's rows are stored per row (catalogue_rows), not echoed in the job's spec
    job = Job(kind=spec.kind, priority=spec.priority,
              spec=spec.model_dump(mode="json", exclude={"callback_url", "rows"}),
              client_id=client_id, callback_url=callback,
              model_name=model.name, model_version=model.version, model_sha256=model.sha256,
              model_uri=model.uri, total_items=len(plan.items), total_images=plan.total_images)
    with sf.begin() as s:
        s.add(job)
        job.items = [WorkItem(index=i, params=p) for i, p in enumerate(plan.items)]
        s.flush()
        if plan.extra is not None:
            plan.extra(s, job)
        if in_transaction is not None:
            in_transaction(s, job)
        s.add_all(OutboxMessage(topic=RUN_ITEM, payload={"item_id": it.id, "priority": spec.priority})
                  for it in job.items)
    return job


def get_job(sf: sessionmaker[Session], job_id: str) -> Job:
    with sf() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        return job


def list_jobs(sf: sessionmaker[Session], status: str | None = None, kind: str | None = None,
              limit: int = 50) -> list[Job]:
    q = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if status:
        q = q.where(Job.status == status)
    if kind:
        q = q.where(Job.kind == kind)
    with sf() as s:
        return list(s.scalars(q))


def list_jobs_page(sf: sessionmaker[Session], *, owner: str | None, status: str | None = None,
                   kind: str | None = None, after: tuple[datetime, str] | None = None, limit: int = 50) -> list[Job]:
    """Newest first, keyset-paginated on (created_at, id); ``owner`` None means every client's jobs."""
    q = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if owner is not None:
        q = q.where(Job.client_id == owner)
    if status:
        q = q.where(Job.status == status)
    if kind:
        q = q.where(Job.kind == kind)
    if after is not None:
        q = q.where(tuple_(Job.created_at, Job.id) < tuple_(*after))
    with sf() as s:
        return list(s.scalars(q))


def job_assets(sf: sessionmaker[Session], job_id: str) -> list[Asset]:
    with sf() as s:
        return list(s.scalars(select(Asset).where(Asset.job_id == job_id).order_by(Asset.key)))


def done_images(sf: sessionmaker[Session], job_id: str) -> int:
    with sf() as s:
        return s.scalar(select(func.count()).select_from(Asset).where(Asset.job_id == job_id)) or 0


def failed_items(sf: sessionmaker[Session], job_id: str) -> list[WorkItem]:
    with sf() as s:
        q = select(WorkItem).where(WorkItem.job_id == job_id, WorkItem.state == ItemState.failed.value)
        return list(s.scalars(q.order_by(WorkItem.index)))


def cancel_job(sf: sessionmaker[Session], job_id: str) -> Job:
    """Cancel queued and running work; idempotent. Running workers are fenced out at their next write."""
    now = utcnow()
    with sf.begin() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        done = s.execute(update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
                         .values(status=JobStatus.cancelled.value, finished_at=now)).rowcount
        if done:
            s.execute(update(WorkItem)
                      .where(WorkItem.job_id == job_id,
                             WorkItem.state.in_((ItemState.queued.value, ItemState.running.value)))
                      .values(state=ItemState.cancelled.value, lease_until=None))
            _announce_webhook(s, job, JobStatus.cancelled)
    return get_job(sf, job_id)


def _announce_webhook(s: Session, job: Job, status: JobStatus) -> None:
    """An outbox row for the job's terminal-state webhook (in the caller's transaction), if it has a callback."""
    if job.callback_url:
        s.add(OutboxMessage(topic=WEBHOOK, payload={"job_id": job.id, "event": status.value}))


# ---------------------------------------------------------------- worker side


@dataclass(frozen=True)
class Claim:
    """A worker's lease on one work item; ``attempt`` is the fencing token."""

    item_id: int
    attempt: int
    job_id: str
    index: int
    params: dict
    spec: dict
    model_uri: str
    model_sha256: str
    model_name: str
    model_version: str


def _fenced(claim: Claim):
    return (WorkItem.id == claim.item_id, WorkItem.attempt == claim.attempt,
            WorkItem.state == ItemState.running.value)


def claim_item(sf: sessionmaker[Session], item_id: int, worker: str, lease_seconds: int) -> Claim | None:
    """Lease a queued item (or one whose lease expired); None if it is not ours to run."""
    now = utcnow()
    claimable = (WorkItem.state == ItemState.queued.value) | (
        (WorkItem.state == ItemState.running.value) & (WorkItem.lease_until < now))
    with sf.begin() as s:
        attempt = s.execute(
            update(WorkItem).where(WorkItem.id == item_id, claimable)
            .values(state=ItemState.running.value, attempt=WorkItem.attempt + 1,
                    lease_until=now + timedelta(seconds=lease_seconds), worker=worker[:200])
            .returning(WorkItem.attempt)).scalar()
        if attempt is None:
            return None
        item = s.get(WorkItem, item_id)
        job = s.get(Job, item.job_id)
        s.execute(update(Job).where(Job.id == job.id, Job.status == JobStatus.queued.value)
                  .values(status=JobStatus.running.value, started_at=now))
        return Claim(item_id=item_id, attempt=attempt, job_id=job.id, index=item.index, params=item.params,
                     spec=job.spec, model_uri=job.model_uri, model_sha256=job.model_sha256,
                     model_name=job.model_name, model_version=job.model_version)


def stored_keys(sf: sessionmaker[Session], claims: list[Claim]) -> set[str]:
    """Keys earlier attempts of these items already recorded (a retry skips them), in one query."""
    with sf() as s:
        return set(s.scalars(select(Asset.key).where(Asset.item_id.in_([c.item_id for c in claims]))))


def _record(s: Session, claim: Claim, assets: list[dict], lease_seconds: int) -> bool:
    ok = s.execute(update(WorkItem).where(*_fenced(claim))
                   .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))).rowcount
    if not ok:
        return False
    known = set(s.scalars(select(Asset.key).where(Asset.key.in_([a["key"] for a in assets]))))
    s.add_all(Asset(job_id=claim.job_id, item_id=claim.item_id, **a) for a in assets if a["key"] not in known)
    _on_recorded(s, claim, [a for a in assets if a["key"] not in known])
    s.flush()
    count = select(func.count()).select_from(Asset).where(Asset.item_id == claim.item_id).scalar_subquery()
    s.execute(update(WorkItem).where(WorkItem.id == claim.item_id).values(done_images=count))
    return True


def _on_recorded(s: Session, claim: Claim, fresh: list[dict]) -> None:
    """Kind-specific state kept with newly recorded assets, in the same fenced transaction."""
    if fresh and claim.spec.get("kind") == "catalogue_fill":
        from jobs.catalogue_state import mark_synthetic

        mark_synthetic(s, claim.job_id, claim.model_version, fresh)


def record_batch(sf: sessionmaker[Session], batch: list[tuple[Claim, list[dict]]], lease_seconds: int) -> list[int]:
    """Record stored objects of several items (extending their leases) in one transaction; returns the ids
    of items fenced out, whose rows are not written."""
    fenced = []
    with sf.begin() as s:
        for claim, assets in batch:
            if not _record(s, claim, assets, lease_seconds):
                fenced.append(claim.item_id)
    return fenced


def complete_items(sf: sessionmaker[Session], claims: list[Claim]) -> tuple[list[int], list[str]]:
    """Mark claimed items succeeded in one transaction: (ids of items fenced out, ids of jobs now complete)."""
    fenced, done_per_job = [], {}
    with sf.begin() as s:
        for claim in claims:
            closed = s.execute(update(WorkItem).where(*_fenced(claim))
                               .values(lease_until=None, state=ItemState.succeeded.value)).rowcount
            if closed:
                done_per_job[claim.job_id] = done_per_job.get(claim.job_id, 0) + 1
            else:
                fenced.append(claim.item_id)
        complete = []
        for job_id, n in sorted(done_per_job.items()):  # a fixed order: no lock-order deadlocks between workers
            row = s.execute(update(Job).where(Job.id == job_id).values(done_items=Job.done_items + n)
                            .returning(Job.done_items, Job.failed_items, Job.total_items)).one()
            if row.done_items + row.failed_items == row.total_items:
                complete.append(job_id)
    return fenced, complete


def manifest_inputs(sf: sessionmaker[Session], job_ids: list[str]) -> list[tuple[Job, list[Asset], list[WorkItem]]]:
    """Each job with its assets (by key) and failed items (by index), read in three queries."""
    with sf() as s:
        jobs = list(s.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)))
        assets: dict[str, list[Asset]] = {j: [] for j in job_ids}
        for a in s.scalars(select(Asset).where(Asset.job_id.in_(job_ids)).order_by(Asset.key)):
            assets[a.job_id].append(a)
        failed: dict[str, list[WorkItem]] = {j: [] for j in job_ids}
        for it in s.scalars(select(WorkItem).where(WorkItem.job_id.in_(job_ids),
                                                   WorkItem.state == ItemState.failed.value).order_by(WorkItem.index)):
            failed[it.job_id].append(it)
        return [(job, assets[job.id], failed[job.id]) for job in jobs]


def fail_item(sf: sessionmaker[Session], claim: Claim, code: str, message: str) -> bool | None:
    """Mark a claimed item failed with a reason; True if that ended the whole job, None if fenced out."""
    values = {"state": ItemState.failed.value, "error_code": code, "error_message": message[:2000]}
    with sf.begin() as s:
        if not s.execute(update(WorkItem).where(*_fenced(claim)).values(lease_until=None, **values)).rowcount:
            return None
        row = s.execute(update(Job).where(Job.id == claim.job_id).values(failed_items=Job.failed_items + 1)
                        .returning(Job.done_items, Job.failed_items, Job.total_items)).one()
        return row.done_items + row.failed_items == row.total_items


def final_status(done: int, failed: int) -> JobStatus:
    if failed == 0:
        return JobStatus.succeeded
    return JobStatus.failed if done == 0 else JobStatus.partially_failed


def finish_jobs(sf: sessionmaker[Session], manifests: dict[str, str | None]) -> None:
    """Set each job's final state from its items' counts (after its manifest, job id -> key, is written)."""
    with sf.begin() as s:
        for job_id, manifest_key in sorted(manifests.items()):
            job = s.get(Job, job_id)
            status = final_status(job.done_items, job.failed_items)
            values: dict = {"status": status.value, "finished_at": utcnow(), "manifest_key": manifest_key}
            if status is not JobStatus.succeeded:
                values |= {"error_code": "items_failed",
                           "error_message": f"{job.failed_items} of {job.total_items} work items failed: "
                                            f"see `assetgen jobs show {job_id}`"}
            if s.execute(update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE_JOB)).values(**values)).rowcount:
                _announce_webhook(s, job, status)
