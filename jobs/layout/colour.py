"""Colours: "#RRGGBB" parsing and WCAG 2.x contrast."""

from __future__ import annotations

import re

HEX_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
WCAG_AA = 4.5  # minimum contrast of normal-size text (WCAG 2.x, level AA)

RGB = tuple[int, int, int]


def parse_hex(value: str) -> RGB:
    if not HEX_RE.match(value):
        raise ValueError(f"{value!r} is not a colour of the form #RRGGBB")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(rgb: RGB) -> float:
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """(L1 + 0.05) / (L2 + 0.05), from 1.0 (same colour) to 21.0 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
