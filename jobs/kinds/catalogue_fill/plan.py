"""Planning a catalogue-fill job: decide every row against the bucket, then one unit per SKU to generate.

The bucket is read with one listing of ``catalogue/`` (the SKUs that already have an object), and
row outcomes and SKU states are written in the job's transaction (``Plan.extra``), set-based.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from jobs.db.tables import Job
from jobs.kinds.catalogue_fill.rows import (PREFIX, RowPlan, bucket_images, build_mapping, decide_rows,
                                            sku_problem)
from jobs.kinds.catalogue_fill.spec import CatalogueFillSpec
from jobs.kinds.catalogue_fill.state import record_rows
from jobs.kinds.planning import Plan
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings
from jobs.storage import Store, create_store

log = logging.getLogger(__name__)


def plan_catalogue_fill(spec: CatalogueFillSpec, model: ResolvedModel, settings: Settings) -> Plan:
    """Items of skus_per_item SKUs, each SKU K samples; a job with nothing to generate gets one empty item
    (its worker writes the manifest that reports every row)."""
    mapping = build_mapping(spec.mapping, model.class_names)
    store = create_store(settings)
    plans = decide_rows(spec.rows, mapping, bucket_images(store.list(PREFIX)), spec.format)
    todo = [p for p in plans if p.outcome == "generate"]
    size, k = spec.skus_per_item, spec.candidates
    items = [{"start": at, "samples": len(todo[at:at + size]) * k,
              "skus": [[p.sku, model.class_names.index(p.model_class), p.model_class] for p in todo[at:at + size]]}
             for at in range(0, len(todo), size)] or [{"start": 0, "samples": 0, "skus": []}]

    def extra(s: Session, job: Job) -> None:
        deleted = delete_superseded(store, plans) if spec.delete_superseded else set()
        record_rows(s, job.id, plans, deleted)

    return Plan(items, len(todo), extra)


def delete_superseded(store: Store, plans: list[RowPlan]) -> set[str]:
    """Delete the synthetic objects of SKUs whose real image arrived; only objects marked synthetic=true."""
    deleted = set()
    for p in plans:
        if not p.supersede or p.key is None or sku_problem(p.sku) \
                or not p.key.startswith(f"{PREFIX}{p.sku}/"):
            continue
        meta = store.head(p.key)
        if meta is not None and meta.get("synthetic") == "true":
            store.delete(p.key)
            deleted.add(p.key)
        elif meta is not None:
            log.warning("not deleting %s: it is not marked synthetic", p.key)
    return deleted
