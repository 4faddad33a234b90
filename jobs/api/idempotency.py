"""Idempotency-Key for POST /v1/jobs: the same key and body give the original response, never a
second job.

The key row is inserted inside the transaction that creates the job (see
``service.submit(in_transaction=...)``) under a unique constraint on
(client_id, key). A request racing with the same key blocks on that
constraint until the first commits, then fails with an IntegrityError, and
answers with the stored response instead: one job, whatever the timing. The
body compared is the validated spec as canonical JSON. Keys live for
``settings.idempotency_ttl_seconds`` (at least 24 h); expired keys of a client are
deleted when it next uses one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import IdempotencyKey, Job, utcnow

KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class KeyConflict(ValueError):
    """The key was used before with a different request body."""


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: dict


def request_hash(body: dict) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def lookup(sf: sessionmaker[Session], client_id: str, key: str) -> StoredResponse | None:
    with sf() as s:
        row = s.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.client_id == client_id,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at > utcnow(),
            )
        ).first()
    return StoredResponse(row.request_hash, row.status_code, row.response) if row else None


def replay(stored: StoredResponse, req_hash: str) -> StoredResponse:
    if stored.request_hash != req_hash:
        raise KeyConflict(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a different job"
        )
    return stored


def recorder(
    client_id: str,
    key: str,
    req_hash: str,
    ttl_seconds: int,
    status_code: int,
    build: Callable[[Job], dict],
) -> Callable[[Session, Job], None]:
    """The in-transaction hook that stores the key with the response built from the new job."""

    def record(s: Session, job: Job) -> None:
        now = utcnow()
        s.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.client_id == client_id, IdempotencyKey.expires_at <= now
            )
        )
        s.add(
            IdempotencyKey(
                client_id=client_id,
                key=key,
                request_hash=req_hash,
                job_id=job.id,
                status_code=status_code,
                response=build(job),
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
        )
        s.flush()  # insert now: a racing request with this key waits on the unique constraint

    return record
