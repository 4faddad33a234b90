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

``export_job`` is what the CLI (``assetgen catalogue export``) and the HTTP API
(``GET /v1/jobs/{id}/export``) call: the job's generated rows from SQL (``state.filled_rows``), each
with a public URL (a base URL + the key) or a presigned one, written by ``write_export``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Job, utcnow
from jobs.kinds.catalogue_fill.platforms.woocommerce import placeholder_sku
from jobs.kinds.catalogue_fill.state import filled_rows
from jobs.storage import Store

EXPORT_FORMATS = ("shopify", "magento", "woocommerce", "csv")
HEADERS = {
    "shopify": ("Handle", "Image Src", "Image Position", "Image Alt Text"),
    "magento": (
        "sku",
        "base_image",
        "base_image_label",
        "small_image",
        "small_image_label",
        "thumbnail_image",
        "thumbnail_image_label",
    ),
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
MAX_BASE_URL_CHARS = 2_000
# The import format a job's catalogue format exports to by default (a generic catalogue: csv).
DEFAULT_EXPORT = {"shopify": "shopify", "magento": "magento", "woocommerce": "woocommerce"}


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
        raise ValueError(
            f"no alt text for language {language!r} (known: {', '.join(ALT_TEXTS)}); "
            f"give one with --alt-text"
        )
    return ALT_TEXTS[language]


def write_export(
    fmt: str,
    filled: Iterable[Filled],
    url_for: Callable[[str], str],
    states: Mapping[str, str],
    language: str = "en",
    alt: str | None = None,
) -> ExportFile:
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


# ---------------------------------------------------------------- a job's export


@dataclass(frozen=True)
class JobExport:
    file: ExportFile
    # The presigned URLs' lifetime (None for public URLs under a base URL).
    expires_in: int | None = None
    expires_at: datetime | None = None


def default_format(job: Job) -> str:
    """The import format matching the platform the job's catalogue came from; else csv."""
    return DEFAULT_EXPORT.get((job.spec or {}).get("catalogue_format", ""), "csv")


def check_base_url(base_url: str) -> str:
    """A public http(s) base URL without query or fragment, without its trailing slash; else
    ValueError."""
    parts = urlsplit(base_url)
    if (
        len(base_url) > MAX_BASE_URL_CHARS
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f"base URL {base_url[:80]!r}: expected http(s)://host[/path] (no query or fragment, "
            f"at most {MAX_BASE_URL_CHARS} characters)"
        )
    return base_url.rstrip("/")


def export_job(
    sf: sessionmaker[Session],
    store: Store,
    job: Job,
    fmt: str | None = None,
    *,
    base_url: str | None = None,
    language: str = "en",
    alt: str | None = None,
    presign_seconds: int = 900,
) -> JobExport:
    """The import file of a catalogue-fill job (ValueError for another kind, a bad base URL,
    format or language). URLs: ``base_url`` + the key, else presigned for ``presign_seconds``."""
    if job.kind != "catalogue_fill":
        raise ValueError(f"job {job.id} is a {job.kind} job: only catalogue-fill jobs export")
    rows = filled_rows(sf, job.id)
    filled = [Filled(unit, sku, key) for unit, sku, key, _ in rows]
    states = {sku: state for _, sku, _, state in rows if state is not None}
    if base_url is not None:
        base = check_base_url(base_url)
        out = write_export(
            fmt or default_format(job), filled, lambda k: f"{base}/{k}", states, language, alt
        )
        return JobExport(out)
    expires_at = utcnow() + timedelta(seconds=presign_seconds)
    out = write_export(
        fmt or default_format(job),
        filled,
        lambda k: store.url(k, presign_seconds),
        states,
        language,
        alt,
    )
    return JobExport(out, presign_seconds, expires_at)
