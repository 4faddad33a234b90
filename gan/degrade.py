"""Low-resolution inputs made from high-resolution crops, seeded: clean or Real-ESRGAN-degraded.

`degrade_x4` follows the second-order degradation model of Real-ESRGAN (X. Wang, L. Xie,
C. Dong, Y. Shan, ICCV Workshops 2021, section 3.1): twice (blur with a random Gaussian kernel
-> resize by a random factor and method -> Gaussian noise -> JPEG at a random quality), the
second round ending at exactly 1/4 of the crop. The ranges are milder than the paper's (its
targets are web photos of unknown history; ours also must restore clean down-scaled inputs and
generator samples). The sinc filter of the paper is left out. `clean_x4` is a plain bicubic or
area down-scale. Every random choice comes from the numpy Generator passed in.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESIZE_MODES = ("area", "bilinear", "bicubic")


def clean_x4(hr: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Bicubic (3 in 4) or area (box) down-scale by exactly 4 (antialiased, as PIL does)."""
    method = Image.Resampling.BICUBIC if rng.random() < 0.75 else Image.Resampling.BOX
    return hr.resize((hr.width // 4, hr.height // 4), method)


def gaussian_kernel(rng: np.random.Generator, sigma_range: tuple[float, float]) -> torch.Tensor:
    """A random anisotropic Gaussian (sigma_x, sigma_y, rotation), odd size 7..13, sum 1."""
    size = int(rng.choice([7, 9, 11, 13]))  # the paper: 7..21; 13 covers 3 sigma of 2.0
    sx, sy = rng.uniform(*sigma_range, size=2)
    theta = rng.uniform(0, math.pi)
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return torch.from_numpy((k / k.sum()).astype(np.float32))


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) convolved per channel, reflect-padded (padding capped below the size)."""
    pad = kernel.shape[0] // 2
    if pad >= min(x.shape[2:]):
        kernel = kernel[pad - 1 : pad + 2, pad - 1 : pad + 2]  # tiny maps: the 3x3 centre
        kernel = kernel / kernel.sum()
        pad = 1
    weight = kernel[None, None].expand(3, 1, -1, -1)
    return F.conv2d(F.pad(x, [pad] * 4, mode="reflect"), weight, groups=3)


def resize(x: torch.Tensor, size: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    mode = str(rng.choice(RESIZE_MODES))
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)


def add_noise(x: torch.Tensor, rng: np.random.Generator, sigma_max: float) -> torch.Tensor:
    """Gaussian noise, sigma uniform in [1, sigma_max] / 255; grey (one for all channels) 40%."""
    sigma = rng.uniform(1.0, sigma_max) / 255.0
    shape = (1, 1, *x.shape[2:]) if rng.random() < 0.4 else x.shape
    noise = rng.standard_normal(size=shape).astype(np.float32) * sigma
    return x + torch.from_numpy(noise)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    arr = x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as img:
        out = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(out).permute(2, 0, 1)[None].contiguous()


def _round(x, rng, out_hw, scale_range, sigma_range, blur_p, noise_max, q_range, final):
    if rng.random() < blur_p:
        x = blur(x, gaussian_kernel(rng, sigma_range))
    if final:
        x = resize(x, out_hw, rng)
    else:
        f = rng.uniform(*scale_range)
        h, w = x.shape[2:]
        x = resize(x, (max(out_hw[0], round(h * f)), max(out_hw[1], round(w * f))), rng)
    x = add_noise(x, rng, noise_max)
    return jpeg(x, int(rng.integers(q_range[0], q_range[1] + 1)))


def degrade_x4(hr: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An RGB crop -> an RGB image of a quarter its size through two degradation rounds."""
    x = torch.from_numpy(np.asarray(hr, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    out_hw = (hr.height // 4, hr.width // 4)
    x = _round(x, rng, out_hw, (0.5, 1.2), (0.2, 2.0), 1.0, 12.0, (60, 95), final=False)
    x = _round(x, rng, out_hw, (1.0, 1.0), (0.2, 1.0), 0.8, 8.0, (70, 95), final=True)
    arr = x[0].clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr)
