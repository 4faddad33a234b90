"""Catalogue fill end to end: PostgreSQL + Redis + moto S3 + a real worker, driven through the
CLI."""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import pytest
from PIL import Image

from jobs import service
from jobs.db.tables import CatalogueSku
from tests.support import FMNIST_DIR, run_cli

pytestmark = pytest.mark.integration

HOSTILE = ["../x", "a/b", "a\x00b", "A" * 2000, ".."]
MAPPING = {"Sneakers": "sneaker", "Bags": "bag", "T-Shirts": "t-shirt"}
CATEGORIES = [
    "Sneakers",
    "Bags",
    "T-Shirts",
    "trouser",
]  # the last one: a model class needs no mapping


@pytest.fixture(scope="session")
def scored_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny generator with the built-in fashion-mnist-32 model's classifier beside it (same
    classes)."""
    folder = tmp_path_factory.mktemp("scored") / "model"
    shutil.copytree(tiny_model, folder)
    for name in ("classifier.safetensors", "classifier.json"):
        shutil.copy(FMNIST_DIR / name, folder / name)
    return folder


def catalogue_rows() -> list[dict]:
    """200 rows: 105 to generate, 60 naming an image, 20 with an object in the bucket, 10 unknown,
    5 hostile."""
    rows = [
        {"sku": f"GEN-{i:03d}", "category": CATEGORIES[i % 4], "title": f"Product {i}", "image": ""}
        for i in range(105)
    ]
    rows += [
        {
            "sku": f"IMG-{i:03d}",
            "category": "Bags",
            "title": "",
            "image": f"https://cdn.example/{i}.jpg",
        }
        for i in range(60)
    ]
    rows += [
        {"sku": f"HAS-{i:03d}", "category": "Sneakers", "title": "", "image": ""} for i in range(20)
    ]
    rows += [
        {"sku": f"ODD-{i:03d}", "category": "Hats", "title": "", "image": ""} for i in range(10)
    ]
    rows += [{"sku": sku, "category": "Bags", "title": "", "image": ""} for sku in HOSTILE]
    random.Random(4).shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    import csv

    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["sku", "category", "title", "image"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def submit(env: dict, csv_path: Path, mapping: Path, *extra: str) -> dict:
    out = run_cli(
        env,
        "submit",
        "catalogue-fill",
        "--catalogue",
        str(csv_path),
        "--mapping",
        str(mapping),
        "--candidates",
        "3",
        "--wait",
        "--json",
        *extra,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    job_id = json.JSONDecoder().raw_decode(out.stdout)[0][
        "id"
    ]  # the job JSON, then the waited outcome
    shown = run_cli(env, "jobs", "show", job_id)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def synthetic_keys(store) -> set[str]:
    return {k for k in store.list("catalogue/") if k.endswith("/synthetic.jpg")}


def states(sf) -> dict[str, CatalogueSku]:
    from sqlalchemy import select

    with sf() as s:
        return {r.sku: r for r in s.scalars(select(CatalogueSku))}


def test_catalogue_fill_generates_only_what_is_missing(
    prod_env, own_pg_url, app_for, start_worker, scored_model, tmp_path
):
    # SKU states span jobs: a database of its own, so `catalogue status` counts only this catalogue
    env = {
        **prod_env,
        "ASSETGEN_DATABASE_URL": own_pg_url,
        "ASSETGEN_DEFAULT_MODEL": str(scored_model),
    }
    settings, sf, store = app_for(env)
    for i in range(20):  # real photos already in the bucket
        store.put_new(f"catalogue/HAS-{i:03d}/front.jpg", b"real photo", "image/jpeg", {})
    rows = catalogue_rows()
    csv_path, mapping = write_csv(tmp_path / "cat.csv", rows), tmp_path / "map.json"
    mapping.write_text(json.dumps(MAPPING))
    start_worker(env)

    job = submit(env, csv_path, mapping, "--skus-per-item", "16")
    assert job["status"] == "succeeded" and job["images_done"] == 105 and job["items"] == "7/7"
    assert job["catalogue"] == {
        "read": 200,
        "skipped": 80,
        "generated": 105,
        "rejected": 15,
        "failed": 0,
    }
    assert "rows" not in job["spec"]  # rows live in SQL, not in the job's spec
    assert len(synthetic_keys(store)) == 105
    manifest = json.loads(store.get(job["manifest"]))
    check_manifest(manifest, rows)
    check_objects(store, manifest["assets"])
    by_sku = states(sf)
    counts = {
        s: sum(r.state == s for r in by_sku.values())
        for s in ("missing", "synthetic", "real", "rejected")
    }
    assert counts == {"missing": 0, "synthetic": 105, "real": 80, "rejected": 10}
    assert by_sku["GEN-000"].score == manifest_score(manifest, "GEN-000")

    again = submit(env, csv_path, mapping)  # the same catalogue again: nothing new
    assert again["status"] == "succeeded" and again["images"] == 0 and again["images_done"] == 0
    assert again["catalogue"] == {
        "read": 200,
        "skipped": 185,
        "generated": 0,
        "rejected": 15,
        "failed": 0,
    }
    assert len(synthetic_keys(store)) == 105

    # real images arrive: GEN-000 as an object in the bucket, GEN-001 named by its row
    store.put_new("catalogue/GEN-000/photo.png", b"real", "image/png", {})
    for row in rows:
        row["image"] = "https://cdn.example/new.jpg" if row["sku"] == "GEN-001" else row["image"]
    third = submit(env, write_csv(tmp_path / "cat2.csv", rows), mapping, "--delete-superseded")
    assert third["catalogue"]["generated"] == 0 and third["catalogue"]["skipped"] == 185
    assert len(synthetic_keys(store)) == 103
    assert (
        store.head("catalogue/GEN-000/synthetic.jpg") is None
        and store.get("catalogue/GEN-000/photo.png") == b"real"
    )
    by_sku = states(sf)
    for sku in ("GEN-000", "GEN-001"):
        r = by_sku[sku]
        assert (r.state, r.synthetic_deleted, r.synthetic_key) == (
            "real",
            True,
            f"catalogue/{sku}/synthetic.jpg",
        )
        assert (
            r.superseded_at is not None and r.score is not None
        )  # the synthetic image's facts are kept

    # GEN-002's photo arrives (kept side by side without --delete-superseded); GEN-001's row no
    # longer names its image and its synthetic one was deleted: it has no image again and is
    # regenerated
    store.put_new("catalogue/GEN-002/photo.png", b"real", "image/png", {})
    fourth = submit(env, csv_path, mapping)
    assert (
        fourth["catalogue"]["generated"] == 1
        and fourth["images_done"] == 1
        and fourth["status"] == "succeeded"
    )
    by_sku = states(sf)
    r = by_sku["GEN-002"]
    assert (r.state, r.synthetic_deleted) == ("real", False) and r.superseded_at is not None
    assert (
        store.head("catalogue/GEN-002/synthetic.jpg")["synthetic"] == "true"
    )  # kept, marked superseded
    assert by_sku["GEN-001"].state == "synthetic" and by_sku["GEN-001"].superseded_at is None
    assert len(synthetic_keys(store)) == 104

    status = run_cli(env, "catalogue", "status", "--state", "real", "--limit", "1000", "--json")
    listed = json.loads(status.stdout)
    assert listed["counts"] == {"missing": 0, "synthetic": 103, "real": 82, "rejected": 10}
    assert len(listed["skus"]) == 82 and {r["state"] for r in listed["skus"]} == {"real"}
    assert {r["sku"] for r in listed["skus"] if r["superseded_at"]} == {"GEN-000", "GEN-002"}


def manifest_score(manifest: dict, sku: str) -> float:
    return next(a["score"] for a in manifest["assets"] if a["sku"] == sku)


def check_manifest(manifest: dict, rows: list[dict]) -> None:
    cat = manifest["catalogue"]
    assert cat["counts"] == {
        "read": 200,
        "skipped": 80,
        "generated": 105,
        "rejected": 15,
        "failed": 0,
    }
    assert len(cat["rows"]) == 200 and [r["row"] for r in cat["rows"]] == list(range(1, 201))
    for given, got in zip(rows, cat["rows"]):
        kind = given["sku"][:4] if given["sku"] not in HOSTILE else "hostile"
        expected = {
            "GEN-": "generated",
            "IMG-": "skipped",
            "HAS-": "skipped",
            "ODD-": "rejected",
            "hostile": "rejected",
        }[kind]
        assert got["outcome"] == expected, (given["sku"][:20], got)
        reason = got["reason"] or ""
        assert {
            "GEN-": reason == "" and got["score"] is not None,
            "IMG-": reason == "row names an image",
            "HAS-": reason.startswith("real image in the bucket: catalogue/HAS-"),
            "ODD-": "unknown category 'Hats'" in reason,
            "hostile": reason.startswith("invalid SKU"),
        }[kind]
        assert "\x00" not in got["sku"] and len(got["sku"]) <= 100
    assert len(manifest["assets"]) == 105


def check_objects(store, assets: list[dict]) -> None:
    for a in assets[:5]:
        meta = store.head(a["key"])
        assert (
            meta["synthetic"] == "true"
            and meta["sku"] == a["sku"]
            and meta["score"] == f"{a['score']:.6f}"
        )
        assert (
            meta["score-method"].startswith("classifier:")
            and a["score_method"] == meta["score-method"]
        )
        assert meta["seed"] == str(a["seed"]) and meta["version"] == a["version"]
        assert 0.0 <= a["score"] <= 1.0 and a["score"] == max(a["candidate_scores"])
        assert (
            Image.open(io.BytesIO(store.get(a["key"]))).size
            == (800, 800)
            == (a["width"], a["height"])
        )


def test_submit_reads_json_lines_and_rejects_bad_files(embedded_env, app_for, tmp_path):
    settings, sf, _ = app_for(embedded_env)
    good = tmp_path / "cat.jsonl"
    good.write_text(
        '{"sku": "J1", "category": "bag"}\n{"sku": "J2", "category": "Hats"}\n'
        '{"sku": "J3", "category": "sneaker", "image": "https://cdn/x.jpg"}\n'
    )
    out = run_cli(embedded_env, "submit", "catalogue-fill", "--catalogue", str(good), "--json")
    assert out.returncode == 0, out.stderr
    job = service.get_job(sf, json.loads(out.stdout)["id"])
    assert (job.kind, job.total_images, job.total_items, job.spec["candidates"]) == (
        "catalogue_fill",
        1,
        1,
        4,
    )

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,category\nA,bag\nB,bag,oops\n")
    out = run_cli(embedded_env, "submit", "catalogue-fill", "--catalogue", str(bad))
    assert out.returncode == 1 and "catalogue: line 3: 3 fields, expected 2" in out.stderr
    mapping = tmp_path / "map.json"
    mapping.write_text('{"Bags": "handbag"}')
    out = run_cli(
        embedded_env,
        "submit",
        "catalogue-fill",
        "--catalogue",
        str(good),
        "--mapping",
        str(mapping),
    )
    assert out.returncode == 1 and "mapping.Bags: 'handbag' is not a class" in out.stderr
    assert len(service.list_jobs(sf)) == 1  # nothing written for the refused specs


def test_catalogue_status_cli(embedded_env, app_for, tmp_path):
    settings, sf, store = app_for(embedded_env)
    store.put_new("catalogue/S2/front.jpg", b"real", "image/jpeg", {})
    rows = [
        {"sku": "S1", "category": "bag"},
        {"sku": "S2", "category": "bag"},
        {"sku": "S3", "category": "Hats"},
        {"sku": "a/b", "category": "bag"},
    ]
    service.submit(sf, settings, {"kind": "catalogue_fill", "rows": rows})
    out = run_cli(embedded_env, "catalogue", "status", "--json")
    got = json.loads(out.stdout)
    assert got["counts"] == {"missing": 1, "synthetic": 0, "real": 1, "rejected": 1}
    assert [(r["sku"], r["state"]) for r in got["skus"]] == [
        ("S1", "missing"),
        ("S2", "real"),
        ("S3", "rejected"),
    ]
    one = json.loads(run_cli(embedded_env, "catalogue", "status", "--sku", "S3", "--json").stdout)[
        "skus"
    ]
    assert len(one) == 1 and "unknown category 'Hats'" in one[0]["reason"]
    text = run_cli(embedded_env, "catalogue", "status", "--state", "real").stdout
    assert text.splitlines()[0] == "missing: 1  synthetic: 0  real: 1  rejected: 1"
    assert (
        "S2" in text
        and "S1" not in text
        and "real image in the bucket: catalogue/S2/front.jpg" in text
    )

    from jobs.kinds.planning import category_of

    with sf() as s:
        assert (
            category_of(s, "S1"),
            category_of(s, "S3"),
            category_of(s, "nope"),
            category_of(s, "../x"),
        ) == ("bag", None, None, None)


def test_ten_thousand_rows_are_accepted_in_a_few_set_based_statements(
    pg_url, app_for, tiny_model, tmp_path
):
    import time

    from sqlalchemy import event, func, select

    from jobs.db.tables import CatalogueRowOutcome, WorkItem

    env = {
        "ASSETGEN_HOME": str(tmp_path / "home"),
        "ASSETGEN_DATABASE_URL": pg_url,
        "ASSETGEN_DEFAULT_MODEL": str(tiny_model),
    }
    settings, sf, store = app_for(env)
    rows = [
        {"sku": f"TEN-{i:05d}", "category": ("Sneakers", "bag")[i % 2], "title": f"Product {i}"}
        for i in range(10_000)
    ]
    statements: list[str] = []
    engine = sf.kw["bind"]

    def listener(conn, cursor, sql, params, context, many):
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", listener)
    start = time.perf_counter()
    try:
        job = service.submit(
            sf, settings, {"kind": "catalogue_fill", "rows": rows, "mapping": MAPPING}
        )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    print(
        f"10,000-row catalogue submit on PostgreSQL: {time.perf_counter() - start:.2f} s, "
        f"{len(statements)} statements"
    )
    service.cancel_job(
        sf, job.id
    )  # no worker runs it: leave no queued items in the session's database
    assert len(statements) < 30  # executemany batches count once: never a round trip per row
    assert (job.total_items, job.total_images) == (157, 10_000)  # 64 SKUs per item
    with sf() as s:
        assert s.scalar(select(func.count()).where(CatalogueRowOutcome.job_id == job.id)) == 10_000
        assert (
            s.scalar(
                select(func.count()).where(
                    CatalogueSku.sku.like("TEN-%"), CatalogueSku.state == "missing"
                )
            )
            == 10_000
        )
        samples = s.scalars(
            select(WorkItem.params["samples"].as_integer()).where(WorkItem.job_id == job.id)
        )
        assert sum(samples) == 40_000  # 4 candidates per SKU
