"""Planning a catalogue-fill job: decide every row against the bucket, then one unit per SKU to
generate.

A catalogue file given as text (``catalogue``) is read here, at submit, by the one reader every
file takes (``platforms.read_catalogue``): the CLI and the HTTP API share it. The records it leaves
out (variants, children, store-view rows, rejected records) join the row outcomes in file order.
The bucket is read with one listing of ``catalogue/`` (the SKUs that already have an object), and
row outcomes and SKU states are written in the job's transaction (``Plan.extra``), set-based.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace

from sqlalchemy.orm import Session

from jobs.db.tables import Job
from jobs.kinds.catalogue_fill.platforms import (
    ReadCatalogue,
    RowNote,
    compile_rules,
    parse_category_text,
    read_catalogue,
    resolve_category,
)
from jobs.kinds.catalogue_fill.render import tile_enlargement
from jobs.kinds.catalogue_fill.rows import (
    PREFIX,
    CatalogueFileError,
    Classify,
    RowPlan,
    bucket_images,
    build_mapping,
    decide_rows,
    flat_classifier,
    sku_problem,
)
from jobs.kinds.catalogue_fill.spec import CatalogueFillSpec
from jobs.kinds.catalogue_fill.state import record_rows
from jobs.kinds.planning import Plan, upscale_passes
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings
from jobs.specs import SpecError
from jobs.storage import Store, create_store

log = logging.getLogger(__name__)


def plan_catalogue_fill(spec: CatalogueFillSpec, model: ResolvedModel, settings: Settings) -> Plan:
    """Items of skus_per_item SKUs, each SKU K samples; a job with nothing to generate gets one
    empty item (its worker writes the manifest that reports every row)."""
    read = catalogue_of(spec)
    mapping = build_mapping(spec.mapping, model.class_names)
    classify = classifier(read.format, spec.mapping, mapping, model.class_names)
    store = create_store(settings)
    images = bucket_images(store.list(PREFIX))
    plans = decide_rows(read.rows, mapping, images, spec.format, classify)
    todo = [p for p in plans if p.outcome == "generate"]
    outcomes = with_left_out(plans, read.left_out)
    size, k = spec.skus_per_item, spec.candidates
    passes = upscale_passes(spec.upscale, tile_enlargement(spec.size, model.image_size), model)
    items = [
        {
            "start": at,
            "samples": len(todo[at : at + size]) * k,
            "skus": [
                [p.sku, model.class_names.index(p.model_class), p.model_class]
                for p in todo[at : at + size]
            ],
            "upscale": passes,
        }
        for at in range(0, len(todo), size)
    ] or [{"start": 0, "samples": 0, "skus": [], "upscale": 0}]

    def extra(s: Session, job: Job) -> None:
        deleted = delete_superseded(store, plans) if spec.delete_superseded else set()
        record_rows(s, job.id, outcomes, deleted)
        if job.spec.get("catalogue_format") != read.format:  # the format auto chose
            job.spec = {**job.spec, "catalogue_format": read.format}

    return Plan(items, len(todo), extra)


def catalogue_of(spec: CatalogueFillSpec) -> ReadCatalogue:
    """The spec's rows, or its catalogue file read (SpecError naming the line or the limit)."""
    if spec.catalogue is None:
        fmt = "generic" if spec.catalogue_format == "auto" else spec.catalogue_format
        return ReadCatalogue(fmt, list(spec.rows or []))
    try:
        return read_catalogue(spec.catalogue, spec.catalogue_format)
    except CatalogueFileError as exc:
        raise SpecError("catalogue", str(exc)) from None


def classifier(
    fmt: str, rules: dict[str, str], mapping: dict[str, str], class_names: tuple[str, ...]
) -> Classify:
    """Generic rows: the flat mapping, as always. Platform rows: their categories are paths
    (``A > B | C > D``) and the path-aware rules apply (the most specific wins)."""
    if fmt == "generic":
        return flat_classifier(mapping)
    compiled = compile_rules(rules, class_names)

    # a catalogue repeats a few category paths over thousands of products: decide each once
    @functools.lru_cache(maxsize=4096)
    def classify(category: str) -> tuple[str | None, str]:
        found, why = resolve_category(parse_category_text(category), compiled)
        return (
            found,
            why if found else "no mapping rule matches it and its last segment is not a class",
        )

    return classify


def with_left_out(plans: list[RowPlan], left_out: list[RowNote]) -> list[RowPlan]:
    """The row outcomes: the rows' plans and the records left out, in file order, numbered."""
    if not left_out:
        return plans
    notes = [
        RowPlan(0, n.platform_id[:100], n.outcome, n.reason, line=n.line, platform_id=n.platform_id)
        for n in left_out
    ]
    merged = sorted(plans + notes, key=lambda p: p.line or 0)
    return [replace(p, row=n) for n, p in enumerate(merged, 1)]


def delete_superseded(store: Store, plans: list[RowPlan]) -> set[str]:
    """Delete the synthetic objects of SKUs whose real image arrived; only objects marked
    synthetic=true."""
    deleted = set()
    for p in plans:
        if (
            not p.supersede
            or p.key is None
            or sku_problem(p.sku)
            or not p.key.startswith(f"{PREFIX}{p.sku}/")
        ):
            continue
        meta = store.head(p.key)
        if meta is not None and meta.get("synthetic") == "true":
            store.delete(p.key)
            deleted.add(p.key)
        elif meta is not None:
            log.warning("not deleting %s: it is not marked synthetic", p.key)
    return deleted
