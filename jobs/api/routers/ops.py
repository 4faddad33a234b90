"""Operations: /healthz (the process is up), /readyz (its dependencies are), /metrics."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from jobs.api.deps import Deps
from jobs.api.health import readiness
from jobs.api.metrics import render
from jobs.api.schemas import ReadyOut

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict:
    """The process is up."""
    return {"ok": True}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(deps: Deps):
    """Database, broker and storage reachable (each reported); 503 if one is not."""
    ready = readiness(deps.sf, deps.celery, deps.store)
    return JSONResponse(ready.model_dump(), 200 if ready.ok else 503)


@router.get("/metrics", response_class=Response)
def metrics(deps: Deps):
    """Prometheus text format: jobs by state, images generated, queue depth, job latency."""
    return Response(render(deps.metrics), media_type="text/plain; version=0.0.4; charset=utf-8")
