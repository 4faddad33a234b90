"""What each job kind makes from generator samples.

A kind turns a claimed work item into units, one per deliverable (an image, an ad variant with all
its formats, a catalogue SKU). A unit needs one generator sample per seed; the runner samples the
units of many items in shared batches and hands each unit its pixels to render into objects.

Adding a kind: a spec in ``jobs.specs``, a planner in ``jobs.planning``, a Kind here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jobs.service import Claim


@dataclass(frozen=True)
class Unit:
    claim: Claim
    n: int  # the unit's position in its job: its keys and seeds derive from it
    label: int  # the generator class to sample
    seeds: tuple[int, ...]  # one sample per seed (catalogue fill: K candidates)
    keys: frozenset[str]  # every key it writes: a retry skips a unit whose keys are all recorded
    params: dict = field(default_factory=dict, compare=False)  # kind-specific (a variant's formats, a SKU)


@dataclass(frozen=True)
class Output:
    """One object to store and record."""

    key: str
    data: bytes
    content_type: str
    metadata: dict[str, str]  # object metadata (S3 user metadata: short ASCII strings)
    width: int
    height: int
    seed: int
    category: str
    attrs: dict | None = None  # kind-specific facts for the manifest (variant, format, sku, score)


class Kind(Protocol):
    def units(self, claim: Claim) -> list[Unit]:
        """Every unit of a claimed item, in order (the runner skips those already recorded)."""

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        """pixels: uint8 (len(unit.seeds), H, W, C) samples, one per seed -> the objects to store."""


def create_kinds(store=None, fetch=None) -> dict[str, Kind]:
    """``store``: the bucket (worker.storage.Store) ad creatives read brand logos from; ``fetch(uri) -> folder``:
    a published model's local copy (catalogue fill reads the classifier shipped with it)."""
    from worker.kinds.ad_creative import AdCreative
    from worker.kinds.catalogue_fill import CatalogueFill
    from worker.kinds.generate import Generate
    from worker.quality import Scorer

    return {"generate": Generate(), "catalogue_fill": CatalogueFill(Scorer(fetch)), "ad_creative": AdCreative(store)}
