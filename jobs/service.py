"""Job-level operations of the job domain: submit, get, list, cancel, and a job's assets.

Each takes a session factory and runs its own short transaction. What happens to a job's
work items once submitted (claim, record, complete, fail, requeue, retry) is jobs.lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import CursorResult, func, literal, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Asset, ItemState, Job, JobStatus, OutboxMessage, WorkItem, utcnow
from jobs.kinds.planning import plan_job
from jobs.kinds.registry import get_kind, parse_spec
from jobs.model_registry import resolve_model
from jobs.settings import Settings

RUN_ITEM = "run_item"
WEBHOOK = "webhook"  # outbox topic consumed by jobs.webhooks (not by the broker relay)
ACTIVE_JOB = (JobStatus.queued.value, JobStatus.running.value)


class JobNotFound(LookupError):
    pass


# ---------------------------------------------------------------- submit / read


def submit(
    sf: sessionmaker[Session],
    settings: Settings,
    raw_spec: dict | str | bytes,
    *,
    client_id: str | None = None,
    in_transaction: Callable[[Session, Job], None] | None = None,
) -> Job:
    """Validate a spec and record the job, its items and their outbox messages in one transaction.

    ``client_id`` scopes the job to an API client; ``in_transaction(session, job)`` runs inside the
    job's transaction after its rows are flushed (the API records the Idempotency-Key there).
    """
    spec = parse_spec(raw_spec)
    model = resolve_model(settings, spec.model)
    kind = get_kind(spec.kind)
    plan = plan_job(kind, spec, model, settings)
    callback = str(spec.callback_url) if spec.callback_url else None
    # the upscaler is pinned at submit, like the model, where any item upscales
    upscaler = model.upscaler if any(p.get("upscale") for p in plan.items) else None
    # fields a kind stores in its own tables (a catalogue's rows) are not echoed in the job's spec
    job = Job(
        kind=spec.kind,
        priority=spec.priority,
        spec=spec.model_dump(mode="json", exclude={"callback_url", *kind.unstored_fields}),
        client_id=client_id,
        callback_url=callback,
        model_name=model.name,
        model_version=model.version,
        model_sha256=model.sha256,
        model_uri=model.uri,
        upscaler_name=upscaler.name if upscaler else None,
        upscaler_version=upscaler.version if upscaler else None,
        upscaler_sha256=upscaler.sha256 if upscaler else None,
        upscaler_uri=upscaler.uri if upscaler else None,
        total_items=len(plan.items),
        total_images=plan.total_images,
    )
    with sf.begin() as s:
        s.add(job)
        job.items = [WorkItem(index=i, params=p) for i, p in enumerate(plan.items)]
        s.flush()
        if plan.extra is not None:
            plan.extra(s, job)
        if in_transaction is not None:
            in_transaction(s, job)
        s.add_all(
            OutboxMessage(topic=RUN_ITEM, payload={"item_id": it.id, "priority": spec.priority})
            for it in job.items
        )
    return job


def get_job(sf: sessionmaker[Session], job_id: str) -> Job:
    with sf() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        return job


def list_jobs(
    sf: sessionmaker[Session],
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    *,
    owner: str | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[Job]:
    """Newest first, keyset-paginated on (created_at, id): ``after`` is the last row of the
    previous page; ``owner`` None means every client's jobs."""
    q = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if owner is not None:
        q = q.where(Job.client_id == owner)
    if status:
        q = q.where(Job.status == status)
    if kind:
        q = q.where(Job.kind == kind)
    if after is not None:
        created, job_id = after
        last = tuple_(literal(created, Job.created_at.type), literal(job_id, Job.id.type))
        q = q.where(tuple_(Job.created_at, Job.id) < last)
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
        q = select(WorkItem).where(
            WorkItem.job_id == job_id, WorkItem.state == ItemState.failed.value
        )
        return list(s.scalars(q.order_by(WorkItem.index)))


def cancel_job(sf: sessionmaker[Session], job_id: str) -> Job:
    """Cancel queued and running work; idempotent. Running workers are fenced out at their next
    write."""
    now = utcnow()
    with sf.begin() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        result = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
            .values(status=JobStatus.cancelled.value, finished_at=now)
        )
        assert isinstance(result, CursorResult)
        done = result.rowcount
        if done:
            s.execute(
                update(WorkItem)
                .where(
                    WorkItem.job_id == job_id,
                    WorkItem.state.in_((ItemState.queued.value, ItemState.running.value)),
                )
                .values(state=ItemState.cancelled.value, lease_until=None)
            )
            announce_webhook(s, job, JobStatus.cancelled)
    return get_job(sf, job_id)


def announce_webhook(s: Session, job: Job, status: JobStatus) -> None:
    """An outbox row for the job's terminal-state webhook (in the caller's transaction), if it
    has a callback."""
    if job.callback_url:
        s.add(OutboxMessage(topic=WEBHOOK, payload={"job_id": job.id, "event": status.value}))
