"""Import files that attach a catalogue-fill job's synthetic images, for the platform's importer.

- Shopify (Products > Import, "overwrite products with matching handles"): ``Handle, Image Src,
  Image Position, Image Alt Text``; one row per product, the image at position 1.
- Magento 2 (System > Data Transfer > Import, Products, Add/Update): ``sku``, ``base_image``,
  ``small_image``, ``thumbnail_image`` (the same URL) and their ``_label`` columns.
- WooCommerce (Products > Import, "update existing products"): ``ID`` (the match), ``SKU`` (the
  product's own, blank when it has none, so it is left as it is) and ``Images``.
- ``csv``: ``sku, key, url``.

The writers are pure: given the filled units, a URL per object key and the SKUs' catalogue states,
they write the text. A SKU is written only in state ``synthetic`` (``catalogue_skus``, as the
latest job that read it left it): one in state ``real`` had its synthetic image superseded by a
real photo and is never exported; any other state has no synthetic image to point at. The alt
text / label says the image is synthetic, in the language chosen (``ALT_TEXTS``) or as given.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from jobs.kinds.catalogue_fill.platforms.woocommerce import placeholder_sku

EXPORT_FORMATS = ("shopify", "magento", "woocommerce", "csv")
HEADERS = {
    "shopify": ("Handle", "Image Src", "Image Position", "Image Alt Text"),
    "magento": ("sku", "base_image", "base_image_label", "small_image", "small_image_label",
                "thumbnail_image", "thumbnail_image_label"),
    "woocommerce": ("ID", "SKU", "Images"),
    "csv": ("sku", "key", "url"),
}
ALT_TEXTS = {
    "en": "Synthetic product image (generated, not a photograph)",
    "de": "Synthetisches Produktbild (generiert, kein Foto)",
    "fr": "Image de produit synthétique (générée, pas une photo)",
    "es": "Imagen de producto sintética (generada, no es una fotografía)",
}
MAX_ALT_CHARS = 512  # Shopify's alt text limit


class Filled(NamedTuple):
    """A generated row: the platform's unit, the job's SKU and the synthetic object's key."""

    unit: str  # Shopify Handle, Magento sku, WooCommerce ID
    sku: str
    key: str


@dataclass(frozen=True)
class ExportFile:
    format: str
    text: str  # UTF-8 CSV, the header first
    rows: int
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (sku, why)


def alt_text(language: str = "en", override: str | None = None) -> str:
    """The label of a synthetic image; ValueError for a language without one (give ``override``)."""
    if override is not None and override.strip():
        return " ".join(override.split())[:MAX_ALT_CHARS]
    if language not in ALT_TEXTS:
        raise ValueError(f"no alt text for language {language!r} (known: {', '.join(ALT_TEXTS)}); "
                         f"give one with --alt-text")
    return ALT_TEXTS[language]


def write_export(fmt: str, filled: Iterable[Filled], url_for: Callable[[str], str],
                 states: Mapping[str, str], language: str = "en",
                 alt: str | None = None) -> ExportFile:
    """The import file for ``fmt``: one row per filled unit whose SKU is in state synthetic."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (allowed: {', '.join(EXPORT_FORMATS)})")
    label = alt_text(language, alt)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS[fmt])
    seen: set[str] = set()
    left_out, rows = [], 0
    for f in filled:
        why = _left_out(f, states, seen)
        if why:
            left_out.append((f.sku, why))
            continue
        seen.add(f.unit)
        writer.writerow(_row(fmt, f, url_for(f.key), label))
        rows += 1
    return ExportFile(fmt, out.getvalue(), rows, left_out)


def _left_out(f: Filled, states: Mapping[str, str], seen: set[str]) -> str | None:
    state = states.get(f.sku)
    if state == "real":
        return "superseded: a real image arrived"
    if state != "synthetic":
        return f"no synthetic image (state {state or 'unknown'})"
    if f.unit in seen:
        return "this unit is already in the file"
    return None


def _row(fmt: str, f: Filled, url: str, label: str) -> tuple[str, ...]:
    if fmt == "shopify":
        return f.unit, url, "1", label
    if fmt == "magento":
        return f.unit, url, label, url, label, url, label
    if fmt == "woocommerce":
        return f.unit, "" if f.sku == placeholder_sku(f.unit) else f.sku, url
    return f.sku, f.key, url
