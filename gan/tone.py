"""A per-channel tone curve that gives a generator's colours the statistics of its photos.

Measured on the 64 px products-rgb FastGAN (docs/gan.md, "Tone curve"): its images had 1.27x
the pixel contrast of the real photos (per-channel std 0.30 against 0.24), which is most of
what the randomly initialised feature extractor sees (its FD on the validation split 5.93; the
real photos' own floor 0.22). The fix is the colourist's: histogram matching (Gonzalez &
Woods, "Digital Image Processing", histogram specification), one monotone 256-entry table
per channel that maps each generated level to the real level at the same quantile, fitted
once on the fit split and never on validation or test images. White stays white; a table is
the identity where the marginals already agree.

The table ships inside the checkpoint's safetensors file (tensor ``tone_curve``, uint8
(channels, 256)), so the checkpoint's sha256 covers it; `gan.checkpoint.load_generator` wraps
the network in `Toned`. A checkpoint without one loads and samples exactly as before.
"""

from __future__ import annotations

import torch
from torch import nn

TONE_KEY = "tone_curve"
LEVELS = 256


def fit_tone_curve(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) generated and real images -> uint8 (C, 256): for each channel and
    level, the real level at the quantile of that level's middle among the generated."""
    for name, x in (("generated", generated), ("real", real)):
        if x.dtype != torch.uint8 or x.ndim != 4 or len(x) == 0:
            raise ValueError(
                f"{name}: expected non-empty uint8 (N, C, H, W), got {x.dtype} {x.shape}"
            )
    if generated.shape[1] != real.shape[1]:
        raise ValueError(f"channels differ: {generated.shape[1]} generated, {real.shape[1]} real")
    tables = []
    for c in range(generated.shape[1]):
        gen_cdf = _cdf(generated[:, c])
        real_cdf = _cdf(real[:, c])
        below = torch.cat([torch.zeros(1, dtype=gen_cdf.dtype), gen_cdf[:-1]])
        middle = (below + gen_cdf) / 2  # the quantile at the middle of each generated level
        tables.append(torch.searchsorted(real_cdf, middle).clamp(0, LEVELS - 1))
    return torch.stack(tables).to(torch.uint8)


def _cdf(levels: torch.Tensor) -> torch.Tensor:
    counts = torch.bincount(levels.flatten().long(), minlength=LEVELS).double()
    cdf = counts.cumsum(0)
    return (cdf / cdf[-1]).contiguous()


def check_tone_curve(table: torch.Tensor, channels: int) -> None:
    """A valid table: uint8 (channels, 256), non-decreasing along the levels."""
    if table.dtype != torch.uint8 or tuple(table.shape) != (channels, LEVELS):
        raise ValueError(
            f"tone curve: expected uint8 ({channels}, {LEVELS}), got {table.dtype} "
            f"{tuple(table.shape)}"
        )
    if (table[:, 1:].long() < table[:, :-1].long()).any():
        raise ValueError("tone curve: not monotone (a level maps below the level before it)")


def apply_tone_curve(images: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Levels (N, C, H, W), uint8 or integer, mapped channel by channel: uint8."""
    offsets = torch.arange(table.shape[0], device=images.device).view(1, -1, 1, 1) * LEVELS
    return table.to(images.device).flatten()[images.long() + offsets]


class Toned(nn.Module):
    """A generator followed by its tone curve: same protocol (``G(z, y)`` in [-1, 1], ``cfg``),
    outputs on the 256 levels `gan.sampling.to_uint8_hwc` writes, each mapped by the table."""

    def __init__(self, generator: nn.Module, table: torch.Tensor) -> None:
        super().__init__()
        check_tone_curve(table, generator.cfg.channels)
        self.generator = generator
        self.register_buffer(TONE_KEY, table.clone())

    @property
    def cfg(self):
        return self.generator.cfg

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.generator(z, y).float()
        levels = ((x + 1.0) * 127.5).round().clamp(0, LEVELS - 1)
        mapped = apply_tone_curve(levels, getattr(self, TONE_KEY)).float()
        return mapped / 127.5 - 1.0  # to_uint8_hwc gives back exactly the table's level


def untoned(generator: nn.Module) -> nn.Module:
    """The network under a tone curve (the generator itself where it has none)."""
    return generator.generator if isinstance(generator, Toned) else generator
