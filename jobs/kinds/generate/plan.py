"""Planning a plain generation job: COUNT images in items of at most images_per_item."""

from __future__ import annotations

from jobs.kinds.generate.spec import GenerateSpec
from jobs.kinds.planning import Plan, label_of
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings


def plan_generate(spec: GenerateSpec, model: ResolvedModel, settings: Settings) -> Plan:
    label, size = label_of(model, spec.category), spec.images_per_item
    items = [
        {
            "label": label,
            "category": spec.category,
            "start": start,
            "count": min(size, spec.count - start),
            "samples": min(size, spec.count - start),
        }
        for start in range(0, spec.count, size)
    ]
    return Plan(items, spec.count)
