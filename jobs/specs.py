"""Job specs: the contract with marketing tools, validated at the boundary.

Every limit is explicit here. Errors name the field, the value and what is
allowed; nothing is silently "fixed".
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Literal, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, HttpUrl, Tag, TypeAdapter,
                      UrlConstraints, ValidationError)

MAX_IMAGES_PER_JOB = 10_000
MAX_IMAGES_PER_ITEM = 1_024
MAX_SPEC_BYTES = 8_000_000  # a 10,000-row catalogue with titles and image URLs fits
FORMATS = ("png", "jpeg", "webp")
PRIORITIES = ("urgent", "normal", "bulk")
KINDS = ("generate", "catalogue_fill", "ad_creative")
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


# ---------------------------------------------------------------- catalogue fill (jobs.catalogue has the row rules)

MAX_CATALOGUE_ROWS = 10_000  # rows (SKUs) per catalogue-fill job
MAX_ROW_FIELD_CHARS = 4_096  # hard cap on any row field; longer SKUs/titles below it are rejected per row
MAX_SKU_CHARS = 64  # a SKU: 1..64 of A-Z a-z 0-9 . _ - starting with a letter or digit (per row)
MAX_TITLE_CHARS = 200  # a row with a longer title is rejected (per row)
MAX_MAPPING_ENTRIES = 1_000  # catalogue category -> model class entries
MAX_CATEGORY_CHARS = 100  # a mapping key or value
CATALOGUE_SIZE_MIN, CATALOGUE_SIZE_MAX = 64, 2_048  # square output tile, pixels per side
CANDIDATES_MIN, CANDIDATES_MAX = 1, 16  # generator candidates per SKU (the best is kept)
MAX_SKUS_PER_ITEM = 1_024

_Category = Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY_CHARS)]


class CatalogueRow(BaseModel):
    """One catalogue line. Its problems (a hostile SKU, an unknown category) reject the row, not the job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(max_length=MAX_ROW_FIELD_CHARS)
    category: str = Field(max_length=MAX_ROW_FIELD_CHARS)  # the catalogue's own name, mapped to a model class
    title: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)
    # Names the SKU's real image (a URL or path, never fetched): a row with one is not generated.
    image: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)


class CatalogueFillSpec(BaseModel):
    """A synthetic image at catalogue/<sku>/synthetic.<ext> for every row's SKU that has no image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["catalogue_fill"]
    model: str = Field("default", min_length=1, max_length=200)
    # Stored per row in SQL at submit (table catalogue_rows), never echoed in the job's spec column.
    rows: list[CatalogueRow] = Field(min_length=1, max_length=MAX_CATALOGUE_ROWS)
    # Catalogue category -> model class ("Sneakers" -> "sneaker"), matched ignoring case and outer spaces;
    # a category that is itself a model class needs no entry.
    mapping: dict[_Category, _Category] = Field(default_factory=dict, max_length=MAX_MAPPING_ENTRIES)
    size: int = Field(800, ge=CATALOGUE_SIZE_MIN, le=CATALOGUE_SIZE_MAX)  # square tile side, pixels
    candidates: int = Field(4, ge=CANDIDATES_MIN, le=CANDIDATES_MAX)  # K: samples per SKU, best kept
    format: Literal["png", "jpeg", "webp"] = "jpeg"
    # When a real image has arrived for a SKU, delete its synthetic object (else it is only marked superseded).
    delete_superseded: bool = False
    skus_per_item: int = Field(64, ge=1, le=MAX_SKUS_PER_ITEM)  # SKUs per work item (parallelism and retry)
    priority: Literal["urgent", "normal", "bulk"] = "normal"
    callback_url: Annotated[HttpUrl, UrlConstraints(max_length=MAX_CALLBACK_URL)] | None = None


# ---------------------------------------------------------------- ad creatives (worker.layout lays them out)

MAX_VARIANTS = 50  # variants (products, one generator sample each) per ad-creative job
MAX_AD_FORMATS = 10  # channel formats per job (named, or custom WxH within worker.layout.formats' bounds)
MAX_HEADLINE_CHARS, MAX_SUBLINE_CHARS, MAX_CTA_CHARS, MAX_BADGE_CHARS = 60, 90, 20, 12
MAX_LOGO_KEY_CHARS = 256
LOGO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_LOGO_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _copy_text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise ValueError("control characters (newlines, tabs) are not allowed: layouts wrap the text themselves")
    return text


def _logo_key(key: str) -> str:
    if not _LOGO_KEY_RE.match(key) or ".." in key.split("/") or "//" in key:
        raise ValueError("must be a bucket key of A-Z a-z 0-9 . _ - / (no '..' or empty segments)")
    if not key.lower().endswith(LOGO_EXTENSIONS):
        raise ValueError(f"must name an image ending in {', '.join(LOGO_EXTENSIONS)}")
    return key


def _format_name(name: str) -> str:
    from worker.layout import LayoutError
    from worker.layout.formats import resolve_format

    try:
        resolve_format(name)
    except LayoutError as exc:
        raise ValueError(exc.message) from None
    return name


def _unique(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("lists a format twice")
    return names


def _text(max_chars: int):
    return Annotated[str, Field(min_length=1, max_length=max_chars), AfterValidator(_copy_text)]


_Colour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]  # "#RRGGBB"


class AdCopy(BaseModel):
    """The words of a creative; each is wrapped and sized per format (worker.layout)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: _text(MAX_HEADLINE_CHARS)
    subline: _text(MAX_SUBLINE_CHARS) | None = None
    cta: _text(MAX_CTA_CHARS)  # the call-to-action button
    badge: _text(MAX_BADGE_CHARS) | None = None  # a price or a badge ("$49", "-30%", "New")


class BrandKit(BaseModel):
    """Colours (text pairs must reach WCAG AA 4.5:1, checked at submit) and an optional logo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    background: _Colour = "#FFFFFF"
    text: _Colour = "#1A1A1A"  # headline and subline, on the background
    accent: _Colour = "#1F4E99"  # button and badge fill
    accent_text: _Colour = "#FFFFFF"  # button and badge letters, on the accent
    # An image in the job's bucket (PNG/JPEG/WebP, transparency kept), e.g. "brand/acme/logo.png".
    logo: Annotated[str, Field(min_length=1, max_length=MAX_LOGO_KEY_CHARS), AfterValidator(_logo_key)] | None = None


class AdCreativeSpec(BaseModel):
    """VARIANTS products of a category, each rendered in every format: jobs/<job_id>/<variant>-<format>.<ext>."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    kind: Literal["ad_creative"]
    model: str = Field("default", min_length=1, max_length=200)
    # Exactly one of: a class of the model, or a SKU whose category a catalogue-fill job has recorded.
    category: str | None = Field(None, min_length=1, max_length=100)
    sku: str | None = Field(None, min_length=1, max_length=MAX_SKU_CHARS)
    variants: int = Field(1, ge=1, le=MAX_VARIANTS)
    # Named formats (square, portrait, story, landscape, medium-rectangle, leaderboard, skyscraper) or "WxH".
    formats: Annotated[list[Annotated[str, Field(max_length=20), AfterValidator(_format_name)]],
                       Field(min_length=1, max_length=MAX_AD_FORMATS), AfterValidator(_unique)]
    copy_: AdCopy = Field(alias="copy")  # "copy" on the wire (the Python name would shadow BaseModel.copy)
    brand: BrandKit = BrandKit()
    file_format: Literal["png", "jpeg", "webp"] = "jpeg"
    # Base of the per-variant seeds; default: the job id (a fresh job gives fresh products).
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    priority: Literal["urgent", "normal", "bulk"] = "normal"
    callback_url: Annotated[HttpUrl, UrlConstraints(max_length=MAX_CALLBACK_URL)] | None = None


def _kind_of(value) -> str:
    """The union's tag: a spec without "kind" is a plain generation job."""
    return value.get("kind", "generate") if isinstance(value, dict) else getattr(value, "kind", "generate")


JobSpec = Annotated[Union[Annotated[GenerateSpec, Tag("generate")], Annotated[CatalogueFillSpec, Tag("catalogue_fill")],
                          Annotated[AdCreativeSpec, Tag("ad_creative")]], Discriminator(_kind_of)]
_adapter = TypeAdapter(JobSpec)


def _describe(err: ValidationError) -> SpecError:
    first = err.errors()[0]
    if first["type"] == "union_tag_invalid":
        return SpecError("kind", f"must be one of {', '.join(KINDS)} (got {json.dumps(first['ctx']['tag'])[:80]})")
    loc = first["loc"][1:] if first["loc"] and first["loc"][0] in KINDS else first["loc"]  # drop the union tag
    field = ".".join(str(p) for p in loc) or "spec"
    value = first.get("input")
    shown = json.dumps(value)[:80] if not isinstance(value, dict) else "{...}"
    return SpecError(field, f"{first['msg']} (got {shown})")


def parse_spec(data: dict | str | bytes) -> GenerateSpec | CatalogueFillSpec | AdCreativeSpec:
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
