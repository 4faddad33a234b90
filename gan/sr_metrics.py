"""Full-reference (PSNR on Y, SSIM) and no-reference (Laplacian variance) image measures.

All take float tensors (N, 3, H, W) in [0, 1] (or uint8 arrays where said) and return one
value per image, so callers report the mean over images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma for studio-range Y (16..235), as SR papers compute PSNR-Y.
_BT601 = (65.481, 128.553, 24.966)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 1, H, W) luma Y in [16, 235] (ITU-R BT.601)."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16.0 + _BT601[0] * r + _BT601[1] * g + _BT601[2] * b


def quantise(x: torch.Tensor) -> torch.Tensor:
    """What a saved 8-bit image holds: clamp to [0, 1] and round to 1/255 steps."""
    return x.clamp(0, 1).mul(255).round().div(255)


def psnr_y(pred: torch.Tensor, target: torch.Tensor, border: int = 4) -> torch.Tensor:
    """PSNR in dB of the Y channel per image, `border` pixels cropped on every side (the
    convention of SR benchmarks: the scale factor)."""
    a, b = rgb_to_y(quantise(pred)), rgb_to_y(quantise(target))
    if border:
        a, b = a[..., border:-border, border:-border], b[..., border:-border, border:-border]
    mse = (a - b).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10.0 * torch.log10(255.0**2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def _window_means(maps: torch.Tensor) -> torch.Tensor:
    """Gaussian-weighted local means of each channel over valid 11x11 windows; the 2-D
    Gaussian is separable, so a column pass then a row pass."""
    c = maps.shape[1]
    g = _gaussian_1d().to(maps)
    maps = F.conv2d(maps, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(maps, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def ssim(pred: torch.Tensor, target: torch.Tensor, border: int = 4) -> torch.Tensor:
    """SSIM per image on Y (Z. Wang, A. Bovik, H. Sheikh, E. Simoncelli, "Image Quality
    Assessment: From Error Visibility to Structural Similarity", IEEE TIP 2004): an 11x11
    Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, over the valid region."""
    a, b = rgb_to_y(quantise(pred)).double(), rgb_to_y(quantise(target)).double()
    if border:
        a, b = a[..., border:-border, border:-border], b[..., border:-border, border:-border]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b, aa, bb, ab = _window_means(torch.cat([a, b, a * a, b * b, a * b], 1)).split(1, 1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean(dim=(1, 2, 3)).float()


def laplacian4(g):
    """The 4-neighbour Laplacian over the last two axes (the valid region), of a float numpy
    array or torch tensor of any leading shape."""
    return (
        g[..., 1:-1, :-2]
        + g[..., 1:-1, 2:]
        + g[..., :-2, 1:-1]
        + g[..., 2:, 1:-1]
        - 4 * g[..., 1:-1, 1:-1]
    )


def laplacian_variance(pixels: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image (0..255 scale), a no-reference
    sharpness measure (Pech-Pacheco et al. 2000): higher is sharper. pixels: uint8 (H, W, C)."""
    g = pixels.astype(np.float64)
    g = g.mean(axis=2) if g.ndim == 3 else g
    return float(laplacian4(g).var())
