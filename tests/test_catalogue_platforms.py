"""Shop exports in, import files out: Shopify, Magento 2 and WooCommerce, without servers.

The fixtures under tests/fixtures/catalogue/ follow each platform's documented export columns.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from gan.data import FASHION_MNIST_CLASSES
from jobs.kinds.catalogue_fill.export import (
    ALT_TEXTS,
    EXPORT_FORMATS,
    HEADERS,
    Filled,
    alt_text,
    write_export,
)
from jobs.kinds.catalogue_fill.platforms import (
    compile_rules,
    detect_format,
    parse_category_text,
    read_export,
    read_shopify,
    resolve_category,
    resolve_format,
    to_catalogue_rows,
)
from jobs.kinds.catalogue_fill.platforms.common import records
from jobs.kinds.catalogue_fill.rows import CatalogueFileError, build_mapping, decide_rows
from jobs.kinds.catalogue_fill.spec import CatalogueRow
from jobs.specs import SpecError
from tests.catalogue_fixtures import FILES, FILLED, FIXTURES, HAD_IMAGES

CLASSES = FASHION_MNIST_CLASSES  # the classes of the built-in fashion-mnist-32 model
MAPPING = json.loads((FIXTURES / "mapping.json").read_text())
INVALID = "invalid SKU: only A-Z a-z 0-9 . _ - are allowed, starting with a letter or digit"
TOO_LONG = "invalid SKU: 70 characters, over the limit of 64"


def raw(fmt: str) -> bytes:
    return (FIXTURES / FILES[fmt]).read_bytes()


def url_for(key: str) -> str:
    return f"https://cdn.example.com/{key}"


def notes(items) -> list[tuple[int, str, str]]:
    return [(n.line, n.platform_id, n.reason) for n in items]


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize("fmt", FILES)
def test_auto_detection_names_each_fixture(fmt):
    assert resolve_format(raw(fmt).decode()) == fmt
    assert read_export(raw(fmt)).format == fmt


def test_generic_catalogues_are_detected_as_generic():
    assert resolve_format("sku,category,title\nA1,bag,Tote\n") == "generic"
    assert resolve_format("\ufeffCategory, SKU\nbag,A1\n") == "generic"
    assert resolve_format('{"sku": "A1", "category": "bag"}\n') == "generic"
    with pytest.raises(CatalogueFileError, match="parse_catalogue"):
        read_export("sku,category\nA1,bag\n")


def test_an_ambiguous_header_is_refused_with_the_columns_it_saw():
    text = (FIXTURES / "ambiguous_header.csv").read_text()
    with pytest.raises(CatalogueFileError) as err:
        resolve_format(text)
    message = str(err.value)
    assert "ambiguous" in message and "shopify or woocommerce" in message
    assert "columns seen: Handle,Title,ID,Type,SKU,Name,Variant SKU,Image Src,Images" in message
    assert resolve_format(text, "shopify") == "shopify"  # naming the format settles it


def test_an_unknown_header_is_refused_with_the_columns_it_saw():
    with pytest.raises(CatalogueFileError, match=r"unknown header.*columns seen: Item,Price"):
        detect_format(["Item", "Price"])
    with pytest.raises(CatalogueFileError, match="unknown catalogue format 'ebay'"):
        resolve_format("sku,category\n", "ebay")
    with pytest.raises(CatalogueFileError, match="empty file"):
        resolve_format("")


# ---------------------------------------------------------------- the fixtures are what they claim


def test_fixtures_carry_the_hard_cases():
    assert b"\r\n" in raw("shopify") and b"\n" not in raw("shopify").replace(b"\r\n", b"")
    assert raw("woocommerce").startswith(b"\xef\xbb\xbf")
    assert b"\x00" in raw("magento")
    for fmt in FILES:  # a multi-line quoted HTML body with commas, semicolons and quotes
        bodies = [f for _, fields in records(raw(fmt).decode()) for f in fields if "\n" in f]
        assert any("<" in b and ";" in b and "," in b for b in bodies), fmt
    assert (
        (FIXTURES / FILES["shopify"])
        .read_text()
        .startswith(
            "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,"
        )
    )
    assert (
        (FIXTURES / FILES["magento"])
        .read_text()
        .startswith(
            "sku,store_view_code,attribute_set_code,product_type,categories,product_websites,name,"
        )
    )
    assert (
        raw("woocommerce")
        .decode("utf-8-sig")
        .startswith(
            'ID,Type,SKU,Name,Published,"Is featured?","Visibility in catalog","Short description"'
        )
    )


# ---------------------------------------------------------------- per platform


def test_shopify_units_are_products_with_their_first_line():
    f = read_export(raw("shopify"))
    assert [(u.line, u.platform_id, u.sku, u.has_image) for u in f.units] == [
        (2, "classic-tee", "classic-tee", False),  # its body spans lines 2-6
        (8, "denim-trousers", "denim-trousers", True),  # image on an image-only row (line 10)
        (11, "summer-dress", "summer-dress", True),
        (12, "rain-coat", "rain-coat", True),  # Variant Image on its second variant only
        (15, "wool-pullover", "wool-pullover", False),
        (16, "canvas-bag", "canvas-bag", False),
        (17, "mystery-item", "mystery-item", False),
        (23, "sneaker-run", "sneaker-run", False),
    ]
    by_id = {u.platform_id: u for u in f.units}
    assert by_id["classic-tee"].title == "Classic Tee, organic"
    assert by_id["denim-trousers"].kind_note == "product, 2 variant row(s), 1 image row(s)"
    assert by_id["wool-pullover"].category_paths == (("Knitwear",),)  # Type before the taxonomy
    assert by_id["sneaker-run"].category_paths == (("Apparel & Accessories", "Shoes", "Sneakers"),)
    assert f.skipped == []
    assert notes(f.rejected) == [
        (18, "../../etc/passwd", INVALID),
        (19, "bad\\r\\nhandle", INVALID),
        (21, "a" * 60 + "...(70 chars)", TOO_LONG),
        (22, "", "no Handle"),
    ]
    assert str(f.rejected[0]) == f"line 18: ../../etc/passwd: {INVALID}"


def test_magento_children_and_store_views_are_not_units():
    f = read_export(raw("magento"))
    assert [(u.line, u.sku, u.has_image) for u in f.units] == [
        (4, "MJ01-L-Red", False),  # a child, but visible individually: a unit of its own
        (5, "MJ01", False),
        (7, "MS01", True),
        (9, "WD01", True),  # WD01: additional_images
        (10, "MP01", False),
        (17, "GR01", False),
        (18, "MT01", False),
    ]  # no_selection is no image
    assert {u.sku: u.kind_note for u in f.units}["MJ01"] == "configurable, 3 children"
    assert {u.sku: u.category_paths for u in f.units}["MJ01"] == (
        ("Default Category", "Men", "Tops", "Jackets"),
        ("Default Category", "Collections", "Erin Recommends"),
    )
    child = (
        "child of configurable {!r}, not visible individually: the shop shows the parent's image"
    )
    assert notes(f.skipped) == [
        (2, "MJ01-S-Red", child.format("MJ01")),  # listed before its parent, as Magento exports
        (3, "MJ01-M-Red", child.format("MJ01")),
        (6, "MJ01", "store-view row (de): overrides a product's values, not a product"),
        (8, "WD01-S", child.format("WD01")),
    ]
    assert notes(f.rejected) == [
        (13, "../../etc/passwd", INVALID),
        (14, "bad\\x00sku", INVALID),
        (15, "S" * 60 + "...(70 chars)", TOO_LONG),
        (16, "MP01", "duplicate SKU (first on line 10)"),
    ]  # MP01's description spans 10-12


def test_woocommerce_units_are_non_variations_named_by_id():
    f = read_export(raw("woocommerce"))
    assert [(u.line, u.platform_id, u.sku, u.has_image) for u in f.units] == [
        (2, "10", "woo-tee", False),
        (3, "11", "woo-hoodie-logo", True),
        (4, "20", "woo-hoodie", False),
        (7, "30", "id-30", False),  # no SKU: id-<ID>
        (9, "40", "woo-sneaker", False),
        (16, "43", "woo-belt", False),
        (17, "44", "woo-bag", False),
    ]  # Type "simple, virtual"
    by_id = {u.platform_id: u for u in f.units}
    assert by_id["20"].kind_note == "variable, 2 variation(s)"  # by SKU and by id:20
    assert by_id["30"].category_paths == (("Clothing", "Dresses"), ("Sale",))
    assert by_id["11"].image == "https://shop.example.com/wp-content/uploads/hoodie-logo.jpg"
    assert notes(f.skipped) == [
        (
            5,
            "woo-hoodie-blue",
            "variation of 'woo-hoodie': without its own image it shows its parent's",
        ),
        (6, "woo-hoodie-green", "variation of 'id:20': has its own image"),
        (8, "id:31", "variation of 'id:30': without its own image it shows its parent's"),
    ]
    assert notes(f.rejected) == [
        (13, "../../etc/passwd", INVALID),
        (14, "id-42", "SKU 'id-42' is reserved for products without a SKU (id-<ID>)"),
        (15, "woo-bad-id", "ID 'abc' is not a number"),
        (18, "woo-tee", "duplicate SKU (first on line 2)"),
    ]


@pytest.mark.parametrize("fmt", FILES)
def test_line_ends_and_byte_order_mark_do_not_change_the_reading(fmt):
    text = raw(fmt).decode("utf-8-sig")
    base = read_export(raw(fmt))
    for variant in (
        text.replace("\r\n", "\n"),
        text.replace("\r\n", "\n").replace("\n", "\r\n"),
        "\ufeff" + text,
    ):
        again = read_export(variant, fmt)
        assert again.units == base.units and again.skipped == base.skipped
        assert [(n.line, n.reason) for n in again.rejected] == [
            (n.line, n.reason) for n in base.rejected
        ]


def test_broken_records_are_reported_with_their_line():
    header = "Handle,Title,Type,Image Src\n"
    f = read_shopify(header + "ok-1,One,T-Shirt,\nshort-1,Two\n\n\nok-2,Three,T-Shirt,\n")
    assert [(u.line, u.sku) for u in f.units] == [(2, "ok-1"), (6, "ok-2")]
    assert notes(f.rejected) == [(3, "short-1", "2 fields, expected 4 (as the header)")]
    with pytest.raises(CatalogueFileError, match="line 3: unexpected end of data"):
        read_shopify(header + 'ok-1,One,T-Shirt,\nbad,"unclosed,T-Shirt,\nok-2,Three,T-Shirt,\n')
    with pytest.raises(CatalogueFileError, match="line 2: ',' expected after '\"'"):
        read_shopify(header + 'ok-1,"One"x,T-Shirt,\n')


def test_fifty_thousand_products_parse():
    header = "Handle,Title,Body (HTML),Type,Variant SKU,Image Src\r\n"
    lines = [header]
    for i in range(50_000):
        image = f"https://cdn.example.com/p{i}.jpg" if i % 4 == 0 else ""
        lines.append(
            f'p-{i},"Product {i}, blue","<p>Line one;\r\nline two, ""quoted""</p>",'
            f"T-Shirt,P{i}-S,{image}\r\n"
        )
        if i % 10 == 0:
            lines.append(f"p-{i},,,,P{i}-M,\r\n")
    f = read_export("".join(lines))
    assert f.format == "shopify" and len(f.units) == 50_000 and not f.rejected
    assert sum(u.has_image for u in f.units) == 12_500
    assert f.units[-1].line == 1 + 2 * 50_000 + 5_000 - 1  # each product row spans two lines
    rows = to_catalogue_rows(f.units, MAPPING, CLASSES)
    assert len(rows) == 50_000 and {r["category"] for r in rows} == {"t-shirt"}


# ---------------------------------------------------------------- path-aware mapping


def test_the_most_specific_rule_wins():
    rules = {
        "Men/Tops/Jackets": "coat",
        "Tops/Jackets": "shirt",
        "Jackets": "pullover",
        "Men": "trouser",
        "Default Category > Men > Tops > Jackets": "dress",
    }
    path = ["Default Category/Men/Tops/Jackets"]
    assert resolve_category(path, rules, CLASSES)[0] == "dress"  # the full path
    del rules["Default Category > Men > Tops > Jackets"]
    assert resolve_category(path, rules, CLASSES) == (
        "coat",
        "rule 'Men/Tops/Jackets' (a suffix of 'Default Category > Men > Tops > Jackets')",
    )
    del rules["Men/Tops/Jackets"]
    assert resolve_category(path, rules, CLASSES)[0] == "shirt"  # the longer suffix
    del rules["Tops/Jackets"]
    assert resolve_category(path, rules, CLASSES)[0] == "pullover"  # the last segment
    del rules["Jackets"]
    assert resolve_category(path, rules, CLASSES) == (
        "trouser",
        "rule 'Men' (a segment of 'Default Category > Men > Tops > Jackets')",
    )


def test_segments_nearer_the_leaf_and_earlier_paths_win_ties():
    rules = {"Men": "trouser", "Tops": "shirt"}
    assert resolve_category(["Men/Tops/Jackets"], rules, CLASSES)[0] == "shirt"
    two = [("Sale", "Bags"), ("Women", "Dresses")]
    assert resolve_category(two, {"Bags": "bag", "Dresses": "dress"}, CLASSES)[0] == "bag"
    assert resolve_category(two, {"Bags": "bag", "Women > Dresses": "dress"}, CLASSES)[0] == "dress"


def test_without_a_rule_the_last_segment_is_tried_against_the_classes():
    assert resolve_category(["Clothing > Dress"], {}, CLASSES) == (
        "dress",
        "last segment 'Dress' is a model class",
    )
    assert resolve_category(["Ankle-Boot/Winter"], {}, CLASSES)[0] is None  # not the last
    model_class, why = resolve_category(["Gear/Fitness Equipment", ""], {}, CLASSES)
    assert model_class is None and "no mapping rule matches 'Gear > Fitness Equipment'" in why
    assert resolve_category([], {}, CLASSES)[0] is None


def test_matching_ignores_case_outer_spaces_and_the_separator():
    rules = {"  men / TOPS / jackets ": "coat"}
    assert resolve_category(["Default Category/Men/Tops/Jackets"], rules, CLASSES)[0] == "coat"
    assert resolve_category(["Men > Tops > Jackets"], rules, CLASSES)[0] == "coat"
    assert resolve_category([("MEN", " tops", "Jackets ")], rules, CLASSES)[0] == "coat"


def test_bad_rules_are_refused():
    with pytest.raises(SpecError, match="not a class of the model"):
        compile_rules({"Jackets": "outerwear"}, CLASSES)
    with pytest.raises(SpecError, match="the same path as 'Men/Tops'"):
        compile_rules({"Men/Tops": "shirt", "men > tops": "coat"}, CLASSES)
    with pytest.raises(SpecError, match="names no category"):
        compile_rules({" / ": "shirt"}, CLASSES)


def test_unresolved_categories_travel_as_text_the_planner_can_split():
    f = read_export(raw("magento"))
    rows = to_catalogue_rows(f.units)  # no classes: every category as text
    mj01 = next(r for r in rows if r["sku"] == "MJ01")
    assert mj01["category"] == (
        "Default Category > Men > Tops > Jackets | Default Category > Collections > Erin Recommends"
    )
    paths = parse_category_text(mj01["category"])
    assert resolve_category(paths, MAPPING, CLASSES)[0] == "coat"


# ---------------------------------------------------------------- into the job's rows


@pytest.mark.parametrize("fmt", FILES)
def test_units_become_rows_the_job_decides(fmt):
    units = read_export(raw(fmt)).units
    rows = to_catalogue_rows(units, MAPPING, CLASSES)
    assert [r["sku"] for r in rows] == [u.sku for u in units]  # one row per unit, in order
    plans = decide_rows([CatalogueRow(**r) for r in rows], build_mapping({}, CLASSES), {}, "jpeg")
    by_id = {units[p.row - 1].platform_id: p for p in plans}
    assert {i for i, p in by_id.items() if p.outcome == "generate"} == FILLED[fmt]
    assert {i for i, p in by_id.items() if p.outcome == "skipped"} == HAD_IMAGES[fmt]
    rejected = {i: p.reason for i, p in by_id.items() if p.outcome == "rejected"}
    assert len(rejected) == 1 and "unknown category" in next(iter(rejected.values()))


# ---------------------------------------------------------------- import files


def parsed(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_headers_are_exactly_the_importers():
    filled = [Filled("tee", "tee", "catalogue/tee/synthetic.jpg")]
    expected = {
        "shopify": "Handle,Image Src,Image Position,Image Alt Text",
        "magento": "sku,base_image,base_image_label,small_image,small_image_label,"
        "thumbnail_image,thumbnail_image_label",
        "woocommerce": "ID,SKU,Images",
        "csv": "sku,key,url",
    }
    for fmt in EXPORT_FORMATS:
        out = write_export(fmt, filled, url_for, {"tee": "synthetic"})
        assert out.text.splitlines()[0] == expected[fmt] == ",".join(HEADERS[fmt])
        assert out.rows == 1


def test_superseded_and_unfinished_skus_are_never_exported():
    filled = [
        Filled("a", "a", "catalogue/a/synthetic.jpg"),
        Filled("b", "b", "catalogue/b/synthetic.jpg"),
        Filled("c", "c", "catalogue/c/synthetic.jpg"),
        Filled("d", "d", "catalogue/d/synthetic.jpg"),
        Filled("a", "a", "catalogue/a/synthetic.jpg"),
    ]
    states = {"a": "synthetic", "b": "real", "c": "missing"}
    out = write_export("shopify", filled, url_for, states)
    assert [r["Handle"] for r in parsed(out.text)] == ["a"]
    assert out.left_out == [
        ("b", "superseded: a real image arrived"),
        ("c", "no synthetic image (state missing)"),
        ("d", "no synthetic image (state unknown)"),
        ("a", "this unit is already in the file"),
    ]


def test_alt_text_says_synthetic_in_the_chosen_language():
    assert set(ALT_TEXTS) >= {"en", "de", "fr", "es"}
    filled = [Filled("MJ01", "MJ01", "catalogue/MJ01/synthetic.jpg")]
    row = parsed(write_export("magento", filled, url_for, {"MJ01": "synthetic"}, "de").text)[0]
    url = url_for("catalogue/MJ01/synthetic.jpg")
    assert row == {
        "sku": "MJ01",
        "base_image": url,
        "small_image": url,
        "thumbnail_image": url,
        "base_image_label": ALT_TEXTS["de"],
        "small_image_label": ALT_TEXTS["de"],
        "thumbnail_image_label": ALT_TEXTS["de"],
    }
    assert "Synthetisch" in ALT_TEXTS["de"] and "synthétique" in ALT_TEXTS["fr"]
    override = 'Bild: synthetisch, "KI"'
    out = write_export("shopify", filled, url_for, {"MJ01": "synthetic"}, alt=override)
    assert parsed(out.text)[0]["Image Alt Text"] == override  # quoted by the csv module
    assert alt_text("fr") == ALT_TEXTS["fr"]
    with pytest.raises(ValueError, match="no alt text for language 'pt'"):
        alt_text("pt")


def test_woocommerce_import_keeps_a_product_without_sku_without_one():
    filled = [
        Filled("30", "id-30", "catalogue/id-30/synthetic.jpg"),
        Filled("10", "woo-tee", "catalogue/woo-tee/synthetic.jpg"),
    ]
    states = {"id-30": "synthetic", "woo-tee": "synthetic"}
    out = write_export("woocommerce", filled, url_for, states)
    assert [(r["ID"], r["SKU"]) for r in parsed(out.text)] == [("30", ""), ("10", "woo-tee")]


@pytest.mark.parametrize("fmt", FILES)
def test_round_trip_export_fill_import(fmt):
    units = read_export(raw(fmt)).units
    rows = to_catalogue_rows(units, MAPPING, CLASSES)
    plans = decide_rows([CatalogueRow(**r) for r in rows], build_mapping({}, CLASSES), {}, "jpeg")
    generated = [p for p in plans if p.outcome == "generate"]
    filled = [Filled(units[p.row - 1].platform_id, p.sku, p.key) for p in generated]
    states = {p.sku: p.state for p in plans if p.state}  # real for rows that had images
    states.update({p.sku: "synthetic" for p in generated})  # the fill wrote every image
    superseded = generated[0]
    states[superseded.sku] = "real"  # a photo arrived for one after the fill
    out = write_export(fmt, filled, url_for, states)
    back = parsed(out.text)
    ident = {"shopify": "Handle", "magento": "sku", "woocommerce": "ID"}[fmt]
    image = {"shopify": "Image Src", "magento": "base_image", "woocommerce": "Images"}[fmt]
    ids = [r[ident] for r in back]
    expected = FILLED[fmt] - {units[superseded.row - 1].platform_id}
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))  # each exactly once
    assert not set(ids) & HAD_IMAGES[fmt]
    key_of = {f.unit: f.key for f in filled}
    assert all(r[image] == url_for(key_of[r[ident]]) for r in back)
    assert out.left_out == [(superseded.sku, "superseded: a real image arrived")]
    assert out.text.endswith("\r\n") and out.text.count("\r\n") == len(expected) + 1
