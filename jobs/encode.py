"""Image encoding. Settings chosen from measurements (README.md, "Encoding"): PNG at
compression level 1 costs a fraction of the default level for a slightly larger file;
JPEG q90 and WebP method 0 are the fast lossy choices."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_OPTIONS = {
    "png": {"format": "PNG", "compress_level": 1},
    "jpeg": {"format": "JPEG", "quality": 90},
    "webp": {"format": "WEBP", "quality": 90, "method": 0},
}


def to_pil(pixels: np.ndarray) -> Image.Image:
    """uint8 HWC (C = 1 or 3) -> a Pillow image."""
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, **_OPTIONS[fmt])
    return buf.getvalue()
