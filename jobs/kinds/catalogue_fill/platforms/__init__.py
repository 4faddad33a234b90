"""Shop exports read as catalogue units: Shopify, Magento 2 and WooCommerce product CSVs.

``read_export(text, fmt)`` names the format (``auto``: by the header row) and reads the file into
units and the records left out; ``to_catalogue_rows`` turns the units into the generic rows the
catalogue-fill job takes. A generic file is read by ``rows.parse_catalogue``, as before.
"""
from __future__ import annotations

from collections.abc import Callable

from jobs.kinds.catalogue_fill.platforms.common import PlatformFile, PlatformRow, RowNote, as_text
from jobs.kinds.catalogue_fill.platforms.detect import (CHOICES, FORMATS, detect_format,
                                                        resolve_format)
from jobs.kinds.catalogue_fill.platforms.magento import read_magento
from jobs.kinds.catalogue_fill.platforms.mapping import (Rules, category_text, compile_rules,
                                                         parse_category_text, resolve_category,
                                                         split_path, to_catalogue_rows)
from jobs.kinds.catalogue_fill.platforms.shopify import read_shopify
from jobs.kinds.catalogue_fill.platforms.woocommerce import placeholder_sku, read_woocommerce
from jobs.kinds.catalogue_fill.rows import CatalogueFileError

READERS: dict[str, Callable[[str], PlatformFile]] = {
    "shopify": read_shopify, "magento": read_magento, "woocommerce": read_woocommerce}

__all__ = ["CHOICES", "FORMATS", "READERS", "PlatformFile", "PlatformRow", "RowNote", "Rules",
           "category_text", "compile_rules", "detect_format", "parse_category_text",
           "placeholder_sku", "read_export", "read_magento", "read_shopify", "read_woocommerce",
           "resolve_category", "resolve_format", "split_path", "to_catalogue_rows"]


def read_export(data: str | bytes, fmt: str = "auto") -> PlatformFile:
    """A platform export read into units; CatalogueFileError for a generic file (read it with
    ``parse_catalogue``), an unknown or ambiguous header, or an unreadable file."""
    text = as_text(data)
    chosen = resolve_format(text, fmt)
    if chosen not in READERS:
        raise CatalogueFileError(f"a {chosen} catalogue is read with parse_catalogue")
    return READERS[chosen](text)
