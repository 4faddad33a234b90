"""What the API's views depend on: one typed container, built by ``create_app``, and the
``Depends`` providers that hand it (and the authenticated caller) to each view.

The container rides on ``app.state``, so several apps (tests) can live in one process.
"""

import threading
from dataclasses import dataclass, field
from typing import Annotated

from celery import Celery
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from jobs.api.metrics import create_registry
from jobs.api.ratelimit import RateLimiter, retry_after_header
from jobs.auth import Principal, authenticate
from jobs.broker.celery import create_celery, create_publisher
from jobs.db.engine import create_db_engine, create_session_factory
from jobs.outbox import relay
from jobs.settings import Settings
from jobs.storage import Store, create_store


@dataclass(frozen=True)
class ApiDeps:
    settings: Settings
    sf: sessionmaker[Session]
    store: Store
    celery: Celery  # the broker's app (publishing and /readyz; no task runs here)
    limiter: RateLimiter
    metrics: CollectorRegistry  # /metrics, read from SQL at scrape time
    relay_lock: threading.Lock = field(default_factory=threading.Lock)

    def relay(self) -> None:
        """Publish committed outbox rows; a broker that is down leaves them for the sweeper."""
        with self.relay_lock:
            relay(self.sf, create_publisher(self.celery, self.settings))


def create_deps(
    settings: Settings, *, sf: sessionmaker[Session] | None = None, store: Store | None = None
) -> ApiDeps:
    """The real database, bucket and broker of ``settings``, unless a test passes its own."""
    sf = sf or create_session_factory(create_db_engine(settings))
    return ApiDeps(
        settings=settings,
        sf=sf,
        store=store or create_store(settings),
        celery=create_celery(settings),
        limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
        metrics=create_registry(sf),
    )


def get_deps(request: Request) -> ApiDeps:
    return request.app.state.deps


Deps = Annotated[ApiDeps, Depends(get_deps)]

bearer = HTTPBearer(auto_error=False, description="A token from `assetgen clients create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def caller_with(scope: str):
    """A dependency: the authenticated caller holding ``scope`` (401, 403), within its rate
    (429 with Retry-After)."""

    def principal(deps: Deps, creds: Credentials) -> Principal:
        who = authenticate(deps.sf, creds.credentials) if creds else None
        if who is None:
            raise HTTPException(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not who.allows(scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")
        wait = deps.limiter.acquire(who.client_id)
        if wait:
            raise HTTPException(
                429,
                "rate limit exceeded; retry later",
                headers={"Retry-After": retry_after_header(wait)},
            )
        return who

    return principal


Submitter = Annotated[Principal, Depends(caller_with("submit"))]
Reader = Annotated[Principal, Depends(caller_with("read"))]
