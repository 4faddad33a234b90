"""kind "generate": COUNT plain images of one category at the model's native resolution."""

from __future__ import annotations

import numpy as np

from jobs.encode import CONTENT_TYPES, EXTENSIONS, encode, to_pil
from jobs.kinds.base import Claim, Output, RenderDeps, Unit, seed_base
from jobs.seeds import image_seed


def asset_key(job_id: str, image_index: int, fmt: str) -> str:
    return f"jobs/{job_id}/{image_index:05d}.{EXTENSIONS[fmt]}"


class Generate:
    def units(self, claim: Claim) -> list[Unit]:
        p, fmt, base = claim.params, claim.spec["format"], seed_base(claim)
        return [
            Unit(
                claim,
                n,
                p["label"],
                (image_seed(base, claim.index, n),),
                frozenset({asset_key(claim.job_id, n, fmt)}),
            )
            for n in range(p["start"], p["start"] + p["count"])
        ]

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        claim, fmt = unit.claim, unit.claim.spec["format"]
        image = to_pil(pixels[0])
        category = claim.params["category"]
        metadata = {
            "job": claim.job_id,
            "model": claim.model_name,
            "version": claim.model_version,
            "seed": str(unit.seeds[0]),
            "category": category,
            "synthetic": "true",
        }
        (key,) = unit.keys
        return [
            Output(
                key,
                encode(image, fmt),
                CONTENT_TYPES[fmt],
                metadata,
                image.width,
                image.height,
                unit.seeds[0],
                category,
            )
        ]


def create_renderer(deps: RenderDeps) -> Generate:
    return Generate()
