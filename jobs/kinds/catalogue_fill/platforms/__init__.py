"""Shop exports read as catalogue units: Shopify, Magento 2 and WooCommerce product CSVs.

``read_export(text, fmt)`` names the format (``auto``: by the header row) and reads the file into
units and the records left out; ``to_catalogue_rows`` turns the units into the generic rows the
catalogue-fill job takes. A generic file is read by ``rows.parse_catalogue``, as before.
``read_catalogue(text, fmt)`` is the one path every catalogue file takes at submit (the CLI and the
HTTP API send the file's text): any format into the job's rows and the records left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from jobs.kinds.catalogue_fill.platforms.common import PlatformFile, PlatformRow, RowNote, as_text
from jobs.kinds.catalogue_fill.platforms.detect import (
    CHOICES,
    FORMATS,
    detect_format,
    resolve_format,
)
from jobs.kinds.catalogue_fill.platforms.magento import read_magento
from jobs.kinds.catalogue_fill.platforms.mapping import (
    Rules,
    category_text,
    compile_rules,
    parse_category_text,
    resolve_category,
    split_path,
    to_catalogue_rows,
)
from jobs.kinds.catalogue_fill.platforms.shopify import read_shopify
from jobs.kinds.catalogue_fill.platforms.woocommerce import placeholder_sku, read_woocommerce
from jobs.kinds.catalogue_fill.rows import CatalogueFileError, parse_catalogue
from jobs.kinds.catalogue_fill.spec import (
    MAX_CATALOGUE_ROWS,
    MAX_LEFT_OUT_ROWS,
    MAX_PLATFORM_ID_CHARS,
    CatalogueRow,
)

READERS: dict[str, Callable[[str], PlatformFile]] = {
    "shopify": read_shopify,
    "magento": read_magento,
    "woocommerce": read_woocommerce,
}

__all__ = [
    "CHOICES",
    "FORMATS",
    "READERS",
    "ReadCatalogue",
    "PlatformFile",
    "PlatformRow",
    "RowNote",
    "Rules",
    "category_text",
    "compile_rules",
    "detect_format",
    "parse_category_text",
    "placeholder_sku",
    "read_catalogue",
    "read_export",
    "read_magento",
    "read_shopify",
    "read_woocommerce",
    "resolve_category",
    "resolve_format",
    "split_path",
    "to_catalogue_rows",
]


def read_export(data: str | bytes, fmt: str = "auto") -> PlatformFile:
    """A platform export read into units; CatalogueFileError for a generic file (read it with
    ``parse_catalogue``), an unknown or ambiguous header, or an unreadable file."""
    text = as_text(data)
    chosen = resolve_format(text, fmt)
    if chosen not in READERS:
        raise CatalogueFileError(f"a {chosen} catalogue is read with parse_catalogue")
    return READERS[chosen](text)


@dataclass(frozen=True)
class ReadCatalogue:
    """A catalogue file as the job takes it: the format read, its rows (in file order, each with
    its line and, from a platform export, the platform's identifier) and the records left out."""

    format: str  # generic | shopify | magento | woocommerce (never auto)
    rows: list[CatalogueRow]
    left_out: list[RowNote] = field(default_factory=list)


def read_catalogue(data: str | bytes, fmt: str = "auto") -> ReadCatalogue:
    """Any catalogue file into the job's rows; CatalogueFileError (naming the line, or the limit)
    for a file that cannot be read or is over a limit."""
    text = as_text(data)
    chosen = resolve_format(text, fmt)
    if chosen == "generic":
        rows, left_out = [_generic_row(r) for r in _counted(parse_catalogue(text))], []
    else:
        read = READERS[chosen](text)
        left_out = read.skipped + read.rejected
        rows = [
            CatalogueRow.model_construct(
                **r, line=u.line, platform_id=u.platform_id[:MAX_PLATFORM_ID_CHARS]
            )
            for u, r in zip(_counted(read.units), to_catalogue_rows(read.units))
        ]
    if len(left_out) > MAX_LEFT_OUT_ROWS:
        raise CatalogueFileError(
            f"{len(left_out)} records left out (variants, children, store-view or rejected "
            f"records) is over the limit of {MAX_LEFT_OUT_ROWS} (MAX_LEFT_OUT_ROWS)"
        )
    if not rows:
        first = f"; the first: {min(left_out, key=lambda n: n.line)}" if left_out else ""
        raise CatalogueFileError(
            f"no rows: the {chosen} file names no product to fill "
            f"({len(left_out)} record(s) left out{first})"
        )
    return ReadCatalogue(chosen, rows, sorted(left_out, key=lambda n: n.line))


def _counted(items: list) -> list:
    if len(items) > MAX_CATALOGUE_ROWS:
        raise CatalogueFileError(
            f"{len(items)} rows (products) is over the limit of {MAX_CATALOGUE_ROWS} per job "
            f"(MAX_CATALOGUE_ROWS): split the file"
        )
    return items


def _generic_row(row: dict) -> CatalogueRow:
    try:
        return CatalogueRow.model_validate(row)
    except ValidationError as err:
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "row"
        raise CatalogueFileError(f"line {row.get('line')}: {name}: {first['msg']}") from None
