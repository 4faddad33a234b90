"""Magento 2 ``catalog_product`` export (System > Data Transfer > Export, entity Products).

The unit is the product row of the default scope (empty ``store_view_code``), keyed by ``sku``,
which is also the job's SKU. Not units, reported skipped:

- store-view rows (a non-empty ``store_view_code``): overrides of a product's values, not products;
- children of a configurable product (listed in its ``configurable_variations`` as
  ``sku=CHILD,color=Red|sku=...``) shown "Not Visible Individually": the shop shows the parent's
  images for them, so they inherit the parent's need, as Magento does.

``categories`` holds comma-separated paths (``Default Category/Men/Tops/Jackets``). A product has
an image when any of ``base_image``, ``small_image``, ``thumbnail_image`` or ``additional_images``
is set (``no_selection`` is Magento's "none").
"""

from __future__ import annotations

from collections import Counter

from jobs.kinds.catalogue_fill.platforms.common import (
    Notes,
    PlatformFile,
    PlatformRow,
    dict_records,
    segments,
    sku_rejection,
)
from jobs.kinds.catalogue_fill.rows import fold

_IMAGES = ("base_image", "small_image", "thumbnail_image", "additional_images")
_HIDDEN = fold("Not Visible Individually")


def read_magento(text: str) -> PlatformFile:
    notes = Notes()
    rows = list(dict_records(text, notes, "sku"))
    parents = _children(rows)
    units: list[PlatformRow] = []
    first: dict[str, int] = {}
    counts = Counter(parents.values())
    for line, r in rows:
        sku, store_view = r.get("sku", ""), r.get("store_view_code", "").strip()
        if store_view:
            notes.skip(
                line,
                sku,
                f"store-view row ({store_view[:40]}): overrides a product's values, not a product",
            )
            continue
        problem = sku_rejection(sku)
        if problem:
            notes.reject(line, sku, problem)
            continue
        if sku in first:
            notes.reject(line, sku, f"duplicate SKU (first on line {first[sku]})")
            continue
        first[sku] = line
        if sku in parents and fold(r.get("visibility", "")) == _HIDDEN:
            notes.skip(
                line,
                sku,
                f"child of configurable {parents[sku]!r}, not visible "
                f"individually: the shop shows the parent's image",
            )
            continue
        kind = r.get("product_type", "").strip() or "simple"
        note = kind + (f", {counts[sku]} children" if kind == "configurable" else "")
        paths = tuple(
            p for p in (segments(c, "/") for c in r.get("categories", "").split(",")) if p
        )
        units.append(
            PlatformRow(line, sku, sku, paths, r.get("name", "").strip() or None, _image(r), note)
        )
    return notes.file("magento", units)


def _children(rows: list[tuple[int, dict]]) -> dict[str, str]:
    """Child sku -> parent sku, from the configurable products' ``configurable_variations``."""
    parents: dict[str, str] = {}
    for _, r in rows:
        configurable = fold(r.get("product_type", "")) == "configurable"
        if r.get("store_view_code", "").strip() or not configurable:
            continue
        for variation in r.get("configurable_variations", "").split("|"):
            for pair in variation.split(","):
                name, _, value = pair.partition("=")
                if name.strip() == "sku" and value.strip():
                    parents.setdefault(value.strip(), r.get("sku", ""))
    return parents


def _image(r: dict) -> str:
    for column in _IMAGES:
        for value in r.get(column, "").split(","):
            if value.strip() and value.strip() != "no_selection":
                return value.strip()
    return ""
