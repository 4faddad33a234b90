"""Templates as data: where each element of a creative goes, in fractions of the format's safe zone.

A template maps element names to slots. An element a template has no slot for is not shown in its
formats (the leaderboard has no room for a subline). Text styles (font, colours) are data too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    # The slot's box: left, top, width, height as fractions of the safe zone.
    x: float
    y: float
    w: float
    h: float
    # Text slots: the largest font size as a fraction of the safe zone's shorter side (the format's
    # min_text_px is the smallest). The copy gets the largest size between the two that fits.
    max_size: float = 0.0
    align: str = "center"  # text: "left" or "center" within the slot; images are centred
    # text: "top", "center" or "bottom" within the slot (a headline sits on its subline)
    valign: str = "center"


@dataclass(frozen=True)
class TextStyle:
    font: str  # a face of the shipped font (fonts.FACES)
    ink: str  # brand colour of the letters: "text" or "accent_text"
    fill: str | None = (
        None  # brand colour of a pill drawn behind the text (a button, a badge), or None
    )
    pad: tuple[float, float] = (0.0, 0.0)  # pill padding (horizontal, vertical) in ems


TEXT_STYLES: dict[str, TextStyle] = {
    "headline": TextStyle("black", "text"),
    "subline": TextStyle("regular", "text"),
    "cta": TextStyle("bold", "accent_text", fill="accent", pad=(0.8, 0.35)),
    "badge": TextStyle("black", "accent_text", fill="accent", pad=(0.5, 0.2)),
}
IMAGE_ELEMENTS = ("product", "logo")

TEMPLATES: dict[str, dict[str, Slot]] = {
    # Square, portrait, story: logo, product, headline, subline and button stacked; the badge on the
    # product's top-right corner.
    "stack": {
        "logo": Slot(0.30, 0.0, 0.40, 0.08),
        "product": Slot(0.0, 0.10, 1.0, 0.48),
        "badge": Slot(0.70, 0.10, 0.30, 0.08, max_size=0.045),
        "headline": Slot(0.0, 0.60, 1.0, 0.17, max_size=0.085, valign="bottom"),
        "subline": Slot(0.0, 0.78, 1.0, 0.09, max_size=0.04, valign="top"),
        "cta": Slot(0.15, 0.89, 0.70, 0.11, max_size=0.045),
    },
    # Landscape: product on the left, copy and button in the right column.
    "split": {
        "product": Slot(0.0, 0.0, 0.46, 1.0),
        "badge": Slot(0.0, 0.0, 0.22, 0.11, max_size=0.07),
        "logo": Slot(0.52, 0.0, 0.48, 0.12),
        "headline": Slot(0.52, 0.16, 0.48, 0.36, max_size=0.11, valign="bottom"),
        "subline": Slot(0.52, 0.54, 0.48, 0.2, max_size=0.065, valign="top"),
        "cta": Slot(0.52, 0.78, 0.48, 0.22, max_size=0.07),
    },
    # Medium rectangle: product on the left, a narrow copy column on the right.
    "compact": {
        "product": Slot(0.0, 0.0, 0.42, 1.0),
        "badge": Slot(0.0, 0.0, 0.42, 0.12, max_size=0.06, align="left"),
        "logo": Slot(0.46, 0.0, 0.54, 0.12),
        "headline": Slot(0.46, 0.14, 0.54, 0.34, max_size=0.09, align="left", valign="bottom"),
        "subline": Slot(0.46, 0.50, 0.54, 0.30, max_size=0.06, align="left", valign="top"),
        "cta": Slot(0.46, 0.82, 0.54, 0.18, max_size=0.07),
    },
    # Leaderboard: one row (no subline).
    "banner": {
        "product": Slot(0.0, 0.0, 0.11, 1.0),
        "logo": Slot(0.12, 0.1, 0.10, 0.8),
        "headline": Slot(0.24, 0.0, 0.43, 1.0, max_size=0.3),
        "badge": Slot(0.68, 0.15, 0.11, 0.7, max_size=0.22),
        "cta": Slot(0.80, 0.1, 0.20, 0.8, max_size=0.22),
    },
    # Skyscraper: a narrow column.
    "tower": {
        "logo": Slot(0.0, 0.0, 1.0, 0.07),
        "product": Slot(0.0, 0.08, 1.0, 0.27),
        "badge": Slot(0.40, 0.08, 0.60, 0.05, max_size=0.1),
        "headline": Slot(0.0, 0.37, 1.0, 0.22, max_size=0.15, valign="bottom"),
        "subline": Slot(0.0, 0.61, 1.0, 0.23, max_size=0.1, valign="top"),
        "cta": Slot(0.0, 0.86, 1.0, 0.14, max_size=0.11),
    },
}
