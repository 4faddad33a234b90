"""/v1/jobs: submit, list, read, cancel, and a job's assets.

A client sees only its own jobs (another client's job is a 404). POST honours
``Idempotency-Key`` (jobs.api.idempotency). Nothing here logs a token, a presigned URL or a
callback URL.
"""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import service
from jobs.api import idempotency
from jobs.api.cursors import decode_cursor, encode_cursor, job_cursor
from jobs.api.deps import ApiDeps, Deps, Reader, Submitter
from jobs.api.schemas import AssetOut, AssetPage, JobOut, JobPage, job_out
from jobs.auth import Principal
from jobs.db.tables import Asset, Job, JobStatus
from jobs.kinds.registry import get_kind, kind_names, spec_type
from jobs.specs import SpecError
from jobs.storage import StorageUnavailable
from jobs.webhooks import UnsafeTarget, refuse_private_literal

router = APIRouter(tags=["jobs"])

JobId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="Job id (a UUID).")]
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retry-safe key: the same key and body give the same job.",
    ),
]
# The request body: a spec of any kind registered when this module is imported.
JobSpec = spec_type()
KindFilter = Annotated[
    str | None,
    Query(
        description="Only jobs of this kind (a registered job "
        "kind; any other is a 422 that lists them)."
    ),
]


def owned_job(deps: ApiDeps, job_id: str, who: Principal) -> Job:
    """The job if this client may see it; 404 otherwise (never another client's data)."""
    try:
        job = service.get_job(deps.sf, job_id)
    except service.JobNotFound:
        job = None
    if job is None or (who.owner_filter is not None and job.client_id != who.owner_filter):
        raise HTTPException(404, f"no job {job_id}")
    return job


def checked_kind(kind: str | None) -> str | None:
    """A registered kind, or None; else the 422 a pydantic enum gives, naming the allowed ones."""
    allowed = kind_names()
    if kind is None or kind in allowed:
        return kind
    expected = ", ".join(repr(k) for k in allowed[:-1]) + f" or {allowed[-1]!r}"
    raise RequestValidationError(
        [
            {
                "type": "enum",
                "loc": ("query", "kind"),
                "input": kind,
                "msg": f"Input should be {expected}",
                "ctx": {"expected": expected},
            }
        ]
    )


# ---------------------------------------------------------------- submit / cancel


def _submit(deps: ApiDeps, spec, who: Principal, key: str | None) -> JSONResponse:
    if spec.callback_url is not None:
        try:
            refuse_private_literal(str(spec.callback_url), deps.settings.webhook_allow_private)
        except UnsafeTarget as exc:
            raise SpecError("callback_url", str(exc)) from None
    body = spec.model_dump(mode="json")
    if key is None:
        job = service.submit(deps.sf, deps.settings, body, client_id=who.client_id)
        return JSONResponse(job_out(job).model_dump(mode="json"), 202)
    req_hash = idempotency.request_hash(body)
    stored = idempotency.lookup(deps.sf, who.client_id, key)
    if stored is None:
        record = idempotency.recorder(
            who.client_id,
            key,
            req_hash,
            deps.settings.idempotency_ttl_seconds,
            202,
            lambda job: job_out(job).model_dump(mode="json"),
        )
        try:
            job = service.submit(
                deps.sf, deps.settings, body, client_id=who.client_id, in_transaction=record
            )
            return JSONResponse(job_out(job).model_dump(mode="json"), 202)
        except IntegrityError:  # a request with the same key committed first: answer as it did
            stored = idempotency.lookup(deps.sf, who.client_id, key)
            if stored is None:
                raise
    replayed = idempotency.replay(stored, req_hash)
    return JSONResponse(
        replayed.body, replayed.status_code, headers={"Idempotent-Replayed": "true"}
    )


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobOut,
    responses={
        409: {"description": "Idempotency-Key reused with another body"},
        503: {"description": "Storage unavailable (catalogue fill reads the bucket)"},
        413: {"description": "Body too large"},
        429: {"description": "Rate limited"},
    },
)
def submit_job(spec: JobSpec, who: Submitter, deps: Deps, idempotency_key: IdemKey = None):
    """Submit a job spec; 202 with the queued job. Retry with the same Idempotency-Key safely."""
    if idempotency_key is not None and not idempotency.KEY_RE.match(idempotency_key):
        raise HTTPException(
            422,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "type": "value_error",
                    "msg": "1-255 printable ASCII characters, no spaces",
                }
            ],
        )
    try:
        response = _submit(deps, spec, who, idempotency_key)
    except SpecError as exc:
        raise HTTPException(
            422,
            [{"loc": ["body", *exc.field.split(".")], "msg": exc.message, "type": "value_error"}],
        ) from None
    except idempotency.KeyConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except StorageUnavailable as exc:  # catalogue fill reads the bucket at submit; nothing written
        raise HTTPException(503, f"storage unavailable, retry later: {exc}") from None
    deps.relay()
    return response


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: JobId, who: Submitter, deps: Deps):
    """Cancel queued and running work (idempotent): running workers stop at their next batch."""
    owned_job(deps, job_id, who)
    return job_out(service.cancel_job(deps.sf, job_id))


# ---------------------------------------------------------------- read


@router.get("/v1/jobs", response_model=JobPage)
def list_jobs(
    who: Reader,
    deps: Deps,
    status: Annotated[JobStatus | None, Query()] = None,
    kind: KindFilter = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    """Your jobs, newest first; follow next_cursor for older ones."""
    rows = service.list_jobs(
        deps.sf,
        status.value if status else None,
        checked_kind(kind),
        limit + 1,
        owner=who.owner_filter,
        after=job_cursor(cursor),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id]) if more else None
    return JobPage(jobs=[job_out(j) for j in rows], next_cursor=nxt)


@router.get("/v1/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, who: Reader, deps: Deps):
    """Status, progress, timestamps, error and (once finished) a presigned manifest link."""
    job = owned_job(deps, job_id, who)
    ttl = deps.settings.presign_seconds
    manifest = deps.store.url(job.manifest_key, ttl) if job.manifest_key else None
    counts = get_kind(job.kind).report(deps.sf, job)
    return job_out(job, service.done_images(deps.sf, job_id), manifest, counts)


@router.get("/v1/jobs/{job_id}/assets", response_model=AssetPage)
def job_assets(
    job_id: JobId,
    who: Reader,
    deps: Deps,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """The job's images with presigned GET URLs (valid presign_seconds), in key order."""
    job = owned_job(deps, job_id, who)
    after = decode_cursor(cursor, 1)[0] if cursor else None
    rows = asset_page(deps.sf, job_id, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    ttl = deps.settings.presign_seconds
    manifest = deps.store.url(job.manifest_key, ttl) if job.manifest_key else None
    return AssetPage(
        job_id=job_id,
        status=job.status,
        expires_in=ttl,
        manifest_url=manifest,
        assets=[asset_out(a, deps.store.url(a.key, ttl)) for a in rows],
        next_cursor=encode_cursor([rows[-1].key]) if more else None,
    )


def asset_page(
    sf: sessionmaker[Session], job_id: str, after_key: str | None, limit: int
) -> list[Asset]:
    q = select(Asset).where(Asset.job_id == job_id).order_by(Asset.key).limit(limit)
    if after_key is not None:
        q = q.where(Asset.key > after_key)
    with sf() as s:
        return list(s.scalars(q))


def asset_out(a: Asset, url: str) -> AssetOut:
    return AssetOut(
        key=a.key,
        url=url,
        sha256=a.sha256,
        bytes=a.bytes,
        width=a.width,
        height=a.height,
        seed=a.seed,
        category=a.category,
        content_type=a.content_type,
    )
