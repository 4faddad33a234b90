"""Platform exports through real jobs: a shop's export file -> `assetgen submit catalogue-fill`
(or POST /v1/jobs) -> a real worker fills it -> `assetgen catalogue export` (or GET
/v1/jobs/{id}/export) -> the import file parsed back. PostgreSQL + Redis + moto S3.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobs import service
from jobs.kinds.catalogue_fill.platforms import read_catalogue, read_export
from jobs.kinds.catalogue_fill.rows import CatalogueFileError
from jobs.kinds.catalogue_fill.spec import (
    MAX_CATALOGUE_BYTES,
    MAX_CATALOGUE_ROWS,
    MAX_LEFT_OUT_ROWS,
)
from jobs.kinds.catalogue_fill.state import job_report
from jobs.kinds.registry import parse_spec
from jobs.specs import SpecError
from tests.catalogue_fixtures import FILES, FILLED, FIXTURES, HAD_IMAGES
from tests.support import bearer, run_cli, wait_until

pytestmark = pytest.mark.integration

MAPPING = FIXTURES / "mapping.json"
IDENT = {"shopify": "Handle", "magento": "sku", "woocommerce": "ID"}
IMAGE = {"shopify": "Image Src", "magento": "base_image", "woocommerce": "Images"}
CDN = "https://cdn.example.com/shop"


def parsed(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def submit_file(env: dict, path: Path, *extra: str) -> tuple[dict, str]:
    out = run_cli(
        env,
        "submit",
        "catalogue-fill",
        "--catalogue",
        str(path),
        "--catalogue-format",
        "auto",
        "--mapping",
        str(MAPPING),
        "--candidates",
        "1",
        "--size",
        "64",
        "--wait",
        "--json",
        *extra,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    job_id = json.JSONDecoder().raw_decode(out.stdout)[0]["id"]
    shown = run_cli(env, "jobs", "show", job_id)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout), out.stderr


def export(env: dict, job_id: str, *extra: str) -> tuple[list[dict], str]:
    out = run_cli(env, "catalogue", "export", job_id, *extra)
    assert out.returncode == 0, out.stderr
    return parsed(out.stdout), out.stderr


def test_round_trip_per_platform_through_a_real_job(
    prod_env, own_pg_url, app_for, start_worker, tmp_path
):
    env = {**prod_env, "ASSETGEN_DATABASE_URL": own_pg_url}  # SKU states span jobs
    settings, sf, store = app_for(env)
    start_worker(env)
    for fmt, name in FILES.items():
        path = FIXTURES / name
        job, stderr = submit_file(env, path)
        assert f"catalogue format: {fmt} (from the header of {name})" in stderr
        assert job["status"] == "succeeded", job
        assert job["spec"]["catalogue_format"] == fmt and "catalogue" not in job["spec"]
        assert job["images_done"] == len(FILLED[fmt])
        check_row_outcomes(store, job, fmt, path)

        # every filled unit once, with its synthetic image's URL; rows that had images are absent
        back, _ = export(env, job["id"], "--base-url", CDN + "/")
        ids = [r[IDENT[fmt]] for r in back]
        assert sorted(ids) == sorted(FILLED[fmt]) and not set(ids) & HAD_IMAGES[fmt]
        for r in back:
            key = r[IMAGE[fmt]].removeprefix(CDN + "/")
            assert r[IMAGE[fmt]].startswith(CDN + "/catalogue/") and store.head(key)["synthetic"]
        assert (
            list(back[0])
            == {
                "shopify": ["Handle", "Image Src", "Image Position", "Image Alt Text"],
                "magento": [
                    "sku",
                    "base_image",
                    "base_image_label",
                    "small_image",
                    "small_image_label",
                    "thumbnail_image",
                    "thumbnail_image_label",
                ],
                "woocommerce": ["ID", "SKU", "Images"],
            }[fmt]
        )

        # a real photo supersedes one synthetic image: the next job that reads the file sees it,
        # and that SKU is never exported again
        gone = sorted(FILLED[fmt])[0]
        sku = next(u.sku for u in read_export(path.read_bytes()).units if u.platform_id == gone)
        store.put_new(f"catalogue/{sku}/photo.jpg", b"real photo", "image/jpeg", {})
        again, _ = submit_file(env, path)
        assert again["images_done"] == 0
        out = tmp_path / f"{fmt}-import.csv"
        back, stderr = export(env, job["id"], "--out", str(out), "--language", "de")
        assert f"left out {sku}: superseded: a real image arrived" in stderr
        assert "presigned URLs expire at" in stderr
        rows = parsed(out.read_text(encoding="utf-8"))
        assert back == [] and sorted(r[IDENT[fmt]] for r in rows) == sorted(FILLED[fmt] - {gone})
        for r in rows:  # presigned URLs that fetch the synthetic object itself
            with urllib.request.urlopen(r[IMAGE[fmt]], timeout=10) as got:
                assert got.read()[:2] == b"\xff\xd8"  # a JPEG
        if fmt == "woocommerce":
            assert {r["ID"]: r["SKU"] for r in rows}["30"] == ""  # no SKU of its own: left blank
        if fmt == "magento":
            assert all(r["base_image_label"].startswith("Synthetisches") for r in rows)


def check_row_outcomes(store, job: dict, fmt: str, path: Path) -> None:
    """Every record the reader left out and every row the job skipped or rejected is an outcome
    with the file's own line, the platform's identifier and a reason."""
    read = read_export(path.read_bytes())
    manifest = json.loads(store.get(job["manifest"]))["catalogue"]["rows"]
    assert [r["row"] for r in manifest] == list(range(1, len(manifest) + 1))
    lines = [r["line"] for r in manifest]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    expected = {n.line: (n.outcome, n.reason) for n in read.skipped + read.rejected}
    expected.update({u.line: ("skipped", "row names an image") for u in read.units if u.image})
    by_line = {r["line"]: r for r in manifest}
    for line, (outcome, reason) in expected.items():
        assert (by_line[line]["outcome"], by_line[line]["reason"]) == (outcome, reason), line
    for u in read.units:
        assert by_line[u.line]["platform_id"] == u.platform_id
    rejected = [r for r in manifest if r["outcome"] == "rejected"]
    assert any("unknown category" in r["reason"] for r in rejected)
    assert (
        job["catalogue"]["read"]
        == len(manifest)
        == len(read.units) + len(read.skipped) + len(read.rejected)
    )
    shown = job["catalogue_rows_left_out"]  # `assetgen jobs show` lists the same rows
    assert [(r["line"], r["outcome"], r["reason"]) for r in shown] == [
        (r["line"], r["outcome"], r["reason"]) for r in manifest if r["outcome"] != "generated"
    ]
    assert all(r["line"] and r["reason"] for r in shown)


# ---------------------------------------------------------------- the HTTP API


def test_api_submits_a_platform_file_and_exports_it(api_ctx, start_worker):
    start_worker(api_ctx.env)
    me, other = api_ctx.client(), api_ctx.client()
    text = (FIXTURES / FILES["woocommerce"]).read_text(encoding="utf-8")
    spec = {
        "kind": "catalogue_fill",
        "catalogue": text,
        "catalogue_format": "auto",
        "mapping": json.loads(MAPPING.read_text()),
        "candidates": 1,
        "size": 64,
    }
    with TestClient(api_ctx.app()) as http:
        r = http.post("/v1/jobs", json=spec, headers=bearer(me))
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        wait_until(
            lambda: service.get_job(api_ctx.sf, job_id).status == "succeeded", 120, what="the job"
        )
        assert service.get_job(api_ctx.sf, job_id).spec["catalogue_format"] == "woocommerce"

        r = http.get(f"/v1/jobs/{job_id}/export", headers=bearer(me))  # the job's platform
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = parsed(r.text)
        assert sorted(x["ID"] for x in rows) == sorted(FILLED["woocommerce"])
        expires_in = int(r.headers["X-Assetgen-Urls-Expires-In"])
        expire_at = datetime.fromisoformat(r.headers["X-Assetgen-Urls-Expire-At"])
        assert expires_in == api_ctx.settings.presign_seconds
        left = expire_at - datetime.now(expire_at.tzinfo)
        assert timedelta(seconds=expires_in - 60) < left <= timedelta(seconds=expires_in)
        assert r.headers["X-Assetgen-Export-Rows"] == str(len(rows))
        for x in rows:
            assert (
                "X-Amz-Signature=" in x["Images"] and f"X-Amz-Expires={expires_in}" in x["Images"]
            )
            with urllib.request.urlopen(x["Images"], timeout=10) as got:
                assert got.read()[:2] == b"\xff\xd8"

        r = http.get(
            f"/v1/jobs/{job_id}/export",
            params={"format": "csv", "base_url": CDN, "alt_text": "KI-Bild"},
            headers=bearer(me),
        )
        assert r.status_code == 200 and "X-Assetgen-Urls-Expire-At" not in r.headers
        rows = parsed(r.text)
        assert list(rows[0]) == ["sku", "key", "url"]
        assert all(x["url"] == f"{CDN}/{x['key']}" for x in rows)

        shopify = http.get(
            f"/v1/jobs/{job_id}/export", params={"format": "shopify"}, headers=bearer(me)
        )
        assert parsed(shopify.text)[0]["Image Alt Text"].startswith("Synthetic product image")

        assert http.get(f"/v1/jobs/{job_id}/export", headers=bearer(other)).status_code == 404
        for bad in ({"format": "ebay"}, {"language": "pt"}, {"base_url": "ftp://cdn/x"}):
            r = http.get(f"/v1/jobs/{job_id}/export", params=bad, headers=bearer(me))
            assert r.status_code == 422, (bad, r.text)
        plain = http.post(
            "/v1/jobs", json={"kind": "generate", "category": "bag", "count": 1}, headers=bearer(me)
        ).json()["id"]
        r = http.get(f"/v1/jobs/{plain}/export", headers=bearer(me))
        assert r.status_code == 422 and "only catalogue-fill jobs export" in r.text
        assert http.get(f"/v1/jobs/{job_id}/export").status_code == 401

        bad = {**spec, "catalogue": text.replace("\n45,simple", '\n45,"simple')}  # unclosed quote
        r = http.post("/v1/jobs", json=bad, headers=bearer(me))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "catalogue"]
        assert "line 18" in r.json()["detail"][0]["msg"]


# ---------------------------------------------------------------- auto detection and limits


def test_auto_detection_through_the_cli(embedded_env, app_for, tmp_path):
    settings, sf, _ = app_for(embedded_env)
    ambiguous = FIXTURES / "ambiguous_header.csv"
    out = run_cli(embedded_env, "submit", "catalogue-fill", "--catalogue", str(ambiguous))
    assert out.returncode == 2 and "ambiguous header: it could be shopify or woocommerce" in (
        out.stderr
    )
    assert "columns seen: Handle,Title,ID,Type,SKU,Name,Variant SKU,Image Src,Images" in out.stderr
    assert service.list_jobs(sf) == []
    named = run_cli(
        embedded_env,
        "submit",
        "catalogue-fill",
        "--catalogue",
        str(ambiguous),
        "--catalogue-format",
        "shopify",
        "--json",
    )
    assert named.returncode == 0, named.stderr
    assert "catalogue format:" not in named.stderr  # named, not detected: nothing to announce
    job = service.get_job(sf, json.loads(named.stdout)["id"])
    assert job.spec["catalogue_format"] == "shopify"
    rows = job_report(sf, job)["rows"]  # read as Shopify: Type 'simple' is no category it knows
    assert [(r["line"], r["platform_id"], r["outcome"]) for r in rows] == [(2, "tee", "rejected")]
    generic = tmp_path / "cat.csv"
    generic.write_text("sku,category\nA1,bag\n\nA2,Hats\n")
    out = run_cli(embedded_env, "submit", "catalogue-fill", "--catalogue", str(generic), "--json")
    assert out.returncode == 0 and "catalogue format: generic" in out.stderr
    shown = json.loads(run_cli(embedded_env, "jobs", "show", json.loads(out.stdout)["id"]).stdout)
    assert [(r["line"], r["sku"], r["outcome"]) for r in shown["catalogue_rows_left_out"]] == [
        (4, "A2", "rejected")
    ]


def test_a_catalogue_file_over_the_size_limit_is_refused(embedded_env, app_for, tmp_path):
    app_for(embedded_env)
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:  # sparse: the size is checked before anything is read
        fh.truncate(MAX_CATALOGUE_BYTES + 1)
    out = run_cli(embedded_env, "submit", "catalogue-fill", "--catalogue", str(big))
    assert out.returncode == 2
    assert f"over the limit of {MAX_CATALOGUE_BYTES} bytes (MAX_CATALOGUE_BYTES)" in out.stderr
    with pytest.raises(SpecError) as err:  # the same limit on the text in a spec (the API's)
        parse_spec({"kind": "catalogue_fill", "catalogue": "x" * (MAX_CATALOGUE_BYTES + 1)})
    assert err.value.field == "catalogue" and str(MAX_CATALOGUE_BYTES) in err.value.message


def shopify(products: int) -> str:
    rows = [f"p-{i},Product {i},T-Shirt,P{i}-S," for i in range(products)]
    return "Handle,Title,Type,Variant SKU,Image Src\n" + "\n".join(rows) + "\n"


def test_fifty_thousand_products_submit_and_one_more_is_refused(
    pg_url, app_for, tiny_model, tmp_path
):
    env = {
        "ASSETGEN_HOME": str(tmp_path / "home"),
        "ASSETGEN_DATABASE_URL": pg_url,
        "ASSETGEN_DEFAULT_MODEL": str(tiny_model),
    }
    settings, sf, _ = app_for(env)
    jobs_before = len(service.list_jobs(sf, limit=1000))  # the session's database is shared
    spec = {
        "kind": "catalogue_fill",
        "catalogue": shopify(MAX_CATALOGUE_ROWS),
        "mapping": {"T-Shirt": "t-shirt"},
    }
    job = service.submit(sf, settings, spec)
    service.cancel_job(sf, job.id)  # no worker runs it
    assert (job.total_images, job.spec["catalogue_format"]) == (MAX_CATALOGUE_ROWS, "shopify")
    with pytest.raises(SpecError) as err:
        service.submit(sf, settings, {**spec, "catalogue": shopify(MAX_CATALOGUE_ROWS + 1)})
    assert err.value.field == "catalogue"
    assert (
        f"{MAX_CATALOGUE_ROWS + 1} rows (products) is over the limit of {MAX_CATALOGUE_ROWS}"
        in (err.value.message)
    )
    # nothing written for the refused one
    assert len(service.list_jobs(sf, limit=1000)) == jobs_before + 1


def test_records_left_out_have_a_limit_too():
    header = "ID,Type,SKU,Name,Parent,Categories,Images\n"
    lines = ["1,variable,V1,Tee,,Clothing > Tshirts,\n"]
    lines += [f"{i},variation,,Tee {i},id:1,,\n" for i in range(2, MAX_LEFT_OUT_ROWS + 3)]
    with pytest.raises(CatalogueFileError, match=f"is over the limit of {MAX_LEFT_OUT_ROWS}"):
        read_catalogue(header + "".join(lines))
    read = read_catalogue(header + "".join(lines[:-1]))  # exactly at the limit
    assert len(read.left_out) == MAX_LEFT_OUT_ROWS and len(read.rows) == 1
