"""Webhooks on real PostgreSQL: outbox -> signed deliveries with retries and a log, SSRF guard,
replay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from jobs import service
from jobs.db.tables import OutboxMessage, utcnow
from jobs.outbox import relay
from jobs.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    UnsafeTarget,
    check_target,
    deliver_due,
    deliveries,
    post,
    replay,
    verify,
)
from tests.support import run_cli

pytestmark = pytest.mark.integration

SPEC = {"category": "bag", "count": 2}


def cancelled_job(ctx, url: str, client=None):
    """A job with a callback, cancelled: its terminal event goes to the outbox in the cancel
    transaction."""
    job = service.submit(
        ctx.sf,
        ctx.settings,
        {**SPEC, "callback_url": url},
        client_id=client.client_id if client else None,
    )
    service.cancel_job(ctx.sf, job.id)
    return job


def drive(ctx, settings, job_id: str, until, start, max_passes: int = 20):
    """Run delivery passes, moving the clock to each delivery's next attempt (no waiting on real
    time)."""
    now = start
    for _ in range(max_passes):
        deliver_due(ctx.sf, settings, now=now)
        if until():
            return
        ((d, _),) = deliveries(ctx.sf, job_id)[-1:]
        if d.next_attempt_at is None:
            return
        now = max(now, d.next_attempt_at) + timedelta(milliseconds=1)
    raise AssertionError("delivery did not settle")


def test_fails_three_times_then_the_fourth_is_signed_and_verified(api_ctx, receiver):
    me = api_ctx.client()
    receiver.codes = [500, 503, 500]
    job = cancelled_job(api_ctx, receiver.url("/hook?token=cb-secret-123"), me)
    published: list[str] = []
    relay(api_ctx.sf, lambda topic, payload: published.append(topic))
    assert "webhook" not in published  # the broker relay leaves webhook rows to the deliverer
    drive(api_ctx, api_ctx.settings, job.id, lambda: len(receiver.requests) == 4, utcnow())

    assert len(receiver.requests) == 4
    last = receiver.requests[-1]
    ts, sig = last["headers"][TIMESTAMP_HEADER], last["headers"][SIGNATURE_HEADER]
    assert verify(me.webhook_secret, ts, last["body"], sig)
    assert not verify(me.webhook_secret, ts, last["body"] + b" ", sig)  # a changed body fails
    assert not verify("whsec_wrong", ts, last["body"], sig)
    assert not verify(
        me.webhook_secret, str(int(ts) - 3600), last["body"], sig
    )  # a replayed old timestamp fails
    event = receiver.events()[-1]
    assert event["id"].startswith(f"{job.id}:cancelled:") and event["type"] == "job.cancelled"
    assert last["headers"]["X-Assetgen-Event-Id"] == event["id"]
    assert event["job"]["status"] == "cancelled" and event["job"]["items"] == {
        "total": 1,
        "done": 0,
        "failed": 0,
    }
    assert event["job"]["links"]["assets"] == f"/v1/jobs/{job.id}/assets"
    assert len({r["body"] for r in receiver.requests}) == 1  # every attempt sends the same body

    ((delivery, log),) = deliveries(api_ctx.sf, job.id)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 4, 200)
    assert [a.status_code for a in log] == [500, 503, 500, 200]
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(log, log[1:])]
    base = api_ctx.settings.webhook_backoff_seconds
    assert [round(g / base) for g in gaps] == [1, 2, 4]  # exponential backoff
    with api_ctx.sf() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "webhook")).all()
    assert rows and all(r.sent_at is not None for r in rows if r.payload["job_id"] == job.id)


def test_loopback_target_refused_by_default(api_ctx, receiver):
    settings = api_ctx.settings.model_copy(update={"webhook_allow_private": False})
    job = cancelled_job(api_ctx, receiver.url(), api_ctx.client())
    deliver_due(api_ctx.sf, settings)
    ((delivery, log),) = deliveries(api_ctx.sf, job.id)
    assert delivery.state == "failed" and "non-public address" in delivery.last_error
    assert len(log) == 1 and log[0].status_code is None
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/",
        "http://[::1]/",
        "ftp://93.184.216.34/",
        "http://0.0.0.0/",
        "http://192.168.1.1/",
    ],
)
def test_ssrf_guard_refuses(url):
    with pytest.raises(UnsafeTarget):
        check_target(url, allow_private=False)


def test_delivery_connects_to_the_vetted_address_not_a_second_lookup(receiver):
    """DNS rebinding: the POST goes to the address check_target approved; the name is not resolved
    again."""
    port = receiver.server.server_address[1]
    url = f"http://hooks.rebind.invalid:{port}/in?x=1"  # .invalid never resolves (RFC 6761)
    code = post(url, "127.0.0.1", b'{"a": 1}', {"X-Test": "yes"}, timeout=5)
    assert code == 200
    (got,) = receiver.requests
    assert got["path"] == "/in?x=1" and got["body"] == b'{"a": 1}'
    assert (
        got["headers"]["Host"] == f"hooks.rebind.invalid:{port}"
        and got["headers"]["X-Test"] == "yes"
    )
    assert check_target(f"http://127.0.0.1:{port}/", allow_private=True) == "127.0.0.1"


def test_ssrf_guard_allows_public_and_opt_in_private():
    check_target("https://93.184.216.34/hook", allow_private=False)
    check_target("http://127.0.0.1:9/hook", allow_private=True)
    with pytest.raises(UnsafeTarget):
        check_target("file:///etc/passwd", allow_private=True)


def test_gives_up_after_max_attempts_and_replay_delivers(api_ctx, receiver):
    settings = api_ctx.settings.model_copy(update={"webhook_max_attempts": 2})
    receiver.codes = [500, 500]
    job = cancelled_job(api_ctx, receiver.url(), api_ctx.client())
    drive(api_ctx, settings, job.id, lambda: False, utcnow())
    ((delivery, log),) = deliveries(api_ctx.sf, job.id)
    assert delivery.state == "failed" and [a.status_code for a in log] == [500, 500]

    replayed = run_cli(api_ctx.env, "webhooks", "replay", job.id)
    assert replayed.returncode == 0, replayed.stderr
    delivered = run_cli(api_ctx.env, "webhooks", "deliver", "--once")
    assert delivered.returncode == 0 and "delivery attempt(s)" in delivered.stdout, delivered.stderr
    assert [d.state for d, _ in deliveries(api_ctx.sf, job.id)] == ["failed", "delivered"]
    shown = json.loads(run_cli(api_ctx.env, "webhooks", "show", job.id).stdout)
    assert [[a["status"] for a in d["log"]] for d in shown] == [[500, 500], [200]]
    ids = [e["id"] for e in receiver.events()]
    assert (
        len(ids) == 3 and len(set(ids)) == 1
    )  # a replay is the same event: receivers can deduplicate


def test_no_callback_no_event_and_replay_refuses(api_ctx):
    job = service.submit(api_ctx.sf, api_ctx.settings, SPEC)
    service.cancel_job(api_ctx.sf, job.id)
    service.cancel_job(api_ctx.sf, job.id)
    with api_ctx.sf() as s:
        rows = [
            r
            for r in s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "webhook"))
            if r.payload["job_id"] == job.id
        ]
    assert rows == []
    with pytest.raises(ValueError, match="no webhook event yet"):
        replay(api_ctx.sf, job.id)


def test_cancel_twice_announces_once_and_cli_secret_signs_clientless_jobs(api_ctx, receiver):
    settings = api_ctx.settings.model_copy(update={"webhook_secret": SecretStr("cli-hook-secret")})
    job = cancelled_job(api_ctx, receiver.url())  # submitted without an API client
    service.cancel_job(api_ctx.sf, job.id)
    deliver_due(api_ctx.sf, settings)
    assert len(receiver.requests) == 1
    r = receiver.requests[0]
    assert verify(
        "cli-hook-secret", r["headers"][TIMESTAMP_HEADER], r["body"], r["headers"][SIGNATURE_HEADER]
    )


def test_clientless_job_without_a_secret_fails_with_a_reason(api_ctx, receiver):
    job = cancelled_job(api_ctx, receiver.url())
    deliver_due(api_ctx.sf, api_ctx.settings)  # no ASSETGEN_WEBHOOK_SECRET in this env
    ((delivery, log),) = deliveries(api_ctx.sf, job.id)
    assert delivery.state == "failed" and "ASSETGEN_WEBHOOK_SECRET" in delivery.last_error
    assert receiver.requests == []  # never sent unsigned
