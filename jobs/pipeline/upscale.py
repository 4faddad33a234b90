"""The upscale stage, between sampling and rendering: the samples of units whose plan says so go
through their job's x4 upscaler (gan.upscaler), batched on the worker's device.

A kind with a ``choose`` step picks first what is worth upscaling (catalogue fill, ad creatives:
the best of K candidates, so one sample per SKU or variant is upscaled, not K). On the CPU each
image gets a pass of its own by default (Settings.upscale_batch_size): oneDNN picks other kernels
for other batch shapes, so the bytes of a tile then depend only on its seed, never on what it was
batched with.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gan.upscale_checkpoint import load_upscaler
from gan.upscaler import upscale
from jobs.kinds.base import Claim, Kind, Unit
from jobs.pipeline.model_cache import ModelCache

CUDA_PASS_BATCH = 16  # images per upscaler pass on CUDA when the setting is 0 (auto)


def pass_batch_size(setting: int, device: str) -> int:
    """Settings.upscale_batch_size; 0: one image per pass on the CPU, CUDA_PASS_BATCH on CUDA."""
    if setting:
        return setting
    return CUDA_PASS_BATCH if device == "cuda" else 1


def upscaler_cache(device: str, fetch=None) -> ModelCache:
    """Upscalers loaded once per worker process, by sha256, verified like the generators."""
    return ModelCache(device=device, fetch=fetch, load=load_upscaler)


def needs_upscaler(claim: Claim) -> bool:
    return bool(claim.params.get("upscale")) and claim.upscaler_sha256 is not None


class UpscaleStage:
    def __init__(self, upscalers: ModelCache, batch_size: int):
        self.upscalers, self.batch_size = upscalers, batch_size

    def load(self, claim: Claim):
        """The claim's verified upscaler (CheckpointError where it cannot be loaded)."""
        assert claim.upscaler_uri is not None and claim.upscaler_sha256 is not None
        return self.upscalers.get(claim.upscaler_uri, claim.upscaler_sha256)[0]

    def __call__(
        self, kinds: Mapping[str, Kind], live: list[tuple[Unit, np.ndarray]]
    ) -> list[tuple[Unit, np.ndarray]]:
        """(unit, samples) -> (unit, what it renders): unchanged for units that do not upscale;
        else chosen (where the kind chooses) and upscaled, one batch per upscaler and pass count."""
        out = list(live)
        groups: dict[tuple[str, int], list[int]] = {}
        for i, (unit, pixels) in enumerate(live):
            if not unit.upscale:
                continue
            choose = getattr(kinds[unit.claim.spec["kind"]], "choose", None)
            out[i] = choose(unit, pixels) if choose is not None else (unit, pixels)
            groups.setdefault((str(unit.claim.upscaler_sha256), unit.upscale), []).append(i)
        for (_, passes), members in groups.items():
            net = self.load(out[members[0]][0].claim)
            stacked = np.concatenate([out[i][1] for i in members])
            big = upscale(net, stacked, passes, self.upscalers.device, self.batch_size)
            at = 0
            for i in members:
                unit, pixels = out[i]
                out[i] = (unit, big[at : at + len(pixels)])
                at += len(pixels)
        return out
