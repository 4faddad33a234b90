"""The HTTP API: ``create_app(settings)``, a FastAPI app under /v1 plus /healthz, /readyz, /metrics.

Auth: ``Authorization: Bearer <token>`` (jobs.auth, jobs.api.deps). Limits: the request body
(``api_max_body_bytes``, 413), the job spec (422 with field errors), a per-client token bucket
(429 with Retry-After). The views are the routers of jobs.api.routers; what they depend on is
jobs.api.deps.
"""

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from jobs.api.deps import create_deps
from jobs.api.routers import exports, jobs, models, ops
from jobs.kinds.registry import kind_names
from jobs.settings import Settings
from jobs.storage import Store


def create_app(
    settings: Settings, *, sf: sessionmaker[Session] | None = None, store: Store | None = None
) -> FastAPI:
    """The app on the database, bucket and broker of ``settings`` (tests may pass sf and store)."""
    app = FastAPI(
        title="assetgen",
        version="1",
        docs_url="/docs",
        description="Batch product-image generation: submit jobs, read results, "
        "get signed webhooks.",
    )
    app.state.deps = create_deps(settings, sf=sf, store=store)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for module in (ops, jobs, exports, models):
        app.include_router(module.router)
    return app


async def _validation_error(_request, exc: RequestValidationError) -> JSONResponse:
    """422 with field paths as the CLI names them: the spec union's kind tag is left out of
    ``loc``."""
    errors = []
    kinds = kind_names()
    for err in exc.errors():
        loc = list(err["loc"])
        if loc[:1] == ["body"] and len(loc) > 1 and loc[1] in kinds:
            del loc[1]
        errors.append({**err, "loc": loc})
    return JSONResponse({"detail": jsonable_encoder(errors)}, 422)


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
        detail = f"request body is over the limit of {self.limit} bytes"
        await JSONResponse({"detail": detail}, 413)(scope, receive, send)


def _once(first: dict, receive: Callable):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay
