"""How well an upscaler restores the test photos: ours vs bicubic vs Lanczos.

Each test photo (the `test` rows of the folder's splits.csv) is cropped to a multiple of 4,
down-scaled x4 with bicubic (Pillow, antialiased), and restored x4 by each method; PSNR on Y
(BT.601) and SSIM (Wang et al. 2004) against the photo are averaged over images
(gan/sr_metrics.py). Sharpness is the variance of the Laplacian of the restored images, beside
that of the real photos of the same size; closer to the photos' is better.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from gan.sr_metrics import laplacian_variance, psnr_y, ssim
from gan.upscale_data import list_photos
from gan.upscaler import upscale

BASELINES = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}


def x4_pair(path) -> tuple[np.ndarray, np.ndarray]:
    """(low-res uint8 HWC, truth uint8 HWC): the photo cropped to a multiple of 4 and x4 down."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    w, h = rgb.width // 4 * 4, rgb.height // 4 * 4
    truth = rgb.crop((0, 0, w, h))
    lo = truth.resize((w // 4, h // 4), Image.Resampling.BICUBIC)
    return np.asarray(lo), np.asarray(truth)


def restore(method: str, net: nn.Module, lo: np.ndarray) -> np.ndarray:
    if method == "ours":
        return upscale(net, lo[None], 1, next(net.parameters()).device)[0]
    size = (lo.shape[1] * 4, lo.shape[0] * 4)
    return np.asarray(Image.fromarray(lo).resize(size, BASELINES[method]))


def _float(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255


def evaluate_upscaler(net: nn.Module, data_folder, split="test", limit=None) -> dict:
    """{"images", "methods": {name: {psnr_y, ssim, sharpness}}, "real_sharpness", ...}."""
    paths = list_photos(data_folder, split)[:limit]
    rows: dict[str, list] = {m: [] for m in ("ours", *BASELINES)}
    real = []
    for path in paths:
        lo, truth = x4_pair(path)
        real.append(laplacian_variance(truth))
        t = _float(truth)
        for method, acc in rows.items():
            out = restore(method, net, lo)
            o = _float(out)
            acc.append((float(psnr_y(o, t)[0]), float(ssim(o, t)[0]), laplacian_variance(out)))
    methods = {
        m: dict(zip(("psnr_y", "ssim", "sharpness"), np.mean(np.array(v), axis=0).tolist()))
        for m, v in rows.items()
    }
    gain = {k: methods["ours"][k] - methods["lanczos"][k] for k in ("psnr_y", "ssim", "sharpness")}
    return {
        "images": len(paths),
        "split": split,
        "degradation": "crop to a multiple of 4, bicubic x4 down (Pillow)",
        "methods": methods,
        "real_sharpness": float(np.mean(real)),
        "ours_minus_lanczos": gain,
    }
