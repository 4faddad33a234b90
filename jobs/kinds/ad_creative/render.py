"""kind "ad_creative": each variant rendered in every requested format.

A variant's product is the best of its K candidates (spec ``candidates``) by quality score
(``jobs.quality``: the model's classifier), upscaled by the worker's upscale stage where the plan
says so (only the chosen one); candidate 0's seed is the variant's seed of jobs planned before
candidates, so a job of one candidate draws what it always drew.
"""

from __future__ import annotations

import io
from dataclasses import replace
from functools import lru_cache

import numpy as np
from PIL import Image

from jobs.encode import CONTENT_TYPES, EXTENSIONS, encode
from jobs.kinds.ad_creative.plan import brand_of, copy_of
from jobs.kinds.base import (
    Claim,
    Output,
    RenderDeps,
    Unit,
    seed_base,
    upscale_of,
    upscaler_attrs,
    upscaler_metadata,
)
from jobs.layout.compose import Layout, layout, render
from jobs.layout.formats import resolve_format
from jobs.quality import Scorer, choice_attrs, choice_metadata, choose_best
from jobs.seeds import image_seed
from jobs.storage import Store

MAX_LOGO_PIXELS = 4096 * 4096  # a larger logo image is refused (decompression bombs)
LOGO_CACHE = 16  # decoded logos kept per worker process, by (job, key)


class LogoError(RuntimeError):
    pass


@lru_cache(maxsize=256)
def cached_layout(fmt: str, copy: tuple[tuple[str, str | None], ...], logo: bool) -> Layout:
    """A job's layouts are the same for all its variants: fitted once per worker process."""
    return layout(resolve_format(fmt), dict(copy), logo)


def creative_key(job_id: str, variant: int, fmt: str, file_format: str) -> str:
    return f"jobs/{job_id}/{variant:05d}-{fmt}.{EXTENSIONS[file_format]}"


def variant_seeds(claim: Claim, variant: int) -> tuple[int, ...]:
    """The K candidate seeds of a variant, independent of how variants are split into items:
    variant n of a seed always has the same candidates (jobs planned before candidates: one)."""
    k = int(claim.spec.get("candidates", 1))
    return tuple(image_seed(seed_base(claim), c, variant) for c in range(k))


def decode_logo(key: str, data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_LOGO_PIXELS:
            raise LogoError(
                f"brand.logo {key!r} is {image.width}x{image.height}, over {MAX_LOGO_PIXELS} pixels"
            )
        return image.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise LogoError(f"brand.logo {key!r} is not a readable image: {exc}") from None


class AdCreative:
    def __init__(self, store: Store | None = None, scorer: Scorer | None = None):
        self.store = store  # where brand logos are read from
        self.scorer = scorer or Scorer()
        self._logos: dict[tuple[str, str], Image.Image] = {}

    def units(self, claim: Claim) -> list[Unit]:
        p, spec = claim.params, claim.spec
        return [
            Unit(
                claim,
                n,
                p["label"],
                variant_seeds(claim, n),
                frozenset(
                    creative_key(claim.job_id, n, f, spec["file_format"]) for f in spec["formats"]
                ),
                upscale=upscale_of(claim),
            )
            for n in range(p["start"], p["start"] + p["count"])
        ]

    def logo(self, claim: Claim) -> Image.Image | None:
        key = claim.spec["brand"].get("logo")
        if key is None:
            return None
        logo = self._logos.get(
            (claim.job_id, key)
        )  # renders run on several I/O threads: no check-then-read
        if logo is None:
            if self.store is None or self.store.head(key) is None:
                raise LogoError(
                    f"brand.logo: no object {key!r} in the bucket; upload it and retry the job"
                )
            logo = decode_logo(key, self.store.get(key))
            if len(self._logos) >= LOGO_CACHE:
                self._logos.clear()
            self._logos[(claim.job_id, key)] = logo
        return logo

    def choose(self, unit: Unit, pixels: np.ndarray) -> tuple[Unit, np.ndarray]:
        """The best of the variant's K candidates (only it is upscaled); the unit carries the
        choice."""
        choice = choose_best(
            self.scorer, unit.claim.model_uri, pixels, unit.claim.params["category"]
        )
        chosen = replace(unit, params={**unit.params, "choice": choice})
        return chosen, pixels[choice.best : choice.best + 1]

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        """pixels: the K candidates, or (after ``choose``) the chosen one, upscaled where the plan
        said so; drawn into every format by the same layout code."""
        if "choice" not in unit.params:
            unit, pixels = self.choose(unit, pixels)
        claim, spec, choice = unit.claim, unit.claim.spec, unit.params["choice"]
        brand, copy, logo = brand_of(spec["brand"]), copy_of(spec["copy"]), self.logo(claim)
        file_format, category = spec["file_format"], claim.params["category"]
        seed = unit.seeds[choice.best]
        sku = (
            {"sku": spec["sku"]} if spec.get("sku") else {}
        )  # a job for a SKU says so on every creative
        outputs = []
        for name in spec["formats"]:
            image = render(
                cached_layout(name, tuple(copy.items()), logo is not None), pixels[0], brand, logo
            )
            metadata = {
                "job": claim.job_id,
                "variant": str(unit.n),
                "format": name,
                "model": claim.model_name,
                "version": claim.model_version,
                "seed": str(seed),
                "category": category,
                "synthetic": "true",
                **choice_metadata(choice),
                **sku,
                **upscaler_metadata(unit),
            }
            outputs.append(
                Output(
                    creative_key(claim.job_id, unit.n, name, file_format),
                    encode(image, file_format),
                    CONTENT_TYPES[file_format],
                    metadata,
                    image.width,
                    image.height,
                    seed,
                    category,
                    attrs={
                        "variant": unit.n,
                        "format": name,
                        **choice_attrs(choice),
                        **sku,
                        **upscaler_attrs(unit),
                    },
                )
            )
        return outputs


def create_renderer(deps: RenderDeps) -> AdCreative:
    return AdCreative(deps.store, Scorer(deps.fetch))
