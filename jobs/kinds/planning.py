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
