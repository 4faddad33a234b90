"""A compact x4 super-resolution network as a registered arch, its cost in MACs, and `upscale`.

The architecture is Real-ESRGAN's compact SRVGG net (X. Wang, L. Xie, C. Dong, Y. Shan,
"Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data", ICCV
Workshops 2021; `SRVGGNetCompact` in its code): every convolution runs at the LOW resolution,
conv 3x3 -> PReLU, `depth` body convs 3x3 -> PReLU, a last conv 3x3 to 3*scale^2 channels,
`PixelShuffle(scale)`, plus the input up-sampled (nearest in the paper's code; bicubic here)
as a residual, so the net only learns the detail that interpolation lacks.

Grey images (1 channel) are replicated to RGB on the way in and the three output channels are
averaged back to one on the way out: one RGB network serves both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan.config import known_fields

RESIDUAL_MODES = ("nearest", "bilinear", "bicubic")
# Largest input (height * width, pixels) of one pass: a 1024 x 1024 image becomes 4096 x 4096.
# The feature maps of such a pass take about 0.5 GB; larger inputs are refused, not tiled.
MAX_PASS_INPUT_PIXELS = 1024 * 1024


@dataclass(frozen=True)
class UpscalerConfig:
    """Architecture of an upscaler; saved in every upscaler checkpoint."""

    arch: str = "srvgg-compact"  # key of ARCHS that builds the network
    width: int = 32  # channels of every hidden convolution (Real-ESRGAN's compact net: 64)
    depth: int = 10  # body convolutions between the first and the last (Real-ESRGAN: 16)
    scale: int = 4  # up-scaling factor of one pass (pixel-shuffle factor)
    residual: str = "bicubic"  # how the input is up-sampled for the residual: RESIDUAL_MODES

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}: allowed {sorted(ARCHS)}")
        for name in ("width", "depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.scale not in (2, 4):
            raise ValueError(f"scale={self.scale}: allowed 2 or 4")
        if self.residual not in RESIDUAL_MODES:
            raise ValueError(f"residual={self.residual!r}: allowed {RESIDUAL_MODES}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> UpscalerConfig:
        return cls(**known_fields(cls, data, "upscaler"))


class SRVGGCompact(nn.Module):
    """(N, 3, H, W) float in [0, 1] -> (N, 3, scale*H, scale*W), not clamped."""

    def __init__(self, cfg: UpscalerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, s = cfg.width, cfg.scale
        layers: list[nn.Module] = [nn.Conv2d(3, w, 3, padding=1), nn.PReLU(w)]
        for _ in range(cfg.depth):
            layers += [nn.Conv2d(w, w, 3, padding=1), nn.PReLU(w)]
        last = nn.Conv2d(w, 3 * s * s, 3, padding=1)
        with torch.no_grad():  # start near the interpolated residual: faster early training
            last.weight.mul_(0.1)
            last.bias.zero_()
        self.body = nn.Sequential(*layers, last)
        self.upsampler = nn.PixelShuffle(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.cfg.scale
        if self.cfg.residual == "nearest":
            base = F.interpolate(x, scale_factor=s, mode="nearest")
        else:
            base = F.interpolate(x, scale_factor=s, mode=self.cfg.residual, align_corners=False)
        return self.upsampler(self.body(x)) + base


def _srvgg_macs(cfg: UpscalerConfig, height: int, width: int) -> int:
    w, s = cfg.width, cfg.scale
    per_pixel = 9 * (3 * w + cfg.depth * w * w + w * 3 * s * s)
    return height * width * per_pixel


# name -> (builder, MAC counter). A new arch is one entry here plus its module.
ARCHS: dict[str, tuple[Callable[[UpscalerConfig], nn.Module], Callable[..., int]]] = {
    "srvgg-compact": (SRVGGCompact, _srvgg_macs),
}


def build_upscaler(cfg: UpscalerConfig) -> nn.Module:
    return ARCHS[cfg.arch][0](cfg)


def macs(cfg: UpscalerConfig, height: int, width: int) -> int:
    """Multiply-accumulates of one pass over a height x width input, from the layer shapes.

    A k x k convolution from C_in to C_out channels on an H x W map costs H*W*k*k*C_in*C_out
    MACs; all convolutions here run at the input resolution, so for srvgg-compact
    MACs = H*W*9*(3*width + depth*width^2 + width*3*scale^2). PReLU, PixelShuffle and the
    interpolated residual (a few operations per output pixel) are not counted.
    """
    return int(ARCHS[cfg.arch][1](cfg, height, width))


def _to_rgb_float(batch: np.ndarray, device) -> torch.Tensor:
    x = torch.from_numpy(np.array(batch)).to(device)  # a copy: the caller's array may be read-only
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def check_pixels(pixels: np.ndarray, passes: int, scale: int) -> None:
    """Refuse what `upscale` cannot take, with what is allowed."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 4:
        raise ValueError("pixels: expected a uint8 array (N, H, W, C)")
    if pixels.shape[3] not in (1, 3):
        raise ValueError(f"pixels: {pixels.shape[3]} channels; allowed 1 (grey) or 3 (RGB)")
    if passes not in (1, 2):
        raise ValueError(f"passes={passes}: allowed 1 or 2")
    h, w = pixels.shape[1:3]
    last = h * w * scale ** (2 * (passes - 1))
    if min(h, w) < 1 or last > MAX_PASS_INPUT_PIXELS:
        raise ValueError(
            f"pixels: {w}x{h} with {passes} pass(es) needs a pass over {last} pixels; at most "
            f"{MAX_PASS_INPUT_PIXELS} (1024x1024) per pass"
        )


def upscale(
    net: nn.Module, pixels: np.ndarray, passes: int = 1, device="cpu", batch_size: int = 8
) -> np.ndarray:
    """uint8 (N, H, W, C), C = 1 or 3 -> uint8 (N, H*s^passes, W*s^passes, C).

    Runs in batches under torch.inference_mode; on the CPU the same input gives the same bytes.
    Between two passes the image stays in float (clamped to [0, 1]), rounded once at the end.
    """
    scale = net.cfg.scale
    check_pixels(pixels, passes, scale)
    grey = pixels.shape[3] == 1
    outs = []
    with torch.inference_mode():
        for start in range(0, pixels.shape[0], batch_size):
            x = _to_rgb_float(pixels[start : start + batch_size], device)
            for _ in range(passes):
                x = net(x).clamp_(0.0, 1.0)
            if grey:
                x = x.mean(dim=1, keepdim=True)
            y = x.mul_(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1)
            outs.append(y.cpu().numpy())
    return np.concatenate(outs, axis=0)
