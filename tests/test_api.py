"""The HTTP API on real PostgreSQL + Redis + moto S3: auth, validation, limits, idempotency,
pagination, ops."""

from __future__ import annotations

import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jobs.db.tables import IdempotencyKey, Job
from tests.support import FMNIST, LiveServer, bearer, metric

pytestmark = pytest.mark.integration

SPEC = {"category": "bag", "count": 3, "images_per_item": 2}


def jobs_of(ctx, client_id: str) -> int:
    with ctx.sf() as s:
        return s.scalar(select(func.count()).select_from(Job).where(Job.client_id == client_id))


def test_auth_scopes_and_other_clients_jobs_are_404(api_ctx):
    alice, bob, reader, admin = (
        api_ctx.client(),
        api_ctx.client(),
        api_ctx.client(["read"]),
        api_ctx.client(["admin"]),
    )
    with TestClient(api_ctx.app()) as http:
        assert http.get("/v1/jobs").status_code == 401
        assert http.post("/v1/jobs", json=SPEC).status_code == 401
        bad = http.get("/v1/jobs", headers={"Authorization": "Bearer ag_not-a-real-token"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
        assert http.post("/v1/jobs", json=SPEC, headers=bearer(reader)).status_code == 403
        created = http.post("/v1/jobs", json=SPEC, headers=bearer(alice))
        assert created.status_code == 202
        job_id = created.json()["id"]
        for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/assets"):
            assert http.get(path, headers=bearer(alice)).status_code == 200
            missing = http.get(path, headers=bearer(bob))
            assert missing.status_code == 404 and "bag" not in missing.text
        assert http.post(f"/v1/jobs/{job_id}/cancel", headers=bearer(bob)).status_code == 404
        assert job_id not in {
            j["id"] for j in http.get("/v1/jobs", headers=bearer(bob)).json()["jobs"]
        }
        assert http.get(f"/v1/jobs/{job_id}", headers=bearer(admin)).status_code == 200
    assert jobs_of(api_ctx, alice.client_id) == 1 and jobs_of(api_ctx, bob.client_id) == 0


def test_every_job_kind_is_accepted_and_validated(api_ctx):
    me = api_ctx.client()
    ad = {
        "kind": "ad_creative",
        "category": "sneaker",
        "variants": 2,
        "formats": ["square", "leaderboard"],
        "copy": {"headline": "Run further", "cta": "Shop now"},
    }
    catalogue = {
        "kind": "catalogue_fill",
        "rows": [{"sku": "SKU-1", "category": "bag"}, {"sku": "../x", "category": "bag"}],
    }
    with TestClient(api_ctx.app()) as http:
        for body, images in ((ad, 4), (catalogue, 1)):
            r = http.post("/v1/jobs", json=body, headers=bearer(me))
            assert r.status_code == 202, r.text
            assert (r.json()["kind"], r.json()["progress"]["images_total"]) == (
                body["kind"],
                images,
            )
            if body is catalogue:
                got = http.get(f"/v1/jobs/{r.json()['id']}", headers=bearer(me)).json()
                assert got["catalogue_counts"] == {
                    "read": 2,
                    "skipped": 0,
                    "generated": 0,
                    "rejected": 1,
                    "pending": 1,
                }
        bad_kind = http.post("/v1/jobs", json={**SPEC, "kind": "poster"}, headers=bearer(me))
        assert bad_kind.status_code == 422
        no_cta = http.post("/v1/jobs", json={**ad, "copy": {"headline": "Run"}}, headers=bearer(me))
        assert no_cta.status_code == 422 and ["body", "copy", "cta"] in [
            e["loc"] for e in no_cta.json()["detail"]
        ]


def test_validation_errors_are_422_with_fields(api_ctx):
    me = api_ctx.client()
    cases = [
        ({**SPEC, "count": 0}, ["body", "count"]),
        ({**SPEC, "count": 10_001}, ["body", "count"]),
        ({**SPEC, "colour": "red"}, ["body", "colour"]),
        ({**SPEC, "category": "unicorn"}, ["body", "category"]),
        ({**SPEC, "callback_url": "ftp://example.com/x"}, ["body", "callback_url"]),
        ({**SPEC, "callback_url": "https://e.com/" + "a" * 2100}, ["body", "callback_url"]),
        ({**SPEC, "count": 10_000, "images_per_item": 1}, ["body", "images_per_item"]),
    ]
    with TestClient(api_ctx.app()) as http:
        for body, loc in cases:
            r = http.post("/v1/jobs", json=body, headers=bearer(me))
            assert r.status_code == 422, (body, r.text)
            assert loc in [e["loc"] for e in r.json()["detail"]], (body, r.json())
        r = http.post("/v1/jobs", json=SPEC, headers={**bearer(me), "Idempotency-Key": "has space"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
            "header",
            "Idempotency-Key",
        ]
        r = http.get("/v1/jobs", params={"cursor": "garbage!"}, headers=bearer(me))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"]
        assert http.get("/v1/jobs/not-a-uuid", headers=bearer(me)).status_code == 422
        guarded = TestClient(api_ctx.app(webhook_allow_private=False))
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[fd00::1]/",
            "http://10.0.0.7/",
        ):
            r = guarded.post("/v1/jobs", json={**SPEC, "callback_url": url}, headers=bearer(me))
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
                "body",
                "callback_url",
            ], (url, r.text)
    assert jobs_of(api_ctx, me.client_id) == 0  # nothing was written


def test_body_over_the_limit_is_413(api_ctx):
    me = api_ctx.client()
    padding = {**SPEC, "model": "default" + " " * 10}
    big = ('{"category": "bag", "count": 3' + " " * 3000 + "}").encode()
    with TestClient(api_ctx.app(api_max_body_bytes=2048)) as http:
        r = http.post(
            "/v1/jobs", content=big, headers={**bearer(me), "Content-Type": "application/json"}
        )
        assert r.status_code == 413 and "2048" in r.json()["detail"]
        chunked = http.post(
            "/v1/jobs",
            content=iter([big[:1500], big[1500:]]),
            headers={**bearer(me), "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        assert http.post("/v1/jobs", json=SPEC, headers=bearer(me)).status_code == 202
        assert (
            http.post("/v1/jobs", json=padding, headers=bearer(me)).status_code == 422
        )  # read, then validated
    assert jobs_of(api_ctx, me.client_id) == 1


def test_rate_limit_is_429_with_retry_after_per_client(api_ctx):
    me, other = api_ctx.client(), api_ctx.client()
    with TestClient(api_ctx.app(api_rate_per_second=0.01, api_rate_burst=2)) as http:
        assert [http.get("/v1/jobs", headers=bearer(me)).status_code for _ in range(2)] == [
            200,
            200,
        ]
        limited = http.get("/v1/jobs", headers=bearer(me))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 100
        assert (
            http.get("/v1/jobs", headers=bearer(other)).status_code == 200
        )  # buckets are per client


def test_idempotency_key_sequential(api_ctx):
    me, other = api_ctx.client(), api_ctx.client()
    key = {"Idempotency-Key": "order-42"}
    with TestClient(api_ctx.app()) as http:
        first = http.post("/v1/jobs", json=SPEC, headers={**bearer(me), **key})
        again = http.post("/v1/jobs", json=SPEC, headers={**bearer(me), **key})
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        conflict = http.post("/v1/jobs", json={**SPEC, "count": 4}, headers={**bearer(me), **key})
        assert conflict.status_code == 409 and "different request body" in conflict.json()["detail"]
        theirs = http.post(
            "/v1/jobs", json=SPEC, headers={**bearer(other), **key}
        )  # keys are per client
        assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
        unkeyed = [
            http.post("/v1/jobs", json=SPEC, headers=bearer(me)).json()["id"] for _ in range(2)
        ]
        assert len(set(unkeyed)) == 2
    assert jobs_of(api_ctx, me.client_id) == 3
    with api_ctx.sf() as s:
        row = s.scalars(
            select(IdempotencyKey).where(IdempotencyKey.client_id == me.client_id)
        ).one()
    assert row.job_id == first.json()["id"]
    assert (row.expires_at - row.created_at).total_seconds() >= 24 * 3600


def test_idempotency_key_concurrent_requests_make_one_job(api_ctx):
    me = api_ctx.client()
    n = 6
    barrier, results = threading.Barrier(n), []
    with LiveServer(api_ctx.app()) as base:

        def post():
            with httpx.Client(base_url=base, timeout=60) as http:
                barrier.wait(30)
                r = http.post(
                    "/v1/jobs", json=SPEC, headers={**bearer(me), "Idempotency-Key": "race-1"}
                )
                results.append((r.status_code, r.json().get("id")))

        threads = [threading.Thread(target=post) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert len(results) == n
    assert {code for code, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    assert jobs_of(api_ctx, me.client_id) == 1


def test_list_is_scoped_filtered_and_cursor_paginated(api_ctx):
    me = api_ctx.client()
    with TestClient(api_ctx.app()) as http:
        ids = [http.post("/v1/jobs", json=SPEC, headers=bearer(me)).json()["id"] for _ in range(5)]
        cancelled = http.post(f"/v1/jobs/{ids[0]}/cancel", headers=bearer(me))
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (
            http.post(f"/v1/jobs/{ids[0]}/cancel", headers=bearer(me)).json()["status"]
            == "cancelled"
        )
        seen, cursor, pages = [], None, 0
        while True:
            page = http.get(
                "/v1/jobs",
                params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=bearer(me),
            ).json()
            seen += [j["id"] for j in page["jobs"]]
            pages, cursor = pages + 1, page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1] and pages == 3
        only = http.get("/v1/jobs", params={"status": "cancelled"}, headers=bearer(me)).json()[
            "jobs"
        ]
        assert [j["id"] for j in only] == [ids[0]]
        assert (
            http.get("/v1/jobs", params={"status": "nope"}, headers=bearer(me)).status_code == 422
        )


def test_health_readiness_and_metrics(api_ctx):
    me = api_ctx.client()
    with TestClient(api_ctx.app()) as http:
        assert http.get("/healthz").json() == {"ok": True}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert {k: v["ok"] for k, v in ready.json()["checks"].items()} == {
            "database": True,
            "broker": True,
            "storage": True,
        }
        http.post("/v1/jobs", json=SPEC, headers=bearer(me))
        text = http.get("/metrics").text
    assert 'assetgen_jobs{state="queued"}' in text and "assetgen_images_generated_total" in text
    assert (
        'assetgen_queue_depth{queue="work_items"}' in text
        and "assetgen_job_latency_seconds_bucket" in text
    )
    assert metric(text, 'assetgen_jobs{state="queued"}') >= 1
    assert metric(text, 'assetgen_queue_depth{queue="work_items"}') >= 2
    with TestClient(api_ctx.app(broker_url="redis://127.0.0.1:1/0")) as http:
        down = http.get("/readyz")
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert (checks["database"]["ok"], checks["broker"]["ok"], checks["storage"]["ok"]) == (
        True,
        False,
        True,
    )
    assert "127.0.0.1:1" not in down.text  # errors name the exception type, never a URL


def test_models_endpoint(api_ctx):
    me = api_ctx.client(["read"])
    with TestClient(api_ctx.app()) as http:
        models = http.get("/v1/models", headers=bearer(me)).json()
    default = models[0]
    assert default["name"] == "default" and "sneaker" in default["versions"][0]["classes"]
    assert len(default["versions"][0]["sha256"]) == 64
    # then the built-in models, each with its one version (no published ones here)
    assert [m["name"] for m in models[1:]] == [FMNIST]
    (fmnist,) = models[1]["versions"]
    assert (fmnist["image_size"], fmnist["channels"], len(fmnist["classes"])) == (32, 1, 10)
    assert fmnist["version"] == fmnist["sha256"][:12]
