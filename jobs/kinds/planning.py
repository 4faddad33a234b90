"""Planning: how a validated spec becomes work items (each kind's planner builds on these).

A plan is computed at submit time, before anything is written: a spec the model cannot serve (an
unknown category, too many items) is rejected with the field named. Every item's params carry
``samples``, the generator samples it needs (coalescing packs items by it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.db.tables import CatalogueSku, Job
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings
from jobs.specs import SpecError

if TYPE_CHECKING:  # base builds on Plan; plan_job only reads a JobKind's fields
    from jobs.kinds.base import JobKind


@dataclass
class Plan:
    items: list[dict]  # WorkItem params, in order
    total_images: int  # objects the job delivers (its progress counts them)
    # Kind-specific rows written in the job's transaction, after the job and its items are flushed.
    extra: Callable[[Session, Job], None] | None = field(default=None)


def label_of(model: ResolvedModel, category: str, field_name: str = "category") -> int:
    if category not in model.class_names:
        raise SpecError(
            field_name,
            f"{category!r} is not a class of model "
            f"{model.name}@{model.version} "
            f"(allowed: {', '.join(model.class_names)})",
        )
    return model.class_names.index(category)


# The upscale stage (jobs.pipeline.upscale): x4 passes of the job's upscaler before the final
# resize. Auto runs one where the product is drawn more than AUTO_ABOVE times the sample's native
# size: one pass costs about as much as sampling the four catalogue candidates, so auto keeps
# more than half the catalogue throughput (README, "Upscaling in the worker"). x4 runs as many as
# the target needs: a second pass where one would still leave more than AUTO_ABOVE to the final
# resize (the 32 px model's 800 px tiles and square ads: sharper, about 5x the cost of a tile).
UPSCALE_FACTOR = 4
AUTO_ABOVE = 2.0


def upscale_passes(mode: str, enlargement: float, model: ResolvedModel) -> int:
    """x4 passes for a product drawn ``enlargement`` times the sample's native size: 0 for off
    (and auto at most AUTO_ABOVE, or without an upscaler); auto 1; x4 1, or 2 where the target
    needs it. x4 without an upscaler is refused (field ``upscale``)."""
    if mode == "off" or (mode == "auto" and enlargement <= AUTO_ABOVE):
        return 0
    if model.upscaler is None:
        if mode == "auto":
            return 0
        raise SpecError(
            "upscale",
            f"x4 needs an upscaler: model {model.name}@{model.version} has none beside it and "
            f"there is no default upscaler (ASSETGEN_DEFAULT_UPSCALER)",
        )
    if mode == "auto" or enlargement / UPSCALE_FACTOR <= AUTO_ABOVE:
        return 1
    return 2


def category_of(session: Session, sku: str) -> str | None:
    """The model class of a known SKU (from the latest catalogue that listed it), or None.

    Only valid SKUs are ever recorded (catalogue fill rejects the others), so any other string
    finds nothing."""
    return session.scalar(select(CatalogueSku.model_class).where(CatalogueSku.sku == sku))


def plan_job(kind: JobKind, spec: Any, model: ResolvedModel, settings: Settings) -> Plan:
    """The kind's plan, within the work-items limit of a job."""
    plan = kind.plan(spec, model, settings)
    if len(plan.items) > settings.max_items_per_job:
        field_name = kind.per_item_field or "spec"
        hint = f": raise {kind.per_item_field}" if kind.per_item_field else ""
        raise SpecError(
            field_name,
            f"{len(plan.items)} work items is over the limit of {settings.max_items_per_job}{hint}",
        )
    return plan
