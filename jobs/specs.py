"""Job specs: the contract with marketing tools, validated at the boundary.

Every limit is explicit here. Errors name the field, the value and what is
allowed; nothing is silently "fixed".
"""
from __future__ import annotations

import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, UrlConstraints, ValidationError

MAX_IMAGES_PER_JOB = 10_000
MAX_IMAGES_PER_ITEM = 1_024
MAX_SPEC_BYTES = 1_000_000
FORMATS = ("png", "jpeg", "webp")
PRIORITIES = ("urgent", "normal", "bulk")
KINDS = ("generate",)
MAX_CALLBACK_URL = 2_000


class SpecError(ValueError):
    """A job spec was rejected; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GenerateSpec(BaseModel):
    """Plain generation: COUNT images of one category, stored under jobs/<job_id>/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["generate"] = "generate"
    # "default", a published "name" / "name@version", or a checkpoint folder path.
    model: str = Field("default", min_length=1, max_length=200)
    # A class name of the model (e.g. "sneaker"); checked against the model at submit.
    category: str = Field(min_length=1, max_length=100)
    count: int = Field(ge=1, le=MAX_IMAGES_PER_JOB)
    format: Literal["png", "jpeg", "webp"] = "png"
    # Images per work item: the unit of parallelism and of retry.
    images_per_item: int = Field(64, ge=1, le=MAX_IMAGES_PER_ITEM)
    # Base of the per-image seeds; default: the job id (a fresh job gives fresh images).
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    priority: Literal["urgent", "normal", "bulk"] = "normal"
    # Webhook target for the job's terminal event (http/https only; private addresses are refused at delivery).
    callback_url: Annotated[HttpUrl, UrlConstraints(max_length=MAX_CALLBACK_URL)] | None = None


JobSpec = Annotated[Union[GenerateSpec], Field(discriminator="kind")]
_adapter = TypeAdapter(JobSpec)


def _describe(err: ValidationError) -> SpecError:
    first = err.errors()[0]
    loc = first["loc"][1:] if first["loc"] and first["loc"][0] in KINDS else first["loc"]  # drop the union tag
    field = ".".join(str(p) for p in loc) or "spec"
    value = first.get("input")
    shown = json.dumps(value)[:80] if not isinstance(value, dict) else "{...}"
    return SpecError(field, f"{first['msg']} (got {shown})")


def parse_spec(data: dict | str | bytes) -> GenerateSpec:
    """Parse a spec from a dict or JSON text; raise SpecError naming the field."""
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError("spec", f"{len(data)} bytes is over the limit of {MAX_SPEC_BYTES}")
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise SpecError("spec", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise SpecError("spec", f"must be a JSON object, got {type(data).__name__}")
    data = {"kind": "generate", **data}
    try:
        return _adapter.validate_python(data)
    except ValidationError as err:
        raise _describe(err) from None
