"""The HTTP API: ``create_app(settings)``, a FastAPI app under /v1 plus /healthz, /readyz, /metrics.

Auth: ``Authorization: Bearer <token>`` (jobs.auth); a client sees only its own
jobs (another client's job is a 404). Limits: the request body
(``api_max_body_bytes``, 413), the job spec (422 with field errors), a per-client
token bucket (429 with Retry-After). POST /v1/jobs honours ``Idempotency-Key``
(jobs.idempotency). Nothing here logs a token, a presigned URL or a callback URL.
"""

import base64
import binascii
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Callable, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import idempotency, service
from jobs.api_schemas import AssetOut, AssetPage, JobOut, JobPage, ModelOut, ReadyOut, job_out, model_version_out
from jobs.auth import Principal, authenticate
from jobs.models import Asset, Job, JobStatus
from jobs.ratelimit import RateLimiter, retry_after_header
from jobs.settings import Settings
from jobs.specs import KINDS, JobSpec, SpecError
from jobs.webhooks import UnsafeTarget, refuse_private_literal
from worker.storage import StorageUnavailable

JobId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="Job id (a UUID).")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                       description="Retry-safe key: the same key and body give the same job.")]


@dataclass
class Deps:
    settings: Settings
    sf: sessionmaker[Session]
    store: object
    celery: object
    limiter: RateLimiter
    relay_lock: threading.Lock

    def relay(self) -> None:
        """Publish committed outbox rows; a broker that is down leaves them for the worker/sweeper."""
        from jobs.outbox import relay
        from worker.celery_app import create_publisher

        with self.relay_lock:
            relay(self.sf, create_publisher(self.celery, self.settings))


def _deps(settings: Settings, sf, store) -> Deps:
    from jobs.db import create_db_engine, create_session_factory
    from worker.celery_app import create_celery
    from worker.storage import create_store

    return Deps(settings=settings, sf=sf or create_session_factory(create_db_engine(settings)),
                store=store or create_store(settings), celery=create_celery(settings),
                limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
                relay_lock=threading.Lock())


# ---------------------------------------------------------------- request body limit


class BodyLimit:
    """Pure ASGI middleware: read at most LIMIT bytes of a request body, else answer 413."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._too_large(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _once(message, receive), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                return await self._too_large(scope, receive, send)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await self.app(scope, _once(body, receive), send)

    async def _too_large(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body is over the limit of {self.limit} bytes"}, 413)
        await response(scope, receive, send)


def _once(first: dict, receive: Callable):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


# ---------------------------------------------------------------- auth


def auth_dependency(deps: Deps, scope: str):
    bearer = HTTPBearer(auto_error=False, description="A token from `assetgen clients create`.")

    def principal(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        who = authenticate(deps.sf, creds.credentials) if creds else None
        if who is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not who.allows(scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")
        wait = deps.limiter.acquire(who.client_id)
        if wait:
            raise HTTPException(429, "rate limit exceeded; retry later",
                                headers={"Retry-After": retry_after_header(wait)})
        return who

    return principal


def owned_job(deps: Deps, job_id: str, who: Principal) -> Job:
    """The job if this client may see it; 404 otherwise (never another client's data)."""
    try:
        job = service.get_job(deps.sf, job_id)
    except service.JobNotFound:
        job = None
    if job is None or (who.owner_filter is not None and job.client_id != who.owner_filter):
        raise HTTPException(404, f"no job {job_id}")
    return job


# ---------------------------------------------------------------- cursors


def encode_cursor(parts: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def bad_cursor() -> HTTPException:
    return HTTPException(422, [{"loc": ["query", "cursor"], "msg": "not a cursor returned by this API",
                                "type": "value_error"}])


def decode_cursor(cursor: str, size: int) -> list:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_cursor() from None
    if isinstance(parts, list) and len(parts) == size and all(isinstance(p, str) for p in parts):
        return parts
    raise bad_cursor()


def job_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    created, job_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(created), job_id
    except ValueError:
        raise bad_cursor() from None


# ---------------------------------------------------------------- the app


async def _validation_error(_request, exc: RequestValidationError) -> JSONResponse:
    """422 with field paths as the CLI names them: the spec union's kind tag is left out of ``loc``."""
    errors = []
    for err in exc.errors():
        loc = list(err["loc"])
        if loc[:1] == ["body"] and len(loc) > 1 and loc[1] in KINDS:
            del loc[1]
        errors.append({**err, "loc": loc})
    return JSONResponse({"detail": jsonable_encoder(errors)}, 422)


def create_app(settings: Settings, *, sf: sessionmaker[Session] | None = None, store=None) -> FastAPI:
    deps = _deps(settings, sf, store)
    app = FastAPI(title="assetgen", version="1", docs_url="/docs",
                  description="Batch product-image generation: submit jobs, read results, get signed webhooks.")
    app.state.deps = deps
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    _ops_routes(app, deps)
    _job_routes(app, deps)
    _read_routes(app, deps)
    return app


def _submit(deps: Deps, spec, who: Principal, key: str | None) -> JSONResponse:
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
        record = idempotency.recorder(who.client_id, key, req_hash, deps.settings.idempotency_ttl_seconds, 202,
                                      lambda job: job_out(job).model_dump(mode="json"))
        try:
            job = service.submit(deps.sf, deps.settings, body, client_id=who.client_id, in_transaction=record)
            return JSONResponse(job_out(job).model_dump(mode="json"), 202)
        except IntegrityError:  # a request with the same key committed first: answer as it did
            stored = idempotency.lookup(deps.sf, who.client_id, key)
            if stored is None:
                raise
    replayed = idempotency.replay(stored, req_hash)
    return JSONResponse(replayed.body, replayed.status_code, headers={"Idempotent-Replayed": "true"})


def _job_routes(app: FastAPI, deps: Deps) -> None:
    submitter = auth_dependency(deps, "submit")
    key_re = idempotency.KEY_RE

    @app.post("/v1/jobs", status_code=202, response_model=JobOut, tags=["jobs"],
              responses={409: {"description": "Idempotency-Key reused with another body"},
                         503: {"description": "Storage unavailable (catalogue fill reads the bucket)"},
                         413: {"description": "Body too large"}, 429: {"description": "Rate limited"}})
    def submit_job(spec: JobSpec, who: Annotated[Principal, Depends(submitter)], idempotency_key: IdemKey = None):
        """Submit a job spec; 202 with the queued job. Retry with the same Idempotency-Key safely."""
        if idempotency_key is not None and not key_re.match(idempotency_key):
            raise HTTPException(422, [{"loc": ["header", "Idempotency-Key"], "type": "value_error",
                                       "msg": "1-255 printable ASCII characters, no spaces"}])
        try:
            response = _submit(deps, spec, who, idempotency_key)
        except SpecError as exc:
            raise HTTPException(422, [{"loc": ["body", *exc.field.split(".")], "msg": exc.message,
                                       "type": "value_error"}]) from None
        except idempotency.KeyConflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StorageUnavailable as exc:  # a catalogue fill reads the bucket at submit; nothing was written
            raise HTTPException(503, f"storage unavailable, retry later: {exc}") from None
        deps.relay()
        return response

    @app.post("/v1/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"])
    def cancel_job(job_id: JobId, who: Annotated[Principal, Depends(submitter)]):
        """Cancel queued and running work (idempotent): running workers stop at their next batch."""
        owned_job(deps, job_id, who)
        return job_out(service.cancel_job(deps.sf, job_id))


def _read_routes(app: FastAPI, deps: Deps) -> None:
    reader = auth_dependency(deps, "read")

    @app.get("/v1/jobs", response_model=JobPage, tags=["jobs"])
    def list_jobs(who: Annotated[Principal, Depends(reader)],
                  status: Annotated[JobStatus | None, Query()] = None,
                  kind: Annotated[Literal["generate"] | None, Query()] = None,
                  cursor: Annotated[str | None, Query(max_length=500)] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50):
        """Your jobs, newest first; follow next_cursor for older ones."""
        rows = service.list_jobs_page(deps.sf, owner=who.owner_filter, status=status.value if status else None,
                                      kind=kind, after=job_cursor(cursor), limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id]) if more else None
        return JobPage(jobs=[job_out(j) for j in rows], next_cursor=nxt)

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
    def get_job(job_id: JobId, who: Annotated[Principal, Depends(reader)]):
        """Status, progress, timestamps, error and (once finished) a presigned manifest link."""
        job = owned_job(deps, job_id, who)
        manifest = deps.store.url(job.manifest_key, deps.settings.presign_seconds) if job.manifest_key else None
        counts = None
        if job.kind == "catalogue_fill":
            from jobs.catalogue_state import job_report

            counts = job_report(deps.sf, job, with_rows=False)["counts"]
        return job_out(job, service.done_images(deps.sf, job_id), manifest, counts)

    @app.get("/v1/jobs/{job_id}/assets", response_model=AssetPage, tags=["jobs"])
    def job_assets(job_id: JobId, who: Annotated[Principal, Depends(reader)],
                   cursor: Annotated[str | None, Query(max_length=500)] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100):
        """The job's images with presigned GET URLs (valid presign_seconds), in key order."""
        job = owned_job(deps, job_id, who)
        after = decode_cursor(cursor, 1)[0] if cursor else None
        rows = asset_page(deps.sf, job_id, after, limit + 1)
        more, rows = len(rows) > limit, rows[:limit]
        ttl = deps.settings.presign_seconds
        return AssetPage(job_id=job_id, status=job.status, expires_in=ttl,
                         manifest_url=deps.store.url(job.manifest_key, ttl) if job.manifest_key else None,
                         assets=[asset_out(a, deps.store.url(a.key, ttl)) for a in rows],
                         next_cursor=encode_cursor([rows[-1].key]) if more else None)

    @app.get("/v1/models", response_model=list[ModelOut], tags=["models"])
    def list_models(who: Annotated[Principal, Depends(reader)]):
        """The default model and every published model with its versions and evaluation numbers."""
        from jobs.model_registry import published_versions, read_checkpoint_meta

        out = [ModelOut(name="default", versions=[model_version_out(read_checkpoint_meta(
            deps.settings.default_model.resolve()))])]
        for name, versions in published_versions(deps.store).items():
            out.append(ModelOut(name=name, versions=[model_version_out(m) for m in versions]))
        return out


def asset_page(sf: sessionmaker[Session], job_id: str, after_key: str | None, limit: int) -> list[Asset]:
    q = select(Asset).where(Asset.job_id == job_id).order_by(Asset.key).limit(limit)
    if after_key is not None:
        q = q.where(Asset.key > after_key)
    with sf() as s:
        return list(s.scalars(q))


def asset_out(a: Asset, url: str) -> AssetOut:
    return AssetOut(key=a.key, url=url, sha256=a.sha256, bytes=a.bytes, width=a.width, height=a.height,
                    seed=a.seed, category=a.category, content_type=a.content_type)


# ---------------------------------------------------------------- operations


def _ops_routes(app: FastAPI, deps: Deps) -> None:
    from jobs.health import readiness
    from jobs.metrics import create_registry, render

    registry = create_registry(deps.sf)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        """The process is up."""
        return {"ok": True}

    @app.get("/readyz", response_model=ReadyOut, tags=["ops"], responses={503: {"model": ReadyOut}})
    def readyz():
        """Database, broker and storage reachable (each reported); 503 if one is not."""
        ready = readiness(deps.sf, deps.celery, deps.store)
        return JSONResponse(ready.model_dump(), 200 if ready.ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics():
        """Prometheus text format: jobs by state, images generated, queue depth, job latency."""
        return Response(render(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
