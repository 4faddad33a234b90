"""WooCommerce product CSV, as its exporter writes it (Products > Export).

The unit is a product that is not a variation (``Type`` simple, variable, grouped, external),
named by its ``ID``. A variation is not a unit, reported skipped: without its own image the shop
shows its parent's (``Parent``: ``id:123`` or the parent's SKU), so it inherits the parent's need.

The job's SKU is the product's ``SKU``; a product without one gets ``id-<ID>``, and an own SKU of
that form is refused so the import file can tell the two apart (it writes ``ID`` and the product's
own ``SKU``, blank when it has none). ``Categories`` holds comma-separated ``Clothing > Hoodies``
paths, ``Images`` comma-separated URLs (the first is the product image); ``\\,`` escapes a comma.
"""

from __future__ import annotations

import re

from jobs.kinds.catalogue_fill.platforms.common import (
    Notes,
    PlatformFile,
    PlatformRow,
    dict_records,
    segments,
    sku_rejection,
    split_list,
)

_PLACEHOLDER = re.compile(r"id-[0-9]+")
_FLAGS = ("virtual", "downloadable")  # written into Type beside the product type


def placeholder_sku(product_id: str) -> str:
    """The job's SKU for a product without one of its own."""
    return f"id-{product_id}"


def read_woocommerce(text: str) -> PlatformFile:
    notes = Notes()
    rows = list(dict_records(text, notes, "SKU"))
    units: list[PlatformRow] = []
    first: dict[str, int] = {}
    variations: dict[str, int] = {}
    for line, r in rows:
        pid, own = r.get("id", "").strip(), r.get("sku", "").strip()
        ident = own or (f"id:{pid}" if pid else "")
        kinds = [t.lower() for t in split_list(r.get("type", "")) if t.lower() not in _FLAGS]
        kind = kinds[0] if kinds else "simple"
        if kind == "variation":
            parent = r.get("parent", "").strip() or "?"
            variations[parent] = variations.get(parent, 0) + 1
            own_image = (
                "has its own image"
                if r.get("images", "").strip()
                else ("without its own image it shows its parent's")
            )
            notes.skip(line, ident, f"variation of {parent[:60]!r}: {own_image}")
            continue
        problem = _problem(pid, own)
        if problem:
            notes.reject(line, ident, problem)
            continue
        sku = own or placeholder_sku(pid)
        if sku in first:
            notes.reject(line, ident, f"duplicate SKU (first on line {first[sku]})")
            continue
        first[sku] = line
        paths = tuple(
            p for p in (segments(c, ">") for c in split_list(r.get("categories", ""))) if p
        )
        images = split_list(r.get("images", ""))
        units.append(
            PlatformRow(
                line,
                pid,
                sku,
                paths,
                r.get("name", "").strip() or None,
                images[0] if images else "",
                kind,
            )
        )
    units = [_with_variations(u, variations) for u in units]
    return notes.file("woocommerce", units)


def _problem(pid: str, own: str) -> str | None:
    if not pid:
        return "no ID"
    if not pid.isascii() or not pid.isdigit():
        return f"ID {pid[:20]!r} is not a number"
    if own and _PLACEHOLDER.fullmatch(own):
        return f"SKU {own!r} is reserved for products without a SKU (id-<ID>)"
    return sku_rejection(own) if own else None


def _with_variations(u: PlatformRow, variations: dict[str, int]) -> PlatformRow:
    n = variations.get(f"id:{u.platform_id}", 0) + (variations.get(u.sku, 0) if u.sku else 0)
    if u.kind_note != "variable":
        return u
    return PlatformRow(
        u.line,
        u.platform_id,
        u.sku,
        u.category_paths,
        u.title,
        u.image,
        f"variable, {n} variation(s)",
    )
