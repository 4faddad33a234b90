"""The whole flow over HTTP with a real worker (PostgreSQL + Redis + moto S3), webhook included,
and logs checked for secrets; `assetgen api` and `assetgen clients create` as real processes."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jobs.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, deliver_due, verify
from tests.support import (
    LiveServer,
    bearer,
    child_env,
    free_port,
    metric,
    port_open,
    run_cli,
    wait_until,
)

pytestmark = pytest.mark.integration
TERMINAL = ("succeeded", "failed", "partially_failed", "cancelled")


def finished(http: httpx.Client, job_id: str) -> dict | None:
    job = http.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in TERMINAL else None


def all_assets(http: httpx.Client, job_id: str) -> tuple[list[dict], str]:
    assets, cursor = [], None
    while True:
        page = http.get(
            f"/v1/jobs/{job_id}/assets",
            params={"limit": 4, **({"cursor": cursor} if cursor else {})},
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assets += body["assets"]
        cursor = body["next_cursor"]
        if cursor is None:
            return assets, body["manifest_url"]


def download(url: str) -> bytes:
    """The bucket consumer's side (urllib: it logs nothing, unlike httpx, so the capture shows
    only the system)."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read()


def capture_everything(caplog) -> None:
    caplog.set_level(logging.INFO)  # every library at the level production runs at
    for name in ("jobs", "worker", "uvicorn", "httpx", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)


def test_whole_flow_over_http_with_worker_and_webhook(api_ctx, receiver, start_worker, caplog):
    capture_everything(caplog)
    me = api_ctx.client()
    spec = {
        "category": "sneaker",
        "count": 6,
        "images_per_item": 3,
        "seed": 5,
        "format": "png",
        "callback_url": receiver.url("/done?sig=cb-query-secret"),
    }
    with (
        LiveServer(api_ctx.app()) as base,
        httpx.Client(base_url=base, headers=bearer(me), timeout=30) as http,
    ):
        created = http.post("/v1/jobs", json=spec, headers={"Idempotency-Key": "flow-1"})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.json()["progress"]["items_total"] == 2
        worker = start_worker(api_ctx.env)
        job = wait_until(lambda: finished(http, job_id), 180, interval=0.5, what="job to finish")
        assert (
            job["status"] == "succeeded"
            and job["progress"]["images_done"] == 6
            and job["error"] is None
        )
        assert job["links"]["manifest"].startswith(api_ctx.settings.s3_endpoint_url)
        assets, manifest_url = all_assets(http, job_id)
        urls = [a["url"] for a in assets] + [manifest_url, job["links"]["manifest"]]
        metrics = http.get("/metrics").text
    assert len(assets) == 6 and len({a["key"] for a in assets}) == 6
    for a in assets:
        data = download(a["url"])
        assert hashlib.sha256(data).hexdigest() == a["sha256"] and len(data) == a["bytes"]
    manifest = json.loads(download(manifest_url))
    assert sorted(m["key"] for m in manifest["assets"]) == sorted(a["key"] for a in assets)
    assert "callback_url" not in json.dumps(
        manifest
    )  # the callback (it may hold a secret) stays out of the bucket
    assert metric(metrics, "assetgen_images_generated_total") >= 6
    assert metric(metrics, 'assetgen_jobs{state="succeeded"}') >= 1
    assert metric(metrics, "assetgen_job_latency_seconds_count") >= 1

    wait_until(
        lambda: deliver_due(api_ctx.sf, api_ctx.settings) and receiver.requests, 30, what="webhook"
    )
    hook = receiver.requests[0]
    assert hook["path"] == "/done?sig=cb-query-secret"
    assert verify(
        me.webhook_secret,
        hook["headers"][TIMESTAMP_HEADER],
        hook["body"],
        hook["headers"][SIGNATURE_HEADER],
    )
    event = json.loads(hook["body"])
    assert event["type"] == "job.succeeded" and event["job"]["items"] == {
        "total": 2,
        "done": 2,
        "failed": 0,
    }
    assert event["job"]["manifest_key"] == f"jobs/{job_id}/manifest.json"

    worker.stop()
    logs = caplog.text + worker.log.read_text(errors="replace")
    assert job_id in logs and "webhook succeeded" in logs  # the capture did see this flow
    signatures = [parse_qs(urlsplit(u).query)["X-Amz-Signature"][0] for u in urls]
    secrets = [
        me.token,
        me.webhook_secret,
        "cb-query-secret",
        hook["headers"][SIGNATURE_HEADER][3:],
        *urls,
        *signatures,
    ]
    leaked = [s[:12] for s in secrets if s in logs]
    assert leaked == [], f"secrets in the logs: {leaked}"


def test_api_and_clients_commands_as_processes(api_ctx, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = run_cli(api_ctx.env, "clients", "create", name, "--scopes", "read")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    assert run_cli(api_ctx.env, "clients", "create", name).returncode == 1  # names are unique
    listed = run_cli(api_ctx.env, "clients", "list").stdout
    assert name in listed and token not in listed
    port, log = free_port(), tmp_path / "api.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli.main", "api", "--port", str(port)],
        env=child_env(api_ctx.env),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: port_open(port), 60, what="assetgen api to listen")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/readyz").json()["ok"] is True
            auth = {"Authorization": f"Bearer {token}"}
            assert http.get("/v1/jobs", headers=auth).status_code == 200
            assert (
                http.post(
                    "/v1/jobs", json={"category": "bag", "count": 1}, headers=auth
                ).status_code
                == 403
            )
            assert "/v1/jobs/{job_id}/assets" in http.get("/openapi.json").json()["paths"]
            assert run_cli(api_ctx.env, "clients", "disable", name).returncode == 0
            assert http.get("/v1/jobs", headers=auth).status_code == 401  # revoked at once
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_text()
    assert "GET /v1/jobs" in text and token not in text
