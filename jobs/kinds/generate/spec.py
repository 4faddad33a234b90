"""The spec of a plain generation job."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.settings import Priority
from jobs.specs import CallbackUrl, Format

MAX_IMAGES_PER_JOB = 10_000
MAX_IMAGES_PER_ITEM = 1_024


class GenerateSpec(BaseModel):
    """Plain generation: COUNT images of one category, stored under jobs/<job_id>/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["generate"] = "generate"
    # "default", a published "name" / "name@version", or a checkpoint folder path.
    model: str = Field("default", min_length=1, max_length=200)
    # A class name of the model (e.g. "shoe"); checked against the model at submit.
    category: str = Field(min_length=1, max_length=100)
    count: int = Field(ge=1, le=MAX_IMAGES_PER_JOB)
    format: Format = "png"
    # Images per work item: the unit of parallelism and of retry.
    images_per_item: int = Field(64, ge=1, le=MAX_IMAGES_PER_ITEM)
    # Base of the per-image seeds; default: the job id (a fresh job gives fresh images).
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    priority: Priority = "normal"
    callback_url: CallbackUrl | None = None
