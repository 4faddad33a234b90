"""What every platform reader shares: the unit shape, the report of left-out records, CSV reading.

A reader turns a shop export into units (``PlatformRow``: the things the platform attaches images
to) and notes (``RowNote``: each record skipped or rejected, with the file's own line number -- the
physical line where the record starts -- the platform's identifier and the reason).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from jobs.kinds.catalogue_fill.rows import CatalogueFileError, fold, shown, sku_problem

_FIELD_LIMIT = 16 * 1024 * 1024  # an HTML body may exceed the csv module's default of 128 KiB


@dataclass(frozen=True)
class PlatformRow:
    """One unit the platform attaches images to, in a shape common to all platforms."""

    line: int  # the physical line where the unit's first record starts
    platform_id: str  # Shopify Handle, Magento sku, WooCommerce ID
    sku: str  # the job's SKU: the folder of catalogue/<sku>/ (valid per sku_problem)
    category_paths: tuple[tuple[str, ...], ...]  # each category as its segments, root first
    title: str | None
    image: str  # the first image the export names for the unit; "" when it has none
    kind_note: str  # what the unit is: "product, 3 variants", "configurable, 4 children"

    @property
    def has_image(self) -> bool:
        return bool(self.image)


@dataclass(frozen=True)
class RowNote:
    """A record that is not a unit: skipped (by the platform's rules) or rejected (unusable)."""

    line: int
    platform_id: str  # printable (shown()) form
    outcome: str  # "skipped" | "rejected"
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.platform_id or '(no identifier)'}: {self.reason}"


@dataclass(frozen=True)
class PlatformFile:
    """A read export: its format, its units in file order, and the records left out."""

    format: str
    units: list[PlatformRow] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)
    rejected: list[RowNote] = field(default_factory=list)


class Notes:
    """Collects skipped and rejected records."""

    def __init__(self) -> None:
        self.skipped: list[RowNote] = []
        self.rejected: list[RowNote] = []

    def skip(self, line: int, ident: str, reason: str) -> None:
        self.skipped.append(RowNote(line, shown(ident), "skipped", reason))

    def reject(self, line: int, ident: str, reason: str) -> None:
        self.rejected.append(RowNote(line, shown(ident), "rejected", reason))

    def file(self, fmt: str, units: list[PlatformRow]) -> PlatformFile:
        """The read file; units and notes each in line order."""

        def by_line(x):
            return x.line

        return PlatformFile(
            fmt,
            sorted(units, key=by_line),
            sorted(self.skipped, key=by_line),
            sorted(self.rejected, key=by_line),
        )


def as_text(data: str | bytes) -> str:
    """The file's text: bytes decoded as UTF-8; a leading byte order mark dropped."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CatalogueFileError(f"not UTF-8 text (byte {exc.start})") from None
    return data.removeprefix("\ufeff")


def read_header(text: str) -> list[str]:
    """The first record's fields, as written (outer spaces removed)."""
    for _, fields in records(text):
        return [f.strip() for f in fields]
    raise CatalogueFileError("line 1: empty file (no header)")


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) per CSV record; blank lines are not records."""
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    reader = csv.reader(io.StringIO(as_text(text), newline=""), strict=True)
    end = 0
    try:
        for fields in reader:
            start, end = end + 1, reader.line_num
            if fields:
                yield start, fields
    except csv.Error as exc:  # an unclosed quote, text after a closing quote
        raise CatalogueFileError(f"line {end + 1}: {exc} (the record starting there)") from None


def dict_records(text: str, notes: Notes, ident_column: str) -> Iterator[tuple[int, dict]]:
    """(line, {folded column: value}) per data record; a record with the wrong number of fields
    is rejected (named by its ``ident_column`` value when it has one)."""
    it = records(text)
    _, header = next(it, (1, []))
    names = [fold(h) for h in header]
    width, at = len(names), names.index(fold(ident_column)) if fold(ident_column) in names else 0
    for line, fields in it:
        if len(fields) != width:
            ident = fields[at] if at < len(fields) else ""
            notes.reject(line, ident, f"{len(fields)} fields, expected {width} (as the header)")
            continue
        yield line, dict(zip(names, fields))


def sku_rejection(sku: str) -> str | None:
    """The reason a platform identifier cannot be the job's SKU, as the job words it."""
    problem = sku_problem(sku)
    return f"invalid SKU: {problem}" if problem else None


def split_list(value: str, sep: str = ",") -> list[str]:
    """A separated list, ``\\,`` an escaped separator (as WooCommerce writes it); items stripped."""
    out, part, escaped = [], [], False
    for ch in value:
        if escaped:
            part.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            out.append("".join(part).strip())
            part = []
        else:
            part.append(ch)
    out.append("".join(part).strip())
    return [p for p in out if p]


def segments(path: str, sep: str) -> tuple[str, ...]:
    """A category path's segments, root first; empty segments dropped."""
    return tuple(s.strip() for s in path.split(sep) if s.strip())


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]
