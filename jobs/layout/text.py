"""The shipped font and text fitting: greedy word wrap, and the largest size that fits a box.

The font is Lato (SIL Open Font License 1.1) from the PyPI package ``font-lato``, loaded by path
from the package: a creative never depends on the fonts a machine happens to have.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PACKAGE = "font_lato"
FACES = {"regular": "Lato-Regular.ttf", "bold": "Lato-Bold.ttf", "black": "Lato-Black.ttf"}
_ABSENT = "\U0010fffd"  # a private-use code point no font maps: renders as the font's .notdef box


class FontMissing(RuntimeError):
    pass


def font_path(face: str) -> Path:
    try:
        path = Path(str(resources.files(FONT_PACKAGE) / "files" / FACES[face]))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FontMissing(
            f"font file {FACES[face]} of the package {FONT_PACKAGE!r} is missing: "
            f"`pip install font-lato` (a dependency of assetgen)"
        )
    return path


class _Fonts(threading.local):
    """Loaded fonts per thread (the worker renders in an I/O thread pool; a FreeType face is not
    meant to be shared between threads): at most len(FACES) x the sizes in use."""

    def __init__(self):
        self.loaded: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


_fonts = _Fonts()


def font(face: str, size: int) -> ImageFont.FreeTypeFont:
    key = (face, size)
    if key not in _fonts.loaded:
        _fonts.loaded[key] = ImageFont.truetype(str(font_path(face)), size)
    return _fonts.loaded[key]


@lru_cache(maxsize=4096)
def _glyph_image(face: str, ch: str) -> bytes:
    image = Image.new("L", (48, 48))
    ImageDraw.Draw(image).text((8, 8), ch, font=font(face, 24), fill=255)
    return image.tobytes()


def missing_glyphs(text: str, face: str = "regular") -> list[str]:
    """Characters of text the font has no glyph for (they would print as boxes)."""
    absent = _glyph_image(face, _ABSENT)
    return sorted({ch for ch in text if not ch.isspace() and _glyph_image(face, ch) == absent})


@dataclass(frozen=True)
class Fitted:
    face: str
    size: int
    lines: tuple[str, ...]
    line_height: int  # the font's ascent + descent: each line's ink lies within it
    widths: tuple[int, ...]  # ink width of each line
    lefts: tuple[int, ...]  # ink offset of each line from its drawing origin (anchor "la")

    @property
    def width(self) -> int:
        return max(self.widths)

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def _ink(f: ImageFont.FreeTypeFont, line: str) -> tuple[int, int]:
    left, _, right, _ = f.getbbox(line, anchor="la")
    return left, right - left


def wrap(text: str, f: ImageFont.FreeTypeFont, width: int) -> list[str] | None:
    """Greedy word wrap into lines no wider than width; None when one word alone is wider."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _ink(f, candidate)[1] <= width:
            current = candidate
            continue
        if not current or _ink(f, word)[1] > width:
            return None
        lines.append(current)
        current = word
    return lines + [current]


def fit_at(
    text: str, face: str, size: int, width: int, height: int, pad: tuple[float, float] = (0, 0)
) -> Fitted | None:
    """Text wrapped at size into a box, less pad (horizontal, vertical, in ems) on each side; or
    None."""
    f = font(face, size)
    width, height = width - 2 * round(pad[0] * size), height - 2 * round(pad[1] * size)
    lines = wrap(text, f, width)
    ascent, descent = f.getmetrics()
    if lines is None or len(lines) * (ascent + descent) > height:
        return None
    inks = [_ink(f, line) for line in lines]
    return Fitted(
        face,
        size,
        tuple(lines),
        ascent + descent,
        tuple(w for _, w in inks),
        tuple(left for left, _ in inks),
    )


def fit(
    text: str,
    face: str,
    width: int,
    height: int,
    min_size: int,
    max_size: int,
    pad: tuple[float, float] = (0, 0),
) -> Fitted | None:
    """The largest size in [min_size, max_size] at which text wraps into the box; None if even
    min_size does not fit (binary search: a smaller size never needs more room)."""
    best = fit_at(text, face, min_size, width, height, pad)
    lo, hi = min_size + 1, max(max_size, min_size)
    while best is not None and lo <= hi:
        mid = (lo + hi) // 2
        found = fit_at(text, face, mid, width, height, pad)
        if found is None:
            hi = mid - 1
        else:
            best, lo = found, mid + 1
    return best
