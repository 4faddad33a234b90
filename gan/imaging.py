"""Pure numpy image helpers shared by the data loader, the catalogue tiles and the ad
layout."""

from __future__ import annotations

import numpy as np


def border_median(pixels: np.ndarray) -> np.ndarray:
    """Per-channel median of the outermost pixels (all four edges): an image's own background.

    pixels: (H, W) or (H, W, C) -> float64 (C,) (C = 1 for a 2-D array). Callers round or truncate
    as their outputs need; the value itself is unrounded (a median of an even count may end in .5).
    """
    a = pixels if pixels.ndim == 3 else pixels[:, :, None]
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]], axis=0)  # (edge pixels, C)
    return np.median(border, axis=0)
