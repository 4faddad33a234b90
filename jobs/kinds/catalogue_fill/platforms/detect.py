"""Which export a header row belongs to: generic, Shopify, Magento 2 or WooCommerce.

Column names are compared ignoring case and outer spaces. A header that matches no signature, or
more than one, is refused with the columns it has.
"""

from __future__ import annotations

from jobs.kinds.catalogue_fill.platforms.common import read_header
from jobs.kinds.catalogue_fill.rows import COLUMNS, CatalogueFileError, fold

FORMATS = ("generic", "shopify", "magento", "woocommerce")
CHOICES = ("auto", *FORMATS)  # --catalogue-format

# Every column of "all", and at least one of "any".
_SIGNATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "shopify": {"all": ("Handle",), "any": ("Variant SKU", "Image Src", "Body (HTML)")},
    "magento": {"all": ("sku", "product_type"), "any": ("store_view_code", "attribute_set_code")},
    "woocommerce": {
        "all": ("ID", "Type", "SKU", "Name"),
        "any": ("Images", "Parent", "Categories"),
    },
}


def detect_format(header: list[str]) -> str:
    """The format whose signature the header matches; CatalogueFileError when none or several do."""
    names = {fold(h) for h in header}
    found = [
        fmt
        for fmt, sig in _SIGNATURES.items()
        if all(fold(c) in names for c in sig["all"]) and any(fold(c) in names for c in sig["any"])
    ]
    if _is_generic(header):
        found.append("generic")
    if len(found) == 1:
        return found[0]
    seen = ",".join(h.strip() for h in header)
    seen = seen if len(seen) <= 300 else seen[:300] + "..."
    if found:
        raise CatalogueFileError(
            f"line 1: ambiguous header: it could be {' or '.join(found)} "
            f"(name it with --catalogue-format); columns seen: {seen}"
        )
    raise CatalogueFileError(
        f"line 1: unknown header: not a generic "
        f"(sku,category[,title][,image]), Shopify, Magento 2 or WooCommerce "
        f"product export; columns seen: {seen}"
    )


def _is_generic(header: list[str]) -> bool:
    names = [fold(h) for h in header]
    return set(names) <= set(COLUMNS) and {"sku", "category"} <= set(names)


def resolve_format(text: str, fmt: str = "auto") -> str:
    """``fmt`` itself, or for ``auto`` the format the header row names (JSON lines: generic)."""
    if fmt not in CHOICES:
        raise CatalogueFileError(
            f"unknown catalogue format {fmt!r} (allowed: {', '.join(CHOICES)})"
        )
    if fmt != "auto":
        return fmt
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        return "generic"  # JSON lines
    return detect_format(read_header(text))
