"""Planning an ad-creative job: submit-time checks that need rendering knowledge, then work items.

Before anything is written: the brand's text colours must reach WCAG AA on what they sit on, every
character must be in the shipped font, and the copy must fit every requested format at its minimum
legible size (jobs.layout: pure, no Celery or boto3).
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from jobs.db.tables import Job
from jobs.kinds.ad_creative.spec import AdCreativeSpec
from jobs.kinds.planning import Plan, category_of, label_of, upscale_passes
from jobs.layout import LayoutError
from jobs.layout.colour import WCAG_AA
from jobs.layout.compose import Brand, check_contrast, layout
from jobs.layout.formats import resolve_format
from jobs.layout.templates import TEXT_STYLES
from jobs.layout.text import missing_glyphs
from jobs.model_registry import ResolvedModel
from jobs.settings import Settings
from jobs.specs import SpecError

VARIANTS_PER_ITEM = (
    4  # variants per work item (each renders every format): the unit of parallelism and retry
)


def brand_of(spec_brand: dict) -> Brand:
    return Brand.from_hex(**{k: v for k, v in spec_brand.items() if k != "logo"})


def copy_of(spec_copy: dict) -> dict[str, str | None]:
    return {element: spec_copy.get(element) for element in TEXT_STYLES}


def check_brand(spec: AdCreativeSpec) -> None:
    colours = spec.brand.model_dump()
    failing = check_contrast(brand_of(colours))
    if failing:
        ink, under, ratio = failing[0]
        shown = math.floor(ratio * 100) / 100  # rounded down: a failing 4.499 never reads as 4.50
        raise SpecError(
            f"brand.{ink}",
            f"contrast of {colours[ink]} on {under} {colours[under]} is "
            f"{shown:.2f}:1; WCAG AA needs at least {WCAG_AA}:1",
        )


def check_copy(spec: AdCreativeSpec) -> None:
    copy = copy_of(spec.copy_.model_dump())
    for element, text in copy.items():
        missing = missing_glyphs(text or "", TEXT_STYLES[element].font)
        if missing:
            raise SpecError(
                f"copy.{element}", f"the font (Lato) has no glyph for {' '.join(missing)!r}"
            )
    for name in spec.formats:
        try:
            layout(resolve_format(name), copy, logo=spec.brand.logo is not None)
        except LayoutError as exc:
            raise SpecError(f"copy.{exc.element}", exc.message) from None


def product_enlargement(spec: AdCreativeSpec, native: int) -> float:
    """How many times a native x native sample is enlarged to fit the largest product slot of the
    job's formats (what upscale: auto decides on)."""
    copy, logo = copy_of(spec.copy_.model_dump()), spec.brand.logo is not None
    slots = [layout(resolve_format(name), copy, logo).images["product"] for name in spec.formats]
    return max(min(box.w, box.h) for box in slots) / native


def resolve_sku(model: ResolvedModel, sku: str):
    """Plan.extra for a spec naming a SKU: its category is read in the job's own transaction (a SKU
    a catalogue-fill job has recorded), and set on every item; an unknown SKU rejects the whole
    job."""

    def extra(s: Session, job: Job) -> None:
        category = category_of(s, sku)
        if category is None:
            raise SpecError(
                "sku",
                f"{sku!r} has no known category: no catalogue-fill job has recorded it "
                f"(give category instead)",
            )
        label = label_of(model, category, "sku")
        for item in job.items:
            item.params = {**item.params, "label": label, "category": category}

    return extra


def plan_ad_creative(spec: AdCreativeSpec, model: ResolvedModel, settings: Settings) -> Plan:
    """Items of up to VARIANTS_PER_ITEM variants; the job delivers variants x formats objects."""
    if (spec.category is None) == (spec.sku is None):
        raise SpecError("category", "give exactly one of category (a class of the model) or sku")
    label = (
        None if spec.category is None else label_of(model, spec.category)
    )  # a SKU's: resolve_sku
    check_brand(spec)
    check_copy(spec)
    passes = upscale_passes(spec.upscale, product_enlargement(spec, model.image_size), model)
    items = [
        {
            "label": label,
            "category": spec.category,
            "start": start,
            "count": min(VARIANTS_PER_ITEM, spec.variants - start),
            "samples": min(VARIANTS_PER_ITEM, spec.variants - start) * spec.candidates,
            "upscale": passes,
        }
        for start in range(0, spec.variants, VARIANTS_PER_ITEM)
    ]
    return Plan(
        items, spec.variants * len(spec.formats), resolve_sku(model, spec.sku) if spec.sku else None
    )
