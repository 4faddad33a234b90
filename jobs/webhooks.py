"""Signed webhook events for jobs' terminal states, delivered from the outbox with retries.

Flow: service.finish_jobs / cancel_job write an outbox row (topic "webhook") in
the job's own transaction. The outbox relay never sends these to the broker;
``deliver_due`` (run by ``assetgen webhooks deliver``) turns each into a
``webhook_deliveries`` row holding the exact event body, then POSTs due
deliveries. Every attempt is logged in ``webhook_attempts``; a failure retries
after ``webhook_backoff_seconds * 2**(n-1)`` (capped) until
``webhook_max_attempts``. ``replay`` sends a job's latest event again.

Signature: ``X-Assetgen-Signature: v1=<hex>``, HMAC-SHA256 keyed with the
client's webhook secret over ``<X-Assetgen-Timestamp>.<raw body>``.

SSRF: only http(s); every address the host resolves to must be public unless
``webhook_allow_private``; the connection goes to the address that was checked (the
host is not resolved again: no DNS-rebinding window; TLS still verifies the host
name); redirects are not followed.
Logs name the job, the event and the target's host, never the URL or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.auth import client_webhook_secret
from jobs.db.tables import Job, OutboxMessage, WebhookAttempt, WebhookDelivery, utcnow
from jobs.service import WEBHOOK, JobNotFound
from jobs.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Assetgen-Signature"
TIMESTAMP_HEADER = "X-Assetgen-Timestamp"


class UnsafeTarget(ValueError):
    """The callback URL may not be called (scheme, or a private address)."""


# ---------------------------------------------------------------- signing


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return (
        "v1="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: check the signature in constant time and refuse stale timestamps."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def signed_headers(secret: str, body: bytes, event: str, event_id: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "assetgen-webhooks/1",
        "X-Assetgen-Event": event,
        "X-Assetgen-Event-Id": event_id,
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, body),
    }


# ---------------------------------------------------------------- SSRF guard


def check_target(url: str, allow_private: bool) -> str:
    """The address to connect to: the host's first address, every one of them public unless
    allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("only http(s) URLs with a host may be called")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"host does not resolve ({type(exc).__name__})") from None
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    for address in addresses if not allow_private else ():
        addr = ipaddress.ip_address(address)
        if not addr.is_global or addr.is_multicast:
            raise UnsafeTarget(
                f"host resolves to a non-public address ({addr}); "
                "set ASSETGEN_WEBHOOK_ALLOW_PRIVATE=true to allow it"
            )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a vetted address (the URL's host still goes in the Host header)."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a vetted address; the certificate is verified for the URL's host name."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float):
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, address: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST body to url over a connection to ``address``; the status code (3xx is an answer, not
    followed)."""
    parts = urlsplit(url)
    conn_cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    if not parts.hostname:
        raise UnsafeTarget("only http(s) URLs with a host may be called")
    conn = conn_cls(parts.hostname, parts.port, address, timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", target, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def refuse_private_literal(url: str, allow_private: bool) -> None:
    """The check that needs no DNS (used at submit time): a literal private address or localhost."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if allow_private or not host:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeTarget("localhost is not a reachable webhook target")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: resolved and checked at delivery time
    if not addr.is_global or addr.is_multicast:
        raise UnsafeTarget(f"{addr} is not a public address")


# ---------------------------------------------------------------- events


def build_event(job: Job, event: str, event_id: str, settings: Settings) -> dict:
    base = (settings.api_public_url or "").rstrip("/")
    return {
        "id": event_id,
        "type": f"job.{event}",
        "created_at": utcnow().isoformat(),
        "job": {
            "id": job.id,
            "kind": job.kind,
            "status": event,
            "items": {"total": job.total_items, "done": job.done_items, "failed": job.failed_items},
            "images": {"total": job.total_images},
            "manifest_key": job.manifest_key,
            "error": {"code": job.error_code, "message": job.error_message}
            if job.error_code
            else None,
            "links": {
                "job": f"{base}/v1/jobs/{job.id}",
                "assets": f"{base}/v1/jobs/{job.id}/assets",
            },
        },
    }


def enqueue_from_outbox(sf: sessionmaker[Session], settings: Settings, batch: int = 100) -> int:
    """Turn unsent "webhook" outbox rows into deliveries (one transaction; concurrent runs skip
    locked rows).

    The event id is "<job>:<state>:<outbox id>": one per terminal transition (a job retried with
    `assetgen jobs retry` that fails again gets a new one), the same on every retry and replay.
    """
    with sf.begin() as s:
        rows = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == WEBHOOK, OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            job, event = s.get(Job, row.payload["job_id"]), row.payload["event"]
            if job is not None and job.callback_url:
                event_id = f"{job.id}:{event}:{row.id}"
                s.add(
                    WebhookDelivery(
                        job_id=job.id,
                        event_id=event_id,
                        event=event,
                        url=job.callback_url,
                        payload=build_event(job, event, event_id, settings),
                        next_attempt_at=utcnow(),
                    )
                )
            row.sent_at = utcnow()
    return len(rows)


def replay(sf: sessionmaker[Session], job_id: str) -> WebhookDelivery:
    """Send a job's latest event again, byte for byte (for a receiver that was down), with a fresh
    retry budget."""
    with sf.begin() as s:
        if s.get(Job, job_id) is None:
            raise JobNotFound(f"no job {job_id!r}")
        last = s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        ).first()
        if last is None:
            raise ValueError(
                f"job {job_id} has no webhook event yet (no callback_url, or it is not finished, "
                "or `assetgen webhooks deliver` has not run)"
            )
        again = WebhookDelivery(
            job_id=job_id,
            event_id=last.event_id,
            event=last.event,
            url=last.url,
            payload=last.payload,
            next_attempt_at=utcnow(),
        )
        s.add(again)
        return again


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Due:
    id: int
    job_id: str
    event: str
    event_id: str
    url: str
    body: bytes
    secret: str | None
    attempt: int


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim_due(
    sf: sessionmaker[Session], settings: Settings, now: datetime, limit: int = 50
) -> list[Due]:
    """Pending deliveries whose time has come, leased (next_attempt_at pushed out) so no other
    runner sends them."""
    lease = now + timedelta(seconds=settings.webhook_timeout_seconds + 60)
    with sf.begin() as s:
        rows = list(
            s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        due = []
        for d in rows:
            d.next_attempt_at = lease
            job = s.get(Job, d.job_id)
            secret = client_webhook_secret(s, job.client_id) if job else None
            if (
                secret is None
                and settings.webhook_secret is not None
                and (job is None or job.client_id is None)
            ):
                secret = settings.webhook_secret.get_secret_value()
            body = json.dumps(d.payload, separators=(",", ":")).encode()
            due.append(
                Due(d.id, d.job_id, d.event, d.event_id, d.url, body, secret, d.attempts + 1)
            )
    return due


def send(due: Due, settings: Settings) -> Outcome:
    if due.secret is None:
        return Outcome(
            None,
            "no signing secret: the job has no API client and ASSETGEN_WEBHOOK_SECRET is unset",
            0,
            permanent=True,
        )
    try:
        address = check_target(due.url, settings.webhook_allow_private)
    except UnsafeTarget as exc:
        return Outcome(None, f"refused target: {exc}", 0, permanent=True)
    started = time.monotonic()
    try:
        code = post(
            due.url,
            address,
            due.body,
            signed_headers(due.secret, due.body, due.event, due.event_id),
            settings.webhook_timeout_seconds,
        )
        error = None if 200 <= code < 300 else f"HTTP {code}"
    except (
        OSError,
        http.client.HTTPException,
        ValueError,
    ) as exc:  # refused, timed out, reset, TLS
        code, error = None, f"{type(exc).__name__}: {str(exc)[:200]}"
    return Outcome(code, error, int((time.monotonic() - started) * 1000))


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay after the ATTEMPTS-th failed attempt."""
    return min(
        settings.webhook_backoff_seconds * 2 ** (attempts - 1), settings.webhook_backoff_max_seconds
    )


def record(
    sf: sessionmaker[Session], settings: Settings, due: Due, out: Outcome, now: datetime
) -> str:
    """Log the attempt and move the delivery on; returns its new state."""
    with sf.begin() as s:
        s.add(
            WebhookAttempt(
                delivery_id=due.id,
                attempt=due.attempt,
                at=now,
                status_code=out.status_code,
                error=out.error,
                duration_ms=out.duration_ms,
            )
        )
        values: dict = {
            "attempts": due.attempt,
            "last_status_code": out.status_code,
            "last_error": out.error,
        }
        if out.ok:
            values |= {"state": "delivered", "delivered_at": now, "next_attempt_at": None}
        elif out.permanent or due.attempt >= settings.webhook_max_attempts:
            values |= {"state": "failed", "next_attempt_at": None}
        else:
            values |= {
                "next_attempt_at": now + timedelta(seconds=backoff_seconds(settings, due.attempt))
            }
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == due.id).values(**values))
    return values.get("state", "pending")


def deliver_due(sf: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> int:
    """One pass: outbox -> deliveries, then send what is due. Returns the number of attempts
    made."""
    enqueue_from_outbox(sf, settings)
    now = now or utcnow()
    due = claim_due(sf, settings, now)
    for d in due:
        out = send(d, settings)
        state = record(sf, settings, d, out, now)
        host = urlsplit(d.url).hostname
        log.info(
            "webhook %s for job %s to host %s: attempt %d, %s -> %s",
            d.event,
            d.job_id,
            host,
            d.attempt,
            out.status_code or out.error,
            state,
        )
    return len(due)


def deliveries(
    sf: sessionmaker[Session], job_id: str
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """A job's deliveries with their attempt logs (oldest first)."""
    with sf() as s:
        rows = list(
            s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.job_id == job_id)
                .order_by(WebhookDelivery.id)
            )
        )
        return [
            (
                d,
                list(
                    s.scalars(
                        select(WebhookAttempt)
                        .where(WebhookAttempt.delivery_id == d.id)
                        .order_by(WebhookAttempt.attempt)
                    )
                ),
            )
            for d in rows
        ]
