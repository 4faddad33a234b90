"""The spec of a catalogue-fill job (jobs.kinds.catalogue_fill.rows has the row rules)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.settings import Priority
from jobs.specs import CallbackUrl, Format

MAX_CATALOGUE_ROWS = 10_000  # rows (SKUs) per catalogue-fill job
# hard cap on any row field; longer SKUs/titles below it are rejected per row
MAX_ROW_FIELD_CHARS = 4_096
MAX_TITLE_CHARS = 200  # a row with a longer title is rejected (per row)
MAX_MAPPING_ENTRIES = 1_000  # catalogue category -> model class entries
MAX_CATEGORY_CHARS = 100  # a mapping key or value
CATALOGUE_SIZE_MIN, CATALOGUE_SIZE_MAX = 64, 2_048  # square output tile, pixels per side
CANDIDATES_MIN, CANDIDATES_MAX = 1, 16  # generator candidates per SKU (the best is kept)
MAX_SKUS_PER_ITEM = 1_024

_Category = Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY_CHARS)]


class CatalogueRow(BaseModel):
    """One catalogue line. Its problems (a hostile SKU, an unknown category) reject the row, not the job."""  # noqa: E501 (the OpenAPI description)

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(max_length=MAX_ROW_FIELD_CHARS)
    # the catalogue's own name, mapped to a model class
    category: str = Field(max_length=MAX_ROW_FIELD_CHARS)
    title: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)
    # Names the SKU's real image (a URL or path, never fetched): a row with one is not generated.
    image: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)


class CatalogueFillSpec(BaseModel):
    """A synthetic image at catalogue/<sku>/synthetic.<ext> for every row's SKU that has no image."""  # noqa: E501 (the OpenAPI description)

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["catalogue_fill"]
    model: str = Field("default", min_length=1, max_length=200)
    # Stored per row in SQL at submit (table catalogue_rows), never echoed in the job's spec column.
    rows: list[CatalogueRow] = Field(min_length=1, max_length=MAX_CATALOGUE_ROWS)
    # Catalogue category -> model class ("Sneakers" -> "sneaker"), matched ignoring case and outer
    # spaces; a category that is itself a model class needs no entry.
    mapping: dict[_Category, _Category] = Field(default_factory=dict,
                                                max_length=MAX_MAPPING_ENTRIES)
    size: int = Field(800, ge=CATALOGUE_SIZE_MIN, le=CATALOGUE_SIZE_MAX)  # square tile side, pixels
    # K: samples per SKU, best kept
    candidates: int = Field(4, ge=CANDIDATES_MIN, le=CANDIDATES_MAX)
    format: Format = "jpeg"
    # When a real image has arrived for a SKU, delete its synthetic object (else it is only marked
    # superseded).
    delete_superseded: bool = False
    # SKUs per work item (parallelism and retry)
    skus_per_item: int = Field(64, ge=1, le=MAX_SKUS_PER_ITEM)
    priority: Priority = "normal"
    callback_url: CallbackUrl | None = None
