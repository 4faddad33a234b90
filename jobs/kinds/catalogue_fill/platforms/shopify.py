"""Shopify product CSV, as the admin exports it (Products > Export).

The unit is the product (``Handle``), not the variant: Shopify attaches images to products, and a
variant only points at one of its product's images (``Variant Image``); a variant without one shows
the product's first image. The job's SKU is the Handle, so the import file names it back.

Rows sharing a Handle are one product: the product fields (``Title``, ``Type``, ``Product
Category``) come from its first row that has them; variant rows (``Variant SKU``, ``Option1
Value``) and image-only rows (``Image Src`` alone) follow. The category is ``Type``, else
``Product Category`` (a taxonomy path ``Apparel & Accessories > Clothing > Shirts``). A product
has an image when ``Image Src`` or ``Variant Image`` is set on any of its rows. A product whose
Handle is not a valid SKU is rejected once, at its first line.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.kinds.catalogue_fill.platforms.common import (
    Notes,
    PlatformFile,
    PlatformRow,
    dict_records,
    segments,
    sku_rejection,
)

_VARIANT_FIELDS = ("variant sku", "option1 value", "variant price", "variant barcode")


@dataclass
class _Product:
    line: int
    title: str = ""
    type: str = ""
    category: str = ""
    image: str = ""
    variants: int = 0
    image_rows: int = 0


def read_shopify(text: str) -> PlatformFile:
    notes = Notes()
    products: dict[str, _Product] = {}
    for line, r in dict_records(text, notes, "Handle"):
        handle = r.get("handle", "")
        if not handle.strip():
            notes.reject(line, "", "no Handle")
            continue
        p = products.setdefault(handle, _Product(line))
        p.title = p.title or r.get("title", "").strip()
        p.type = p.type or r.get("type", "").strip()
        p.category = p.category or r.get("product category", "").strip()
        image = r.get("image src", "").strip() or r.get("variant image", "").strip()
        p.image = p.image or image
        if any(r.get(c, "").strip() for c in _VARIANT_FIELDS):
            p.variants += 1
        elif image:
            p.image_rows += 1
    units = []
    for handle, p in products.items():
        problem = sku_rejection(handle)
        if problem:
            notes.reject(p.line, handle, problem)
            continue
        path = segments(p.type, ">") if p.type else segments(p.category, ">")
        note = f"product, {p.variants} variant row(s), {p.image_rows} image row(s)"
        units.append(
            PlatformRow(
                p.line, handle, handle, (path,) if path else (), p.title or None, p.image, note
            )
        )
    return notes.file("shopify", units)
