"""The product: a generator sample cut out of its plain background and upscaled into its slot.

The generator draws a product on a plain background (Fashion-MNIST: light products on black). The
background colour is the median of the sample's border; a pixel's opacity grows with its difference
from it, so the product sits on the layout's own background instead of a pasted square. Only the
product's main parts are kept: the connected pieces of that matte at least KEEP_PART of the
largest's area (a pair of shoes stays a pair); the specks a sample scatters over its background
(a floor's grain, a bed's pattern) are dropped, and the crop, so the product's size in its slot,
follows the parts kept. (Filling the pieces' holes, or making the product opaque inside its
outline, was tried and dropped: where the matte takes in a floor's shading beside the product,
that shading turned into solid patches.)
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageOps

from gan.imaging import border_median
from jobs.layout.colour import RGB
from jobs.layout.formats import Box

ALPHA_LOW, ALPHA_HIGH = (
    24.0,
    56.0,
)  # difference to the background (0-255): transparent below, opaque above
# One-channel samples carry shape and shading only: they are toned from the brand's text colour
# (where the product differs most from its background) towards the layout background, at most this
# far.
TONE_SPAN = 0.6
KEEP_PART = 0.2  # a matte piece is kept if its area is at least this share of the largest piece's
RESAMPLE = Image.Resampling.LANCZOS


def _difference(px: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return np.abs(px.astype(np.float32) - bg).max(axis=-1)


def _alpha(diff: np.ndarray) -> np.ndarray:
    return np.clip((diff - ALPHA_LOW) / (ALPHA_HIGH - ALPHA_LOW), 0.0, 1.0)


def components(mask: np.ndarray) -> np.ndarray:
    """int (H, W): for each pixel of mask, a label shared by exactly its 8-connected piece (the
    smallest flat index in it); -1 off the mask. Min-label propagation with pointer jumping, in
    numpy: a few passes for compact shapes."""
    h, w = mask.shape
    none = h * w
    labels = np.where(mask, np.arange(none).reshape(h, w), none)
    while True:
        padded = np.pad(labels, 1, constant_values=none)
        low = labels
        for dy in range(3):
            for dx in range(3):
                low = np.minimum(low, padded[dy : dy + h, dx : dx + w])
        low = np.where(mask, low, none)
        low = np.append(low.ravel(), none)[low]  # jump: take the label's own label
        if np.array_equal(low, labels):
            return np.where(mask, labels, -1)
        labels = low


def main_parts(mask: np.ndarray, keep: float = KEEP_PART) -> np.ndarray:
    """bool (H, W): the pieces of mask (8-connected) with at least `keep` of the largest's area."""
    labels = components(mask)
    found, sizes = np.unique(labels[labels >= 0], return_counts=True)
    if len(found) == 0:
        return mask.copy()
    return np.isin(labels, found[sizes >= keep * sizes.max()])


def _grow(mask: np.ndarray) -> np.ndarray:
    """mask grown by one pixel all round (a pixel is in if any of its 3x3 neighbourhood is)."""
    padded, (h, w) = np.pad(mask, 1), mask.shape
    return np.logical_or.reduce(
        [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    )


def product_mask(px: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """bool (H, W): the sample's main parts (main_parts of its matte), grown by one pixel so the
    soft edge stays (opacity 0 outside it)."""
    return _grow(main_parts(_alpha(_difference(px, bg)) > 0))


def _crop(px: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sample and its product_mask cropped to the kept parts, or None when it shows no
    product."""
    keep = product_mask(px, bg)
    ys, xs = np.nonzero(keep)
    if len(xs) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return px[y0:y1, x0:x1], keep[y0:y1, x0:x1]


def _mask_image(mask: np.ndarray, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)


def _fit_size(w: int, h: int, box: Box) -> tuple[int, int]:
    scale = min(box.w / w, box.h / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _difference_image(image: Image.Image, bg: np.ndarray) -> Image.Image:
    """L image: per pixel, the largest channel difference to the background colour (Pillow's C
    loops)."""
    colour = tuple(int(round(c)) for c in bg)
    plain = Image.new(image.mode, image.size, colour if len(colour) > 1 else colour[0])
    diff = ImageChops.difference(image, plain)
    if diff.mode == "L":
        return diff
    r, g, b = diff.split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b)


_ALPHA_LUT = [round(255 * float(a)) for a in _alpha(np.arange(256, dtype=np.float32))]


def cutout(
    pixels: np.ndarray, box: Box, ink: RGB, paper: RGB
) -> tuple[Image.Image, Image.Image] | None:
    """pixels: uint8 (H, W, C) -> (RGB image, L alpha) scaled to fit box, or None if it shows no
    product."""
    bg = border_median(pixels)
    cropped = _crop(pixels, bg)
    if cropped is None:
        return None
    crop, keep = cropped
    size = _fit_size(crop.shape[1], crop.shape[0], box)
    up = Image.fromarray(crop[..., 0] if crop.shape[-1] == 1 else crop).resize(size, RESAMPLE)
    diff = _difference_image(up, bg)
    alpha = ImageChops.multiply(diff.point(_ALPHA_LUT), _mask_image(keep, size))
    if (
        up.mode == "L"
    ):  # strength 0..1 (scaled to the largest difference) -> from the toned paper to the ink
        peak = max(diff.getextrema()[1], 1)
        strength = diff.point([min(255, round(255 * v / peak)) for v in range(256)])
        faded = tuple(round(i * (1 - TONE_SPAN) + p * TONE_SPAN) for i, p in zip(ink, paper))
        return ImageOps.colorize(strength, black=faded, white=ink), alpha
    return up.convert("RGB"), alpha


def place(canvas: Image.Image, pixels: np.ndarray, box: Box, ink: RGB, paper: RGB) -> None:
    """Draw the product centred in box (nothing when the sample shows no product)."""
    cut = cutout(pixels, box, ink, paper)
    if cut is None:
        return
    rgb, alpha = cut
    canvas.paste(rgb, (box.x + (box.w - rgb.width) // 2, box.y + (box.h - rgb.height) // 2), alpha)


def place_logo(canvas: Image.Image, logo: Image.Image, box: Box) -> None:
    """Draw the logo (RGBA) scaled to fit box, centred."""
    size = _fit_size(logo.width, logo.height, box)
    scaled = logo.resize(size, RESAMPLE)
    canvas.paste(scaled, (box.x + (box.w - size[0]) // 2, box.y + (box.h - size[1]) // 2), scaled)
