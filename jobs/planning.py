"""Planning: how a validated spec becomes work items, per kind.

A plan is computed at submit time, before anything is written: a spec the model cannot serve (an
unknown category, too many items) is rejected with the field named. Every item's params carry
``samples``, the generator samples it needs (coalescing packs items by it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.orm import Session

from jobs.model_registry import ResolvedModel
from jobs.models import Job
from jobs.settings import Settings
from jobs.specs import GenerateSpec, SpecError


@dataclass
class Plan:
    items: list[dict]  # WorkItem params, in order
    total_images: int  # objects the job delivers (its progress counts them)
    # Kind-specific rows written in the job's transaction, after the job and its items are flushed.
    extra: Callable[[Session, Job], None] | None = field(default=None)


def label_of(model: ResolvedModel, category: str, field_name: str = "category") -> int:
    if category not in model.class_names:
        raise SpecError(field_name, f"{category!r} is not a class of model {model.name}@{model.version} "
                                    f"(allowed: {', '.join(model.class_names)})")
    return model.class_names.index(category)


def plan_generate(spec: GenerateSpec, model: ResolvedModel, settings: Settings) -> Plan:
    """COUNT images in items of at most images_per_item."""
    label, size = label_of(model, spec.category), spec.images_per_item
    items = [{"label": label, "category": spec.category, "start": start,
              "count": min(size, spec.count - start), "samples": min(size, spec.count - start)}
             for start in range(0, spec.count, size)]
    return Plan(items, spec.count)


def plan_catalogue_fill(spec, model: ResolvedModel, settings: Settings) -> Plan:
    """One unit per SKU without an image (jobs.catalogue_plan; imported late: it builds on Plan)."""
    from jobs.catalogue_plan import plan_catalogue_fill as plan

    return plan(spec, model, settings)


def plan_ad_creative(spec, model: ResolvedModel, settings: Settings) -> Plan:
    """One unit per variant, rendered in every format (jobs.ad_creative; imported late: it builds on Plan)."""
    from jobs.ad_creative import plan_ad_creative as plan

    return plan(spec, model, settings)


PLANNERS = {"generate": plan_generate, "catalogue_fill": plan_catalogue_fill, "ad_creative": plan_ad_creative}


def plan_job(spec, model: ResolvedModel, settings: Settings) -> Plan:
    plan = PLANNERS[spec.kind](spec, model, settings)
    if len(plan.items) > settings.max_items_per_job:
        field_name, hint = {"generate": ("images_per_item", ": raise images_per_item"),
                            "catalogue_fill": ("skus_per_item", ": raise skus_per_item")}.get(spec.kind, ("spec", ""))
        raise SpecError(field_name, f"{len(plan.items)} work items is over the limit of "
                                    f"{settings.max_items_per_job}{hint}")
    return plan
