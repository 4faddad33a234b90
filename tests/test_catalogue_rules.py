"""Catalogue fill, the rules without servers: SKUs, files, mapping, row decisions, spec limits,
tiles, scores."""

from __future__ import annotations

import json
import re

import pytest

from jobs.kinds.catalogue_fill.rows import (
    CatalogueFileError,
    bucket_images,
    build_mapping,
    catalogue_key,
    decide_rows,
    parse_catalogue,
    parse_mapping,
    shown,
    sku_problem,
)
from jobs.kinds.catalogue_fill.spec import (
    CATALOGUE_SIZE_MAX,
    CATALOGUE_SIZE_MIN,
    MAX_CATALOGUE_ROWS,
    MAX_ROW_FIELD_CHARS,
    MAX_TITLE_CHARS,
    CatalogueRow,
)
from jobs.kinds.registry import parse_spec
from jobs.seeds import sku_seeds
from jobs.specs import CANDIDATES_MAX, MAX_SKU_CHARS, SpecError

CLASSES = ("t-shirt", "trouser", "sneaker", "bag")
HOSTILE = [
    "../x",
    "a/b",
    "a\x00b",
    "A" * 2000,
    "..",
    ".hidden",
    "sku with space",
    "",
    "ünï",
    "a\\b",
    "%2e%2e",
]


@pytest.mark.parametrize("sku", ["A", "sku-001", "SKU_9.v2", "a" * MAX_SKU_CHARS, "0abc"])
def test_valid_skus(sku):
    assert sku_problem(sku) is None
    assert catalogue_key(sku, "jpeg") == f"catalogue/{sku}/synthetic.jpg"


@pytest.mark.parametrize("sku", HOSTILE + ["a" * (MAX_SKU_CHARS + 1)])
def test_hostile_skus_are_refused_and_shown_escaped(sku):
    assert sku_problem(sku) is not None
    with pytest.raises(AssertionError):
        catalogue_key(sku, "png")  # never reaches an object key
    text = shown(sku)
    assert text.isprintable() and "\x00" not in text and len(text) <= 80


def test_csv_with_optional_columns_and_quoting():
    text = 'sku,category,title,image\nA1,Sneakers,"Runner, blue",\nA2,bag,,https://cdn/x.jpg\n\nA3,Bags,,\n'
    rows = parse_catalogue(text)
    assert rows == [  # each with the line its record starts on (line 4 is blank)
        {"sku": "A1", "category": "Sneakers", "title": "Runner, blue", "line": 2},
        {"sku": "A2", "category": "bag", "image": "https://cdn/x.jpg", "line": 3},
        {"sku": "A3", "category": "Bags", "line": 5},
    ]
    assert parse_catalogue("category,sku\nbag,B1\n") == [
        {"category": "bag", "sku": "B1", "line": 2}
    ]
    multi = parse_catalogue('sku,category,title\nA1,bag,"two\nlines"\nA2,bag,\n')
    assert [r["line"] for r in multi] == [2, 4]  # a quoted field spanning lines 2-3


def test_csv_keeps_a_nul_sku_as_a_row():  # judged (and rejected) per row, not a file error
    assert parse_catalogue("sku,category\na\x00b,bag\n") == [
        {"sku": "a\x00b", "category": "bag", "line": 2}
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "line 1: empty catalogue"),
        ("sku,colour\nA,red\n", "line 1: the header must name the columns"),
        ("sku,category,sku\nA,b,c\n", "line 1: the header must name the columns"),
        ("sku,category\nA,bag\nB,bag,extra\n", "line 3: 3 fields, expected 2"),
        ("sku,category\nA,bag\nB," + "x" * 200_000 + "\n", "line 3: field larger than field limit"),
        ('{"sku": "A", "category": "bag"}\n{"sku": "B", "category": \n', "line 2: not valid JSON"),
        (
            '{"sku": "A", "category": "bag"}\n\n["B", "bag"]\n',
            "line 3: expected a JSON object, got list",
        ),
        ('{"sku": "A"}\n', "line 1: missing field 'category'"),
        ('{"sku": "A", "category": "bag", "colour": "red"}\n', "line 1: unknown field(s) 'colour'"),
        ('{"sku": 7, "category": "bag"}\n', "line 1: field(s) 'sku' must be strings"),
    ],
)
def test_bad_files_name_the_line(text, message):
    with pytest.raises(CatalogueFileError, match="^" + re.escape(message)):
        parse_catalogue(text)


def test_json_lines():
    text = (
        '{"sku": "A1", "category": "Sneakers", "title": "Runner"}\n\n'
        '{"sku": "A2", "category": "bag", "image": null}\n'
    )
    assert parse_catalogue(text) == [
        {"sku": "A1", "category": "Sneakers", "title": "Runner", "line": 1},
        {"sku": "A2", "category": "bag", "line": 3},
    ]


def test_mapping_files_and_matching():
    assert parse_mapping('{"Sneakers": "sneaker"}') == {"Sneakers": "sneaker"}
    assert parse_mapping("category,class\nSneakers,sneaker\nTote Bags, bag\n") == {
        "Sneakers": "sneaker",
        "Tote Bags": "bag",
    }
    with pytest.raises(CatalogueFileError, match="^line 2: 3 fields"):
        parse_mapping("Sneakers,sneaker\nBags,bag,x\n")
    mapping = build_mapping({"Sneakers": "sneaker", "Tote Bags": "bag"}, CLASSES)
    assert (
        mapping["sneakers"] == "sneaker"
        and mapping["tote bags"] == "bag"
        and mapping["t-shirt"] == "t-shirt"
    )


def test_mapping_to_an_unknown_class_or_twice_is_a_spec_error_naming_the_entry():
    with pytest.raises(SpecError) as err:
        build_mapping({"Sneakers": "sneakerz"}, CLASSES)
    assert (
        err.value.field == "mapping.Sneakers" and "'sneakerz' is not a class" in err.value.message
    )
    with pytest.raises(SpecError) as err:
        build_mapping({"Bags": "bag", " bags": "bag"}, CLASSES)
    assert err.value.field == "mapping. bags"


def _rows(*dicts):
    return [CatalogueRow(**d) for d in dicts]


def test_row_decisions():
    listing = [
        "catalogue/HAS-REAL/front.jpg",
        "catalogue/HAS-SYN/synthetic.png",
        "catalogue/BOTH/synthetic.jpg",
        "catalogue/BOTH/photo.png",
        "catalogue/../evil/x.png",
        "catalogue/loose.png",
    ]
    images = bucket_images(listing)
    assert set(images) == {"HAS-REAL", "HAS-SYN", "BOTH"}
    plans = decide_rows(
        _rows(
            {"sku": "NEW", "category": "Sneakers"},
            {"sku": "NAMED", "category": "Unknown", "image": "https://cdn/p.jpg"},
            {"sku": "HAS-REAL", "category": "bag"},
            {"sku": "HAS-SYN", "category": "bag"},
            {"sku": "BOTH", "category": "bag"},
            {"sku": "ODD", "category": "Hats"},
            {"sku": "../x", "category": "bag"},
            {"sku": "NEW", "category": "bag"},
            {"sku": "LONG", "category": "bag", "title": "t" * (MAX_TITLE_CHARS + 1)},
        ),
        build_mapping({"Sneakers": "sneaker"}, CLASSES),
        images,
        "png",
    )
    got = [(p.sku, p.outcome, p.state) for p in plans]
    assert got == [
        ("NEW", "generate", "missing"),
        ("NAMED", "skipped", "real"),
        ("HAS-REAL", "skipped", "real"),
        ("HAS-SYN", "skipped", "synthetic"),
        ("BOTH", "skipped", "real"),
        ("ODD", "rejected", "rejected"),
        ("../x", "rejected", None),
        ("NEW", "rejected", None),
        ("LONG", "rejected", "rejected"),
    ]
    assert plans[0].key == "catalogue/NEW/synthetic.png" and plans[0].model_class == "sneaker"
    assert (
        plans[2].reason == "real image in the bucket: catalogue/HAS-REAL/front.jpg"
        and not plans[2].supersede
    )
    assert plans[4].supersede and plans[4].key == "catalogue/BOTH/synthetic.jpg"
    assert "unknown category 'Hats'" in plans[5].reason
    assert (
        plans[6].reason.startswith("invalid SKU")
        and plans[7].reason == "duplicate SKU (first on row 1)"
    )
    assert "over the limit of 200" in plans[8].reason


def test_spec_limits_are_explicit():
    base = {"kind": "catalogue_fill", "rows": [{"sku": "A", "category": "bag"}]}
    assert parse_spec(base).candidates == 4 and parse_spec(base).size == 800
    assert parse_spec(base).background == "sample"
    assert parse_spec({**base, "background": "#ffffff"}).background == "#ffffff"
    too_many = {
        **base,
        "rows": [{"sku": f"S{i}", "category": "bag"} for i in range(MAX_CATALOGUE_ROWS + 1)],
    }
    huge = "A" * (MAX_ROW_FIELD_CHARS + 1)
    for bad, field in [
        (too_many, "rows"),
        ({**base, "rows": []}, "rows"),
        ({**base, "size": CATALOGUE_SIZE_MIN - 1}, "size"),
        ({**base, "size": CATALOGUE_SIZE_MAX + 1}, "size"),
        ({**base, "candidates": 0}, "candidates"),
        ({**base, "candidates": CANDIDATES_MAX + 1}, "candidates"),
        ({**base, "background": "white"}, "background"),
        ({**base, "background": "#FFF"}, "background"),
        ({**base, "rows": [{"sku": "A", "category": "bag", "colour": "red"}]}, "rows.0.colour"),
        ({**base, "rows": [{"sku": huge, "category": "bag"}]}, "rows.0.sku"),
        ({**base, "mapping": {"": "bag"}}, "mapping..[key]"),
    ]:
        with pytest.raises(SpecError) as err:
            parse_spec(bad)
        assert err.value.field == field
    # a hostile SKU is not a spec error: its row is rejected on its own at planning
    assert (
        parse_spec({**base, "rows": [{"sku": "A" * 2000, "category": "bag"}]}).rows[0].sku
        == "A" * 2000
    )
    assert (
        parse_spec(json.dumps({"category": "bag", "count": 1})).kind == "generate"
    )  # no kind: generate


def test_candidate_seeds_depend_on_sku_and_model_version_only():
    assert sku_seeds("A1", "v1", 4) == sku_seeds("A1", "v1", 4)
    assert sku_seeds("A1", "v1", 4)[:2] == sku_seeds("A1", "v1", 2)
    assert len(set(sku_seeds("A1", "v1", 4))) == 4
    assert sku_seeds("A1", "v2", 4) != sku_seeds("A1", "v1", 4) != sku_seeds("A2", "v1", 4)
