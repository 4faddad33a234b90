"""Readiness checks for /readyz: database, broker and storage, each reported on its own.

Errors are reported by exception type only: a message could carry a URL with a password.
"""

from __future__ import annotations

from celery import Celery
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from jobs.api.schemas import CheckOut, ReadyOut
from jobs.storage import S3Store, Store

PROBE_KEY = "__readyz__/probe"


def _check(fn) -> CheckOut:
    try:
        fn()
    except Exception as exc:  # reported, not raised: readiness is about saying what is down
        return CheckOut(ok=False, error=type(exc).__name__)
    return CheckOut(ok=True)


def check_database(sf: sessionmaker[Session]) -> None:
    with sf() as s:
        s.execute(text("SELECT 1"))


def check_broker(celery: Celery) -> None:
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def check_storage(store: Store) -> None:
    if isinstance(store, S3Store):
        store.list(PROBE_KEY)  # lists the bucket: a missing bucket or bad credentials fail here
    else:
        store.head(PROBE_KEY)


def readiness(sf: sessionmaker[Session], celery: Celery, store: Store) -> ReadyOut:
    checks = {
        "database": _check(lambda: check_database(sf)),
        "broker": _check(lambda: check_broker(celery)),
        "storage": _check(lambda: check_storage(store)),
    }
    return ReadyOut(ok=all(c.ok for c in checks.values()), checks=checks)
