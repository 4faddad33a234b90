"""Lay out a creative (pure geometry, also the submit-time fit check) and draw it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from jobs.layout import LayoutError
from jobs.layout.colour import RGB, WCAG_AA, contrast_ratio, parse_hex
from jobs.layout.formats import Box, Format
from jobs.layout.product import place, place_logo
from jobs.layout.templates import IMAGE_ELEMENTS, TEMPLATES, TEXT_STYLES, Slot
from jobs.layout.text import Fitted, fit, font


@dataclass(frozen=True)
class Brand:
    background: RGB
    text: RGB  # headline and subline
    accent: RGB  # button and badge fill
    accent_text: RGB  # button and badge letters

    @classmethod
    def from_hex(cls, **colours: str) -> Brand:
        return cls(**{name: parse_hex(value) for name, value in colours.items()})


def contrast_pairs() -> list[tuple[str, str]]:
    """(letters, what they sit on) brand colour names of every text style, e.g. ("text",
    "background")."""
    return sorted({(style.ink, style.fill or "background") for style in TEXT_STYLES.values()})


@dataclass(frozen=True)
class PlacedText:
    element: str
    fitted: Fitted
    origins: tuple[
        tuple[int, int], ...
    ]  # per line: where it is drawn (anchor "la": left, ascender)
    ink: Box  # the box the letters occupy
    pill: Box | None  # the button or badge drawn behind the letters


@dataclass(frozen=True)
class Layout:
    format: Format
    images: dict[str, Box]  # "product", "logo" -> their slots
    texts: tuple[PlacedText, ...]


def slot_box(fmt: Format, slot: Slot) -> Box:
    safe = fmt.safe
    x0, y0 = safe.x + round(slot.x * safe.w), safe.y + round(slot.y * safe.h)
    x1, y1 = safe.x + round((slot.x + slot.w) * safe.w), safe.y + round((slot.y + slot.h) * safe.h)
    return Box(x0, y0, x1 - x0, y1 - y0)


def _place_text(fmt: Format, element: str, text: str, slot: Slot) -> PlacedText:
    style, box = TEXT_STYLES[element], slot_box(fmt, slot)
    max_px = round(slot.max_size * min(fmt.safe.w, fmt.safe.h))
    fitted = fit(text, style.font, box.w, box.h, fmt.min_text_px, max_px, style.pad)
    if fitted is None:
        raise LayoutError(
            element,
            f"does not fit the format {fmt.name} ({fmt.width}x{fmt.height}) at its "
            f"minimum legible size of {fmt.min_text_px} px (a {box.w}x{box.h} px box): "
            f"shorten it or leave this format out",
        )
    pad_x, pad_y = round(style.pad[0] * fitted.size), round(style.pad[1] * fitted.size)
    outer_w, outer_h = fitted.width + 2 * pad_x, fitted.height + 2 * pad_y
    left = box.x if slot.align == "left" else box.x + (box.w - outer_w) // 2
    top = (
        box.y + {"top": 0, "center": (box.h - outer_h) // 2, "bottom": box.h - outer_h}[slot.valign]
    )
    ink = Box(left + pad_x, top + pad_y, fitted.width, fitted.height)
    origins = tuple(
        (
            ink.x - lx + (0 if slot.align == "left" else (fitted.width - w) // 2),
            ink.y + i * fitted.line_height,
        )
        for i, (w, lx) in enumerate(zip(fitted.widths, fitted.lefts))
    )
    pill = Box(left, top, outer_w, outer_h) if style.fill else None
    return PlacedText(element, fitted, origins, ink, pill)


def layout(fmt: Format, copy: dict[str, str | None], logo: bool = False) -> Layout:
    """Fit the copy (element -> text; None or "" for an absent optional element) into a format.

    Raises LayoutError naming the element that cannot fit at the format's minimum legible size.
    Elements the format's template has no slot for are not shown.
    """
    slots = TEMPLATES[fmt.template]
    texts = tuple(
        _place_text(fmt, element, text, slots[element])
        for element, text in copy.items()
        if text and element in slots
    )
    wanted = {"product": True, "logo": logo}
    images = {e: slot_box(fmt, slots[e]) for e in IMAGE_ELEMENTS if wanted[e] and e in slots}
    return Layout(fmt, images, texts)


def render(
    lay: Layout, pixels: np.ndarray, brand: Brand, logo: Image.Image | None = None
) -> Image.Image:
    """The creative: the brand background, the product (uint8 HWC sample), the logo (RGBA), the
    copy."""
    fmt = lay.format
    canvas = Image.new("RGB", (fmt.width, fmt.height), brand.background)
    place(canvas, pixels, lay.images["product"], brand.text, brand.background)
    if logo is not None and "logo" in lay.images:
        place_logo(canvas, logo, lay.images["logo"])
    draw = ImageDraw.Draw(canvas)
    for t in lay.texts:
        style = TEXT_STYLES[t.element]
        if t.pill is not None:
            p = t.pill
            draw.rounded_rectangle(
                (p.x, p.y, p.right - 1, p.bottom - 1),
                radius=min(p.h // 2, t.fitted.size),
                fill=getattr(brand, style.fill),
            )
        f = font(t.fitted.face, t.fitted.size)
        for line, origin in zip(t.fitted.lines, t.origins):
            draw.text(origin, line, font=f, fill=getattr(brand, style.ink), anchor="la")
    return canvas


def check_contrast(brand: Brand) -> list[tuple[str, str, float]]:
    """(letters, background, measured ratio) for each text colour pair under WCAG AA."""
    pairs = [
        (ink, under, contrast_ratio(getattr(brand, ink), getattr(brand, under)))
        for ink, under in contrast_pairs()
    ]
    return [p for p in pairs if p[2] < WCAG_AA]
