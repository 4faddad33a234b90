"""Job specs: what every kind's spec shares, and parsing at the boundary.

Each kind's own spec model (with its limits) lives in its folder under ``jobs.kinds``; the union
of the registered kinds' specs is built by ``jobs.kinds.registry``. Every limit is explicit.
Errors name the field, the value and what is allowed; nothing is silently "fixed".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    HttpUrl,
    Tag,
    TypeAdapter,
    UrlConstraints,
    ValidationError,
)

# A 50,000-row catalogue with titles and image URLs fits, or a catalogue file's text of up to
# jobs.kinds.catalogue_fill.spec.MAX_CATALOGUE_BYTES (40 MB) with JSON's escapes.
MAX_SPEC_BYTES = 48_000_000
MAX_CALLBACK_URL = 2_000
MAX_SKU_CHARS = 64  # a SKU: 1..64 of A-Z a-z 0-9 . _ - starting with a letter or digit
DEFAULT_KIND = "generate"  # the kind of a spec that names none

# An output encoding (jobs.encode encodes each).
Format = Literal["png", "jpeg", "webp"]
FORMATS: tuple[str, ...] = get_args(Format)
# Whether the worker's upscale stage runs between sampling and rendering (jobs.kinds.planning.
# upscale_passes): auto one x4 pass where the product is drawn more than 2x its native size, off
# never (today's Lanczos resize of the sample), x4 always (one pass, or two where one leaves more
# than 2x).
Upscale = Literal["auto", "off", "x4"]
UPSCALE_MODES: tuple[str, ...] = get_args(Upscale)
# Generator candidates per product (catalogue SKU, ad variant): each is scored (jobs.quality) and
# the best is kept; the others cost only their sampling.
CANDIDATES_MIN, CANDIDATES_MAX = 1, 16
Candidates = Annotated[int, Field(ge=CANDIDATES_MIN, le=CANDIDATES_MAX)]
# A colour, "#RRGGBB" (brand kits, tile backgrounds).
COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
Colour = Annotated[str, Field(pattern=COLOUR_PATTERN)]
# Webhook target for the job's terminal event (http/https only; private addresses are refused
# at delivery).
CallbackUrl = Annotated[HttpUrl, UrlConstraints(max_length=MAX_CALLBACK_URL)]


class SpecError(ValueError):
    """A job spec was rejected; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def kind_of(value: Any) -> str:
    """The union's tag: a spec without "kind" is of the default kind (plain generation)."""
    if isinstance(value, dict):
        return value.get("kind", DEFAULT_KIND)
    return getattr(value, "kind", DEFAULT_KIND)


def spec_union(specs: Mapping[str, type[BaseModel]]) -> Any:
    """The discriminated union of these specs (kind name -> model), tagged by ``kind``."""
    members = tuple(Annotated[model, Tag(name)] for name, model in specs.items())
    return Annotated[Union[members], Discriminator(kind_of)]  # noqa: UP007 (built at run time)


def _describe(err: ValidationError, kinds: tuple[str, ...]) -> SpecError:
    first = err.errors()[0]
    if first["type"] == "union_tag_invalid":
        got = json.dumps(first["ctx"]["tag"])[:80]
        return SpecError("kind", f"must be one of {', '.join(kinds)} (got {got})")
    loc = first["loc"]
    loc = loc[1:] if loc and loc[0] in kinds else loc  # drop the union tag
    field = ".".join(str(p) for p in loc) or "spec"
    value = first.get("input")
    shown = json.dumps(value)[:80] if not isinstance(value, dict) else "{...}"
    return SpecError(field, f"{first['msg']} (got {shown})")


def parse_with(adapter: TypeAdapter, kinds: tuple[str, ...], data: dict | str | bytes) -> Any:
    """Parse a spec from a dict or JSON text with a spec union's adapter (``kinds``: its tags);
    raise SpecError naming the field."""
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError("spec", f"{len(data)} bytes is over the limit of {MAX_SPEC_BYTES}")
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise SpecError(
                "spec", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if not isinstance(data, dict):
        raise SpecError("spec", f"must be a JSON object, got {type(data).__name__}")
    data = {"kind": DEFAULT_KIND, **data}
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        raise _describe(err, kinds) from None
