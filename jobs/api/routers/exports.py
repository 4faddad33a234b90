"""/v1/jobs/{id}/export: the import file that attaches a catalogue-fill job's synthetic images.

Reader scope; another client's job is a 404, as for GET /v1/jobs/{id}. The body is the CSV the
platform's importer takes (jobs.kinds.catalogue_fill.export); presigned URLs' expiry is in the
``X-Assetgen-Urls-Expire-At`` and ``X-Assetgen-Urls-Expires-In`` headers.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from jobs.api.deps import Deps, Reader
from jobs.api.routers.jobs import JobId, owned_job
from jobs.kinds.catalogue_fill.export import MAX_ALT_CHARS, MAX_BASE_URL_CHARS, export_job

router = APIRouter(tags=["jobs"])

ExportFormat = Literal["shopify", "magento", "woocommerce", "csv"]
Language = Literal["en", "de", "fr", "es"]


@router.get(
    "/v1/jobs/{job_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The import file (UTF-8 CSV)"},
        404: {"description": "No such job (or another client's)"},
        422: {"description": "A bad format, language or base URL, or not a catalogue-fill job"},
    },
)
def export(
    job_id: JobId,
    who: Reader,
    deps: Deps,
    format: Annotated[
        ExportFormat | None,
        Query(description="The importer's format [the job's platform; csv for a generic one]."),
    ] = None,
    base_url: Annotated[
        str | None,
        Query(
            max_length=MAX_BASE_URL_CHARS,
            description="Public URL of the bucket: URL = BASE/KEY (default: presigned URLs).",
        ),
    ] = None,
    language: Annotated[Language, Query(description="Language of the alt text.")] = "en",
    alt_text: Annotated[str | None, Query(max_length=MAX_ALT_CHARS)] = None,
):
    """One row per product the job generated an image for (a SKU whose synthetic image a real
    photo superseded is left out), with its image URL and an alt text saying it is synthetic."""
    job = owned_job(deps, job_id, who)
    try:
        done = export_job(
            deps.sf,
            deps.store,
            job,
            format,
            base_url=base_url,
            language=language,
            alt=alt_text,
            presign_seconds=deps.settings.presign_seconds,
        )
    except ValueError as exc:
        raise HTTPException(
            422, [{"loc": ["query"], "msg": str(exc), "type": "value_error"}]
        ) from None
    headers = {
        "Content-Disposition": f'attachment; filename="{job.id}-{done.file.format}.csv"',
        "X-Assetgen-Export-Rows": str(done.file.rows),
        "X-Assetgen-Export-Left-Out": str(len(done.file.left_out)),
    }
    if done.expires_at is not None:
        headers["X-Assetgen-Urls-Expire-At"] = done.expires_at.isoformat(timespec="seconds")
        headers["X-Assetgen-Urls-Expires-In"] = str(done.expires_in)
    return Response(done.file.text, media_type="text/csv; charset=utf-8", headers=headers)
