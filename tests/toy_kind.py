"""A test-only job kind, "toy": COUNT small PNGs of one solid colour, two per work item.

It uses nothing but what jobs.kinds.base and jobs.kinds.planning offer every kind, and it is not
in the registry line: a process that runs it calls ``register(KIND)`` first (the test, and the
worker process it starts; see tests/test_toy_kind.py).
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import Job
from jobs.kinds.base import Claim, JobKind, Output, RenderDeps, Unit
from jobs.kinds.planning import Plan, label_of
from jobs.model_registry import ResolvedModel
from jobs.settings import Priority, Settings
from jobs.specs import CallbackUrl

UNITS_PER_ITEM = 2
SIDE = 8  # pixels


class ToySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["toy"]
    model: str = "default"
    count: int = Field(ge=1, le=20)
    colour: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    priority: Priority = "normal"
    callback_url: CallbackUrl | None = None


def plan_toy(spec: ToySpec, model: ResolvedModel, settings: Settings) -> Plan:
    label = label_of(model, model.class_names[0])  # the generator runs; the toy ignores its pixels
    items = [
        {
            "label": label,
            "start": start,
            "count": min(UNITS_PER_ITEM, spec.count - start),
            "samples": min(UNITS_PER_ITEM, spec.count - start),
        }
        for start in range(0, spec.count, UNITS_PER_ITEM)
    ]
    return Plan(items, spec.count)


def toy_key(job_id: str, n: int) -> str:
    return f"jobs/{job_id}/toy-{n:03d}.png"


class Toy:
    def units(self, claim: Claim) -> list[Unit]:
        p = claim.params
        return [
            Unit(claim, n, p["label"], (n,), frozenset({toy_key(claim.job_id, n)}))
            for n in range(p["start"], p["start"] + p["count"])
        ]

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        claim = unit.claim
        image = Image.new("RGB", (SIDE, SIDE), claim.spec["colour"])
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        (key,) = unit.keys
        return [
            Output(
                key,
                buf.getvalue(),
                "image/png",
                {"job": claim.job_id, "synthetic": "true"},
                SIDE,
                SIDE,
                unit.seeds[0],
                "toy",
                attrs={"toy": unit.n},
            )
        ]


def manifest_section(sf: sessionmaker[Session], job: Job) -> dict:
    return {"toy": {"colour": job.spec["colour"]}}


def create_renderer(deps: RenderDeps) -> Toy:
    return Toy()


KIND = JobKind(
    name="toy",
    spec=ToySpec,
    plan=plan_toy,
    renderer=create_renderer,
    manifest_section=manifest_section,
)
