"""Path-aware category mapping, and units turned into the rows the catalogue-fill job takes.

A mapping rule names a full path (``"Men/Tops/Jackets": "coat"``; ``/`` and ``>`` both separate
segments) or a single segment (``"Jackets": "coat"``). For a category path, the most specific rule
wins: the full path, else the longest suffix (``"Tops/Jackets"``), else a single segment, the one
nearest the leaf. Over several paths (Magento and WooCommerce list several), the most specific
match wins, the first path on a tie. With no rule, the last segment is tried against the model's
class names. Matching ignores case and outer spaces (``fold``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jobs.kinds.catalogue_fill.platforms.common import PlatformRow, cut
from jobs.kinds.catalogue_fill.rows import build_mapping, fold
from jobs.kinds.catalogue_fill.spec import MAX_ROW_FIELD_CHARS, MAX_TITLE_CHARS
from jobs.specs import SpecError

Path = str | Sequence[str]  # "Men/Tops/Jackets", "Clothing > Hoodies" or ("Men", "Tops")
_PATHS_SEP = " | "  # between paths in a category text


@dataclass(frozen=True)
class Rules:
    """A mapping compiled for lookups: folded segments -> (model class, the rule as written)."""

    by_path: dict[tuple[str, ...], tuple[str, str]]
    classes: dict[str, str]  # folded class name -> class name


def split_path(path: Path) -> tuple[str, ...]:
    """A path's segments as written (stripped): split on '>' when it has one, else on '/'."""
    if isinstance(path, str):
        path = path.split(">" if ">" in path else "/")
    return tuple(s.strip() for s in path if s.strip())


def compile_rules(mapping: Mapping[str, str], class_names: Sequence[str]) -> Rules:
    """SpecError for a value that is not a class, or two rules naming the same path."""
    build_mapping(dict(mapping), tuple(class_names))  # values are classes; no two keys fold alike
    by_path: dict[tuple[str, ...], tuple[str, str]] = {}
    for key, value in mapping.items():
        segs = tuple(fold(s) for s in split_path(key))
        if not segs:
            raise SpecError(f"mapping.{key}", "names no category")
        if segs in by_path:
            raise SpecError(
                f"mapping.{key}",
                f"the same path as {by_path[segs][1]!r} (segments "
                f"match ignoring case, outer spaces and separator)",
            )
        by_path[segs] = (value, key)
    return Rules(by_path, {fold(c): c for c in class_names})


def resolve_category(
    paths: Sequence[Path], mapping: Mapping[str, str] | Rules, class_names: Sequence[str] = ()
) -> tuple[str | None, str]:
    """(model class or None, why): the most specific rule, else a last segment that is a class."""
    rules = mapping if isinstance(mapping, Rules) else compile_rules(mapping, class_names)
    split = [p for p in (split_path(p) for p in paths) if p]
    best, found = (0, 0, 0), None
    for segs in split:
        rank, rule = _best_rule(tuple(fold(s) for s in segs), rules)
        if rule is not None and rank > best:
            best, found = rank, (rule, segs)
    if found is not None:
        (model_class, key), segs = found
        kind = {3: "the full path", 2: "a suffix", 1: "a segment"}[best[0]]
        kind = "the last segment" if best[:2] == (2, 1) else kind
        return model_class, f"rule {key!r} ({kind} of {' > '.join(segs)!r})"
    for segs in split:
        if fold(segs[-1]) in rules.classes:
            return rules.classes[fold(segs[-1])], f"last segment {segs[-1]!r} is a model class"
    shown = _PATHS_SEP.join(" > ".join(s) for s in split)[:100] or "(none)"
    return None, f"no mapping rule matches {shown!r} and its last segment is not a model class"


def _best_rule(segs: tuple[str, ...], rules: Rules) -> tuple[tuple[int, int, int], tuple | None]:
    n = len(segs)
    if segs in rules.by_path:
        return (3, n, 0), rules.by_path[segs]
    for k in range(n - 1, 0, -1):
        if segs[-k:] in rules.by_path:
            return (2, k, 0), rules.by_path[segs[-k:]]
    for i in range(n - 2, -1, -1):
        if (segs[i],) in rules.by_path:
            return (1, 1, i), rules.by_path[(segs[i],)]
    return (0, 0, 0), None


def category_text(paths: Sequence[Sequence[str]]) -> str:
    """A unit's categories as one text: segments joined by ' > ', paths by ' | '."""
    return cut(_PATHS_SEP.join(" > ".join(p) for p in paths), MAX_ROW_FIELD_CHARS)


def parse_category_text(text: str) -> list[tuple[str, ...]]:
    """The paths of a ``category_text`` (or of any single path)."""
    return [p for p in (split_path(part) for part in text.split(_PATHS_SEP.strip())) if p]


def to_catalogue_rows(
    units: Sequence[PlatformRow],
    mapping: Mapping[str, str] | None = None,
    class_names: Sequence[str] | None = None,
) -> list[dict]:
    """One generic row per unit, in the units' order: {"sku", "category"[, "title"][, "image"]}.

    With ``class_names`` the category is the model class the mapping resolves, or the unit's
    ``category_text`` when none does (the job then rejects the row: unknown category); without,
    always the ``category_text`` (for a planner that resolves it with ``parse_category_text``).
    A title is cut to the job's title limit; ``image`` names the unit's existing image.
    """
    rules = compile_rules(mapping or {}, class_names) if class_names is not None else None
    rows = []
    for u in units:
        model_class = resolve_category(u.category_paths, rules)[0] if rules else None
        row = {"sku": u.sku, "category": model_class or category_text(u.category_paths)}
        if u.title:
            row["title"] = cut(u.title, MAX_TITLE_CHARS)
        if u.image:
            row["image"] = cut(u.image, MAX_ROW_FIELD_CHARS)
        rows.append(row)
    return rows
