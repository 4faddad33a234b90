"""Channel formats as data: exact pixel size, safe zone, minimum legible text size and template.

A named format is an entry in FORMATS. A custom format is "WxH" within the CUSTOM_* bounds; its
safe zone, minimum text size and template follow from its size by the rules below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobs.layout import LayoutError


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def contains(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        return self.x <= x0 and self.y <= y0 and x1 <= self.right and y1 <= self.bottom


@dataclass(frozen=True)
class Format:
    name: str
    width: int
    height: int
    # Pixels kept free of text, logo and product at each edge (left, top, right, bottom): platform
    # UI (a story's top and bottom bars) and cropping margins.
    insets: tuple[int, int, int, int]
    min_text_px: (
        int  # the minimum legible font size (pixels per em): copy that needs less is rejected
    )
    template: str  # a key of templates.TEMPLATES

    @property
    def safe(self) -> Box:
        left, top, right, bottom = self.insets
        return Box(left, top, self.width - left - right, self.height - top - bottom)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("square", 1080, 1080, (54, 54, 54, 54), 26, "stack"),
        Format("portrait", 1080, 1350, (54, 54, 54, 54), 26, "stack"),
        # Stories: the top and bottom 250 px sit under the platform's own UI.
        Format("story", 1080, 1920, (64, 250, 64, 250), 28, "stack"),
        Format("landscape", 1200, 628, (40, 32, 40, 32), 20, "split"),
        Format("medium-rectangle", 300, 250, (10, 10, 10, 10), 11, "compact"),
        Format("leaderboard", 728, 90, (8, 6, 8, 6), 11, "banner"),
        Format("skyscraper", 160, 600, (8, 10, 8, 10), 11, "tower"),
    )
}

CUSTOM_RE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
CUSTOM_MIN_SIDE, CUSTOM_MAX_SIDE = 90, 2_400  # pixels, each side of a custom "WxH" format
CUSTOM_MAX_ASPECT = 9.0  # longer side / shorter side (the leaderboard is 8.1)
# Custom formats: the template for the first (lowest width/height aspect bound) that the format
# reaches.
CUSTOM_TEMPLATES = ((4.0, "banner"), (1.5, "split"), (0.5, "stack"), (0.0, "tower"))
CUSTOM_COMPACT_BELOW = (
    400  # a custom "stack" format whose shorter side is under this uses "compact"
)


def custom_format(name: str, width: int, height: int) -> Format:
    short = min(width, height)
    inset = max(6, round(short * 0.05))
    aspect = width / height
    template = next(t for bound, t in CUSTOM_TEMPLATES if aspect >= bound)
    if template == "stack" and short < CUSTOM_COMPACT_BELOW:
        template = "compact"
    min_px = min(28, max(11, round(short / 40)))
    return Format(name, width, height, (inset,) * 4, min_px, template)


def resolve_format(name: str) -> Format:
    """A named format or a custom "WxH"; LayoutError("format", ...) says what is allowed."""
    if name in FORMATS:
        return FORMATS[name]
    m = CUSTOM_RE.match(name)
    if not m:
        raise LayoutError(
            "format",
            f"{name!r} is not a format: use one of {', '.join(FORMATS)} or WxH (e.g. 640x480)",
        )
    width, height = int(m[1]), int(m[2])
    if not all(CUSTOM_MIN_SIDE <= side <= CUSTOM_MAX_SIDE for side in (width, height)):
        raise LayoutError(
            "format", f"{name!r}: each side must be {CUSTOM_MIN_SIDE}..{CUSTOM_MAX_SIDE} pixels"
        )
    if max(width, height) / min(width, height) > CUSTOM_MAX_ASPECT:
        raise LayoutError(
            "format",
            f"{name!r}: the longer side may be at most {CUSTOM_MAX_ASPECT:g} times the shorter",
        )
    return custom_format(name, width, height)
