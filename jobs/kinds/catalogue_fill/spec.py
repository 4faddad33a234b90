"""The spec of a catalogue-fill job (jobs.kinds.catalogue_fill.rows has the row rules)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from jobs.settings import Priority
from jobs.specs import COLOUR_PATTERN, CallbackUrl, Candidates, Format, Upscale

MAX_CATALOGUE_ROWS = 50_000  # rows (SKUs; a platform export's products) per catalogue-fill job
# Records of a platform export that are not rows (variations, children, store-view rows, rejected
# records): each is reported in the job's row outcomes.
MAX_LEFT_OUT_ROWS = 200_000
# The catalogue file's text in a spec (``catalogue``) and a catalogue file the CLI reads: a
# 50,000-product export without long HTML bodies fits (jobs.specs.MAX_SPEC_BYTES is above it).
MAX_CATALOGUE_BYTES = 40_000_000
MAX_PLATFORM_ID_CHARS = 100  # a platform identifier as a row outcome records it (cut)
# How a catalogue file is read: auto (by its header row), or named (jobs.kinds.catalogue_fill.
# platforms.detect.CHOICES lists the same).
CatalogueFormat = Literal["auto", "generic", "shopify", "magento", "woocommerce"]
# hard cap on any row field; longer SKUs/titles below it are rejected per row
MAX_ROW_FIELD_CHARS = 4_096
MAX_TITLE_CHARS = 200  # a row with a longer title is rejected (per row)
MAX_MAPPING_ENTRIES = 1_000  # catalogue category -> model class entries
MAX_CATEGORY_CHARS = 100  # a mapping key or value
CATALOGUE_SIZE_MIN, CATALOGUE_SIZE_MAX = 64, 2_048  # square output tile, pixels per side
MAX_SKUS_PER_ITEM = 1_024


def _background(value: str) -> str:
    if value != "sample" and not re.match(COLOUR_PATTERN, value):
        raise ValueError("must be 'sample' (the sample's own border colour) or a colour #RRGGBB")
    return value


_Category = Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY_CHARS)]


class CatalogueRow(BaseModel):
    """One catalogue line.

    Its problems (a hostile SKU, an unknown category) reject the row, not the job.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(max_length=MAX_ROW_FIELD_CHARS)
    # the catalogue's own name, mapped to a model class
    category: str = Field(max_length=MAX_ROW_FIELD_CHARS)
    title: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)
    # Names the SKU's real image (a URL or path, never fetched): a row with one is not generated.
    image: str | None = Field(None, max_length=MAX_ROW_FIELD_CHARS)
    # Where the row is in its file (the physical line its record starts on), and the platform's
    # identifier of the unit (Shopify Handle, Magento sku, WooCommerce ID): both reported per row.
    line: int | None = Field(None, ge=1, le=2**31 - 1)  # an INTEGER column
    platform_id: str | None = Field(None, max_length=MAX_PLATFORM_ID_CHARS)


class CatalogueFillSpec(BaseModel):
    """A synthetic image at catalogue/<sku>/synthetic.<ext> for every row's SKU without one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["catalogue_fill"]
    model: str = Field("default", min_length=1, max_length=200)
    # Either the rows, or the catalogue file's text (a generic CSV / JSON lines file, or a Shopify,
    # Magento 2 or WooCommerce product export), read at submit by the planner. Both are stored per
    # row in SQL at submit (table catalogue_rows), never echoed in the job's spec column.
    rows: list[CatalogueRow] | None = Field(None, min_length=1, max_length=MAX_CATALOGUE_ROWS)
    catalogue: str | None = Field(None, min_length=1, max_length=MAX_CATALOGUE_BYTES)
    # How ``catalogue`` is read (auto: by its header row; the job records the format chosen). With
    # ``rows``: a platform format reads each row's category as a path ("Men > Tops"), so that the
    # path-aware mapping applies; auto means generic.
    catalogue_format: CatalogueFormat = "auto"
    # Catalogue category -> model class ("Sneakers" -> "shoe"), matched ignoring case and outer
    # spaces; a category that is itself a model class needs no entry. For a platform export, a key
    # may name a category path or one segment ("Men/Tops/Jackets", "Jackets"): the most specific
    # rule wins, else the last segment is tried against the model's classes.
    mapping: dict[_Category, _Category] = Field(
        default_factory=dict, max_length=MAX_MAPPING_ENTRIES
    )
    size: int = Field(800, ge=CATALOGUE_SIZE_MIN, le=CATALOGUE_SIZE_MAX)  # square tile side, pixels
    # The tile's field: "sample" (the sample's own border colour, the product on one plain field) or
    # "#RRGGBB" (the product cut out of its background, jobs.layout.product, onto that colour:
    # "#FFFFFF" for marketplaces that want white).
    background: Annotated[str, Field(max_length=7), AfterValidator(_background)] = "sample"
    # K: samples per SKU, best kept
    candidates: Candidates = 4
    format: Format = "jpeg"
    # The worker's x4 upscaler before the final resize, for the chosen candidate only: auto where
    # the tile's inner square is more than 2x the sample's native size, off (Lanczos only), x4.
    upscale: Upscale = "auto"
    # When a real image has arrived for a SKU, delete its synthetic object (else it is only marked
    # superseded).
    delete_superseded: bool = False
    # SKUs per work item (parallelism and retry)
    skus_per_item: int = Field(64, ge=1, le=MAX_SKUS_PER_ITEM)
    priority: Priority = "normal"
    callback_url: CallbackUrl | None = None

    @model_validator(mode="after")
    def _rows_or_catalogue(self) -> CatalogueFillSpec:
        if (self.rows is None) == (self.catalogue is None):
            raise ValueError("give either rows or catalogue (the file's text), not both or neither")
        return self
