"""Ad-creative layout and rendering (jobs.layout, pure): exact sizes, safe zones, text fitting,
contrast, the product cut-out, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageDraw
from pydantic import ValidationError

from jobs.encode import encode
from jobs.kinds.ad_creative.spec import (
    MAX_BADGE_CHARS,
    MAX_CTA_CHARS,
    MAX_HEADLINE_CHARS,
    MAX_SUBLINE_CHARS,
    AdCopy,
)
from jobs.layout import LayoutError
from jobs.layout.colour import contrast_ratio, parse_hex
from jobs.layout.compose import Brand, check_contrast, layout, render, slot_box
from jobs.layout.formats import FORMATS, resolve_format
from jobs.layout.product import components, main_parts
from jobs.layout.templates import TEMPLATES
from jobs.layout.text import fit_at, font, missing_glyphs

# The table, written out (not read from FORMATS): the contract with ad platforms.
SIZES = {
    "square": (1080, 1080),
    "portrait": (1080, 1350),
    "story": (1080, 1920),
    "landscape": (1200, 628),
    "medium-rectangle": (300, 250),
    "leaderboard": (728, 90),
    "skyscraper": (160, 600),
    "640x480": (640, 480),
    "1500x300": (1500, 300),
    "300x1200": (300, 1200),
}
BRAND = Brand.from_hex(
    background="#F4EFE6", text="#1D2A3A", accent="#C8452C", accent_text="#FFFFFF"
)


def longest(words: str, limit: int) -> str:
    """Realistic copy of exactly `limit` characters (whole words, wide letters included)."""
    text = (words + " ") * (limit // len(words) + 2)
    cut = text[:limit]
    return cut if cut[-1] != " " else cut[:-1] + "!"


LONGEST = {
    "headline": longest("Waterproof Winter Boots, Made to Walk More Miles", MAX_HEADLINE_CHARS),
    "subline": longest(
        "Warm wool lining, grippy soles and free returns within thirty days", MAX_SUBLINE_CHARS
    ),
    "cta": longest("Shop the Collection Now", MAX_CTA_CHARS),
    "badge": longest("$1,299.99 WOW", MAX_BADGE_CHARS),
}


def product_sample(size: int = 32) -> np.ndarray:
    """A light product (an ellipse) on a black background, like a Fashion-MNIST sample:
    uint8 (H, W, 1)."""
    y, x = np.mgrid[:size, :size]
    inside = ((x - size / 2) / (size * 0.35)) ** 2 + ((y - size / 2) / (size * 0.25)) ** 2 <= 1
    return (inside * 220).astype(np.uint8)[..., None]


@pytest.mark.parametrize("field", LONGEST)
def test_the_spec_accepts_the_longest_copy_and_not_one_character_more(field):
    """The copy every layout test uses is exactly the longest an ad-creative spec accepts."""
    assert AdCopy(**LONGEST).model_dump() == LONGEST
    with pytest.raises(ValidationError, match=field):
        AdCopy(**{**LONGEST, field: LONGEST[field] + "x"})


@pytest.mark.parametrize("name", SIZES)
def test_exact_pixel_size_of_every_format(name):
    image = render(layout(resolve_format(name), LONGEST), product_sample(), BRAND)
    assert image.size == SIZES[name] and image.mode == "RGB"


def test_every_named_format_is_in_the_table():
    named = {n: size for n, size in SIZES.items() if not n[0].isdigit()}
    assert {n: (f.width, f.height) for n, f in FORMATS.items()} == named and len(named) == 7


@pytest.mark.parametrize("name", SIZES)
def test_longest_copy_fits_inside_the_safe_zone(name):
    fmt = resolve_format(name)
    lay = layout(fmt, LONGEST)
    safe = fmt.safe
    assert {t.element for t in lay.texts} >= {
        "headline",
        "cta",
    }  # the required copy is shown everywhere
    draw = ImageDraw.Draw(render(lay, product_sample(), BRAND))
    for t in lay.texts:
        assert t.fitted.size >= fmt.min_text_px, (t.element, t.fitted.size)
        assert safe.contains(t.ink.x, t.ink.y, t.ink.right, t.ink.bottom), (t.element, t.ink, safe)
        if t.pill is not None:
            assert safe.contains(t.pill.x, t.pill.y, t.pill.right, t.pill.bottom), (
                t.element,
                t.pill,
                safe,
            )
        f = font(t.fitted.face, t.fitted.size)
        for line, origin in zip(t.fitted.lines, t.origins):  # the real glyph boxes Pillow draws
            x0, y0, x1, y1 = draw.textbbox(origin, line, font=f, anchor="la")
            assert t.ink.contains(x0, y0, x1, y1), (t.element, line, (x0, y0, x1, y1), t.ink)
        assert " ".join(t.fitted.lines) == " ".join(
            LONGEST[t.element].split()
        )  # every word shown: nothing cut
    for box in lay.images.values():
        assert safe.contains(box.x, box.y, box.right, box.bottom)


@pytest.mark.parametrize("name", SIZES)
def test_nothing_is_drawn_outside_the_safe_zone(name):
    fmt = resolve_format(name)
    pixels = np.asarray(render(layout(fmt, LONGEST), product_sample(), BRAND))
    outside = np.ones(pixels.shape[:2], bool)
    s = fmt.safe
    outside[s.y : s.bottom, s.x : s.right] = False
    assert (pixels[outside] == BRAND.background).all()


def test_copy_that_cannot_fit_names_the_element_and_the_format():
    copy = {
        **LONGEST,
        "headline": "Supercalifragilisticexpialidocious-ness",
    }  # one word wider than the column
    with pytest.raises(LayoutError) as err:
        layout(FORMATS["skyscraper"], copy)
    assert err.value.element == "headline"
    assert "skyscraper (160x600)" in err.value.message and "11 px" in err.value.message
    layout(FORMATS["square"], copy)  # the same copy fits a large format


def test_text_gets_the_largest_size_that_fits():
    short = layout(FORMATS["square"], {"headline": "Run", "cta": "Go"}).texts[0]
    long = layout(FORMATS["square"], LONGEST).texts[0]
    assert short.element == long.element == "headline"
    assert short.fitted.size > long.fitted.size >= FORMATS["square"].min_text_px
    slot = TEMPLATES["stack"]["headline"]
    box, size = slot_box(FORMATS["square"], slot), long.fitted.size
    assert size < round(slot.max_size * FORMATS["square"].safe.w)  # below the cap, so ...
    assert (
        fit_at(LONGEST["headline"], "black", size + 1, box.w, box.h) is None
    )  # ... one size up does not fit


def test_custom_format_bounds():
    assert resolve_format("640x480").template == "stack"
    assert resolve_format("1500x300").template == "banner"
    assert resolve_format("300x1200").template == "tower"
    for bad, why in [
        ("89x300", "90..2400"),
        ("2401x600", "90..2400"),
        ("100x950", "9 times"),
        ("big", "not a format"),
        ("0640x480", "not a format"),
    ]:
        with pytest.raises(LayoutError, match=why):
            resolve_format(bad)


def test_wcag_contrast():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((10, 20, 30), (10, 20, 30)) == pytest.approx(1.0)
    assert contrast_ratio(parse_hex("#767676"), parse_hex("#FFFFFF")) == pytest.approx(
        4.54, abs=0.01
    )
    assert contrast_ratio(parse_hex("#777777"), parse_hex("#FFFFFF")) == pytest.approx(
        4.48, abs=0.01
    )
    low = Brand.from_hex(
        background="#FFFFFF", text="#777777", accent="#1F4E99", accent_text="#FFFFFF"
    )
    assert [(ink, under, round(r, 2)) for ink, under, r in check_contrast(low)] == [
        ("text", "background", 4.48)
    ]
    assert check_contrast(BRAND) == []


def test_missing_glyphs():
    assert missing_glyphs("Shop now — 30% off €49 “Ça va” …") == []
    assert missing_glyphs("Buy 你好 now 😀") == ["你", "好", "😀"]


def test_product_is_cut_out_of_its_background_and_upscaled():
    fmt = FORMATS["square"]
    lay = layout(fmt, {"headline": "Hi", "cta": "Go"})
    box = lay.images["product"]
    pixels = np.asarray(render(lay, product_sample(), BRAND)).astype(int)
    slot = pixels[box.y : box.bottom, box.x : box.right]
    corners = [slot[0, 0], slot[0, -1], slot[-1, 0], slot[-1, -1]]
    assert all((c == BRAND.background).all() for c in corners)  # no black square pasted on the card
    centre = slot[box.h // 2, box.w // 2]
    assert np.abs(centre - BRAND.background).sum() > 150  # the product itself is drawn, in contrast
    differs = np.abs(slot - np.asarray(BRAND.background)).sum(-1) > 30
    cols, rows = np.nonzero(differs.any(0))[0], np.nonzero(differs.any(1))[0]
    width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert max(width / box.w, height / box.h) > 0.9  # upscaled to fill its slot (32 px -> hundreds)
    assert width / height == pytest.approx(
        22.4 / 16, rel=0.1
    )  # with the product's aspect ratio kept


def test_colour_sample_keeps_its_colours():
    """A three-channel model: a red product on a white background keeps its red, loses the white."""
    sample = np.full((32, 32, 3), 255, np.uint8)
    sample[8:24, 4:28] = (200, 30, 30)
    lay = layout(FORMATS["square"], {"headline": "Hi", "cta": "Go"})
    box = lay.images["product"]
    slot = np.asarray(render(lay, sample, BRAND))[box.y : box.bottom, box.x : box.right].astype(int)
    assert (slot[0, 0] == BRAND.background).all() and (slot[-1, -1] == BRAND.background).all()
    assert np.abs(slot[box.h // 2, box.w // 2] - (200, 30, 30)).max() <= 2


def bfs_pieces(mask: np.ndarray) -> set[frozenset]:
    """Reference: the 8-connected pieces of mask by breadth-first search."""
    seen, pieces = set(), set()
    for start in zip(*np.nonzero(mask)):
        if start in seen:
            continue
        todo, piece = [start], set()
        seen.add(start)
        while todo:
            y, x = todo.pop()
            piece.add((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    q = (y + dy, x + dx)
                    if 0 <= q[0] < mask.shape[0] and 0 <= q[1] < mask.shape[1] and mask[q]:
                        if q not in seen:
                            seen.add(q)
                            todo.append(q)
        pieces.add(frozenset(piece))
    return pieces


@pytest.mark.parametrize("seed", range(6))
def test_matte_pieces_match_a_breadth_first_search(seed):
    mask = np.random.default_rng(seed).random((40, 33)) < 0.45  # many pieces, long snakes
    labels = components(mask)
    ours = {frozenset(zip(*np.nonzero(labels == v))) for v in np.unique(labels[labels >= 0])}
    assert ours == bfs_pieces(mask) and (labels[~mask] == -1).all()


def test_a_spiral_is_one_piece():
    mask = np.zeros((31, 31), bool)
    y0, x0, y1, x1 = 0, 0, 30, 30
    while y0 <= y1 and x0 <= x1:  # a one-pixel wall winding inwards, two pixels apart
        mask[y0, x0 : x1 + 1] = mask[y0 : y1 + 1, x1] = mask[y1, x0 : x1 + 1] = True
        mask[y0 + 2 : y1 + 1, x0] = mask[y0 + 2, x0 + 1] = True  # ... joined to the next turn
        y0, x0, y1, x1 = y0 + 2, x0 + 2, y1 - 2, x1 - 2
    assert len(np.unique(components(mask)[mask])) == 1


def test_main_parts_keep_a_pair_and_drop_specks():
    mask = np.zeros((20, 20), bool)
    mask[2:10, 2:8] = mask[2:9, 11:17] = True  # two shoes: 48 and 42 pixels
    mask[15, 3] = mask[17:19, 15:17] = True  # specks: 1 and 4 pixels
    kept = main_parts(mask)
    assert kept[2:10, 2:8].all() and kept[2:9, 11:17].all() and kept.sum() == 90


def test_specks_on_the_background_are_not_drawn_and_the_product_fills_its_slot():
    sample = np.full((64, 64, 3), 240, np.uint8)  # a light floor
    sample[20:44, 16:40] = (30, 30, 120)  # the product
    sample[58:60, 58:60] = (20, 20, 20)  # a speck of dirt in the corner
    lay = layout(FORMATS["square"], {"headline": "Hi", "cta": "Go"})
    box = lay.images["product"]
    slot = np.asarray(render(lay, sample, BRAND))[box.y : box.bottom, box.x : box.right].astype(int)
    drawn = np.abs(slot - np.asarray(BRAND.background)).sum(-1) > 30
    rows, cols = np.nonzero(drawn.any(1))[0], np.nonzero(drawn.any(0))[0]
    assert rows.max() - rows.min() + 1 >= 0.9 * box.h  # the crop follows the product alone
    assert cols.max() - cols.min() + 1 <= 1.1 * (rows.max() - rows.min() + 1)  # square, no speck
    assert np.abs(slot[box.h // 2, box.w // 2] - (30, 30, 120)).max() <= 2


def test_blank_sample_draws_no_product():
    lay = layout(FORMATS["square"], {"headline": "Hi", "cta": "Go"})
    box = lay.images["product"]
    pixels = np.asarray(render(lay, np.zeros((32, 32, 1), np.uint8), BRAND))
    assert (pixels[box.y : box.bottom, box.x : box.right] == BRAND.background).all()


@pytest.mark.parametrize("file_format", ["png", "jpeg", "webp"])
def test_same_input_same_bytes(file_format):
    fmt = FORMATS["landscape"]
    a = encode(render(layout(fmt, LONGEST), product_sample(), BRAND), file_format)
    b = encode(render(layout(fmt, LONGEST), product_sample(), BRAND), file_format)
    c = encode(render(layout(fmt, LONGEST), product_sample(28), BRAND), file_format)
    assert a == b and a != c
