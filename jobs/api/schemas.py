"""Response bodies of the HTTP API (the request body is the job spec of jobs.specs)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from jobs.db.tables import Job


class ModelRef(BaseModel):
    name: str
    version: str


class Progress(BaseModel):
    items_total: int
    items_done: int
    items_failed: int
    images_total: int
    # Images stored so far (only on GET /v1/jobs/{id}).
    images_done: int | None = None


class ErrorOut(BaseModel):
    code: str
    message: str


class Links(BaseModel):
    self: str
    assets: str
    cancel: str
    # Presigned URL of manifest.json once the job is finished (only on GET /v1/jobs/{id}).
    manifest: str | None = None


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    priority: str
    model: ModelRef
    # The x4 upscaler pinned at submit (spec field upscale); null when the job upscales nothing.
    upscaler: ModelRef | None = None
    progress: Progress
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: ErrorOut | None
    callback_url: str | None
    links: Links
    # Catalogue fill only (GET /v1/jobs/{id}): rows read / skipped / generated / rejected /
    # pending|failed.
    catalogue_counts: dict[str, int] | None = None


class JobPage(BaseModel):
    jobs: list[JobOut]
    # Pass as ?cursor= for the next (older) page; null on the last page.
    next_cursor: str | None


class AssetOut(BaseModel):
    key: str
    url: str
    sha256: str
    bytes: int
    width: int
    height: int
    seed: int
    category: str
    content_type: str


class AssetPage(BaseModel):
    job_id: str
    status: str
    # Seconds the URLs below stay valid.
    expires_in: int
    manifest_url: str | None
    assets: list[AssetOut]
    next_cursor: str | None


class ModelVersionOut(BaseModel):
    version: str
    sha256: str
    image_size: int
    channels: int
    classes: list[str]
    published_at: str | None
    metrics: dict


class ModelOut(BaseModel):
    name: str
    versions: list[ModelVersionOut]


class CheckOut(BaseModel):
    ok: bool
    error: str | None = None


class ReadyOut(BaseModel):
    ok: bool
    checks: dict[str, CheckOut]


def job_out(
    job: Job,
    images_done: int | None = None,
    manifest_url: str | None = None,
    catalogue_counts: dict[str, int] | None = None,
) -> JobOut:
    base = f"/v1/jobs/{job.id}"
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        priority=job.priority,
        model=ModelRef(name=job.model_name, version=job.model_version),
        upscaler=ModelRef(name=job.upscaler_name, version=job.upscaler_version or "")
        if job.upscaler_name
        else None,
        progress=Progress(
            items_total=job.total_items,
            items_done=job.done_items,
            items_failed=job.failed_items,
            images_total=job.total_images,
            images_done=images_done,
        ),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=ErrorOut(code=job.error_code, message=job.error_message or "")
        if job.error_code
        else None,
        callback_url=job.callback_url,
        links=Links(
            self=base, assets=f"{base}/assets", cancel=f"{base}/cancel", manifest=manifest_url
        ),
        catalogue_counts=catalogue_counts,
    )


def model_version_out(meta: dict) -> ModelVersionOut:
    return ModelVersionOut(
        version=str(meta.get("version") or meta.get("sha256", "")[:12]),
        sha256=meta.get("sha256", ""),
        image_size=int(meta.get("image_size", 0)),
        channels=int(meta.get("channels", 0)),
        classes=list(meta.get("class_names", [])),
        published_at=meta.get("published_at") or meta.get("created_at"),
        metrics=meta.get("metrics") or {},
    )
