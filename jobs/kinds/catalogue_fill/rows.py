"""Catalogue fill: the domain rules, without I/O (the bucket listing is read by the planner).

Reading a catalogue (CSV or JSON lines: ``sku,category[,title][,image]``), the SKU rules, the
category mapping, and the decision per row: rejected (with a reason), skipped (the SKU has an image:
its row names one, or an object exists under ``catalogue/<sku>/``) or generated. SQL state lives in
``jobs.kinds.catalogue_fill.state``; the worker side in ``jobs.kinds.catalogue_fill.render``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.encode import EXTENSIONS
from jobs.kinds.catalogue_fill.spec import MAX_CATALOGUE_BYTES, MAX_TITLE_CHARS, CatalogueRow
from jobs.specs import MAX_SKU_CHARS, SpecError

PREFIX = "catalogue/"
SYNTHETIC_NAME = (
    "synthetic"  # catalogue/<sku>/synthetic.<ext>; any other object there is a real image
)
STATES = ("missing", "synthetic", "real", "rejected")
COLUMNS = ("sku", "category", "title", "image")  # CSV header / JSON keys; sku and category required
MAX_FILE_BYTES = MAX_CATALOGUE_BYTES  # a catalogue file read by the CLI or given in a spec
MAX_MAPPING_BYTES = 8_000_000  # a mapping file read by the CLI
_SKU_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_SKU_CHARS - 1}}}")


class CatalogueFileError(ValueError):
    """A catalogue or mapping file that cannot be read; the message names the line."""


# ---------------------------------------------------------------- SKUs and keys


def sku_problem(sku: str) -> str | None:
    """Why a SKU may not be used in an object key, or None when it is valid."""
    if not sku:
        return "empty"
    if len(sku) > MAX_SKU_CHARS:
        return f"{len(sku)} characters, over the limit of {MAX_SKU_CHARS}"
    if not _SKU_RE.fullmatch(sku):
        return "only A-Z a-z 0-9 . _ - are allowed, starting with a letter or digit"
    return None


def shown(sku: str, limit: int = 60) -> str:
    """A printable form of any SKU for reports: a hostile one escaped and cut."""
    text = sku if sku_problem(sku) is None else ascii(sku)[1:-1]
    return text if len(text) <= limit else text[:limit] + f"...({len(sku)} chars)"


def catalogue_key(sku: str, fmt: str) -> str:
    """The synthetic image's key; only ever called with a valid SKU."""
    assert sku_problem(sku) is None, sku
    return f"{PREFIX}{sku}/{SYNTHETIC_NAME}.{EXTENSIONS[fmt]}"


def bucket_images(keys: list[str]) -> dict[str, dict[str, str]]:
    """A listing of ``catalogue/`` -> {sku: {"real": first other key, "synthetic": synthetic
    key}}."""
    found: dict[str, dict[str, str]] = {}
    for key in keys:
        sku, _, name = key.removeprefix(PREFIX).partition("/")
        if not name or sku_problem(sku):
            continue
        kind = "synthetic" if name.rpartition(".")[0] == SYNTHETIC_NAME else "real"
        found.setdefault(sku, {}).setdefault(kind, key)
    return found


# ---------------------------------------------------------------- reading files


def parse_catalogue(text: str) -> list[dict]:
    """CSV with a header, or JSON lines (the first non-blank character is '{'); rows as dicts,
    each with the ``line`` its record starts on."""
    if len(text) > MAX_FILE_BYTES:
        raise CatalogueFileError(
            f"{len(text)} characters is over the limit of {MAX_FILE_BYTES} (MAX_CATALOGUE_BYTES)"
        )
    return parse_jsonl(text) if text.lstrip().startswith("{") else parse_csv(text)


def parse_csv(text: str) -> list[dict]:
    reader = csv.reader(io.StringIO(text))
    try:
        return _csv_rows(reader)
    except csv.Error as exc:  # an unclosed quote, a field over the csv module's size limit
        raise CatalogueFileError(f"line {reader.line_num}: {exc}") from None


CSV_FIELD_LIMIT = 131_072  # characters in one field of a generic catalogue CSV


def _csv_rows(reader) -> list[dict]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CatalogueFileError(
            "line 1: empty catalogue (expected the header sku,category[,title][,image])"
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or len(set(header)) != len(header) or not {"sku", "category"} <= set(header):
        raise CatalogueFileError(
            f"line 1: the header must name the columns sku,category[,title][,image] "
            f"(each once); got {','.join(header)[:200]}"
        )
    rows = []
    end = reader.line_num
    for fields in reader:
        start, end = end + 1, reader.line_num  # the record's first line (a quoted field may span)
        if not fields:
            continue  # a blank line
        if len(fields) != len(header):
            raise CatalogueFileError(
                f"line {start}: {len(fields)} fields, expected {len(header)} ({','.join(header)})"
            )
        if any(len(f) > CSV_FIELD_LIMIT for f in fields):
            # checked here, not by the csv module: its limit is process-wide, and platform
            # exports (HTML product bodies) raise it
            raise CatalogueFileError(
                f"line {start}: field larger than field limit ({CSV_FIELD_LIMIT})"
            )
        row = {k: v for k, v in zip(header, fields) if k in ("sku", "category") or v.strip()}
        rows.append({**row, "line": start})
    return rows


def parse_jsonl(text: str) -> list[dict]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CatalogueFileError(
                f"line {n}: not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(obj, dict):
            raise CatalogueFileError(f"line {n}: expected a JSON object, got {type(obj).__name__}")
        problem = _jsonl_problem(obj)
        if problem:
            raise CatalogueFileError(f"line {n}: {problem}")
        rows.append({**{k: v for k, v in obj.items() if v is not None}, "line": n})
    return rows


def _jsonl_problem(obj: dict) -> str | None:
    unknown = sorted(set(obj) - set(COLUMNS))
    if unknown:
        return (
            f"unknown field(s) {', '.join(map(repr, unknown))[:200]} "
            f"(allowed: {', '.join(COLUMNS)})"
        )
    for name in ("sku", "category"):
        if name not in obj:
            return f"missing field {name!r}"
    bad = [
        k
        for k, v in obj.items()
        if not isinstance(v, str) and not (v is None and k in ("title", "image"))
    ]
    return f"field(s) {', '.join(map(repr, bad))} must be strings" if bad else None


def parse_mapping(text: str) -> dict[str, str]:
    """A JSON object {"Sneakers": "shoe"}, or CSV lines ``category,class`` (a header line
    optional)."""
    if len(text) > MAX_MAPPING_BYTES:
        raise CatalogueFileError(f"{len(text)} characters is over the limit of {MAX_MAPPING_BYTES}")
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogueFileError(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
        if not all(isinstance(v, str) for v in obj.values()):
            raise CatalogueFileError("line 1: mapping values must be model class names (strings)")
        return obj
    out: dict[str, str] = {}
    reader = csv.reader(io.StringIO(text))
    for fields in reader:
        if not fields or (
            reader.line_num == 1 and [f.strip().lower() for f in fields] == ["category", "class"]
        ):
            continue
        if len(fields) != 2:
            raise CatalogueFileError(
                f"line {reader.line_num}: {len(fields)} fields, expected 2 (category,class)"
            )
        out[fields[0]] = fields[1].strip()
    return out


# ---------------------------------------------------------------- mapping and decisions


def fold(category: str) -> str:
    return category.strip().casefold()


def build_mapping(mapping: dict[str, str], class_names: tuple[str, ...]) -> dict[str, str]:
    """Folded catalogue category -> model class: every class maps to itself, the spec's entries
    added."""
    out = {fold(c): c for c in class_names}
    seen: dict[str, str] = {}
    for key, value in mapping.items():
        if value not in class_names:
            raise SpecError(
                f"mapping.{key}",
                f"{value!r} is not a class of the model (allowed: {', '.join(class_names)})",
            )
        if fold(key) in seen:
            raise SpecError(
                f"mapping.{key}",
                f"the same category as {seen[fold(key)]!r} (matching ignores case "
                f"and outer spaces)",
            )
        seen[fold(key)] = key
        out[fold(key)] = value
    return out


@dataclass(frozen=True)
class RowPlan:
    """The decision for one catalogue row."""

    row: int  # 1-based position in the catalogue
    sku: str  # as given (valid) or its printable form (hostile)
    outcome: str  # "generate" | "skipped" | "rejected"
    reason: str | None = None
    state: str | None = None  # the SKU's new state; None: no valid, first-seen SKU to record it for
    category: str | None = None
    model_class: str | None = None
    title: str | None = None
    key: str | None = None  # generate: the key to write; skipped: the synthetic key that exists
    supersede: bool = False  # a real image arrived for a SKU whose synthetic image exists
    line: int | None = None  # the file's own line where the record starts (a file was read)
    platform_id: str | None = None  # Shopify Handle, Magento sku, WooCommerce ID


# A category -> (model class or None, why none matched); the default is the flat mapping.
Classify = Callable[[str], tuple[str | None, str]]


def flat_classifier(mapping: dict[str, str]) -> Classify:
    """The generic catalogue's rule: the whole category, folded, in the built mapping."""

    def classify(category: str) -> tuple[str | None, str]:
        return mapping.get(fold(category)), "not a model class and not in the mapping"

    return classify


def decide_rows(
    rows: list[CatalogueRow],
    mapping: dict[str, str],
    images: dict[str, dict[str, str]],
    fmt: str,
    classify: Classify | None = None,
) -> list[RowPlan]:
    seen: dict[str, str] = {}
    how = classify or flat_classifier(mapping)
    return [decide_row(n, row, how, images, seen, fmt) for n, row in enumerate(rows, 1)]


def decide_row(
    n: int,
    row: CatalogueRow,
    classify: Classify,
    images: dict[str, dict[str, str]],
    seen: dict[str, str],
    fmt: str,
) -> RowPlan:
    where: dict[str, Any] = {"line": row.line, "platform_id": row.platform_id}
    problem = sku_problem(row.sku)
    if problem:
        return RowPlan(n, shown(row.sku), "rejected", f"invalid SKU: {problem}", **where)
    if row.sku in seen:
        return RowPlan(n, row.sku, "rejected", f"duplicate SKU (first on {seen[row.sku]})", **where)
    seen[row.sku] = f"line {row.line}" if row.line is not None else f"row {n}"
    facts: dict[str, Any] = {
        "category": row.category[:100],
        "title": (row.title or "")[:MAX_TITLE_CHARS] or None,
        **where,
    }
    have = images.get(row.sku, {})
    model_class, unmatched = classify(row.category)
    real = "row names an image" if (row.image or "").strip() else have.get("real")
    if real:
        reason = real if real == "row names an image" else f"real image in the bucket: {real}"
        return RowPlan(
            n,
            row.sku,
            "skipped",
            reason,
            "real",
            model_class=model_class,
            key=have.get("synthetic"),
            supersede="synthetic" in have,
            **facts,
        )
    if row.title and len(row.title) > MAX_TITLE_CHARS:
        return RowPlan(
            n,
            row.sku,
            "rejected",
            f"title is {len(row.title)} characters, over the limit of {MAX_TITLE_CHARS}",
            "rejected",
            **facts,
        )
    if model_class is None:
        return RowPlan(
            n,
            row.sku,
            "rejected",
            f"unknown category {row.category[:60]!r}: {unmatched}",
            "rejected",
            **facts,
        )
    if "synthetic" in have:
        return RowPlan(
            n,
            row.sku,
            "skipped",
            f"synthetic image exists: {have['synthetic']}",
            "synthetic",
            model_class=model_class,
            key=have["synthetic"],
            **facts,
        )
    return RowPlan(
        n,
        row.sku,
        "generate",
        None,
        "missing",
        model_class=model_class,
        key=catalogue_key(row.sku, fmt),
        **facts,
    )
