"""The sweeper: one active instance re-publishes lost work, re-queues expired leases,
fails work that used up its attempts, and finalises jobs whose last worker died. It needs SQL,
the broker and the bucket, never a model (no torch is imported here).

One instance at a time: a PostgreSQL advisory lock (held on its own connection),
or a file lock beside the SQLite database on the embedded default.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TextIO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from jobs import lifecycle, recovery
from jobs.broker.celery import create_celery, create_publisher
from jobs.db.engine import create_db_engine, create_session_factory
from jobs.finalise import finalise_jobs
from jobs.outbox import relay
from jobs.settings import Settings
from jobs.storage import Store, create_store

log = logging.getLogger(__name__)
LOCK_KEY = 0x61737367  # "assg": the advisory lock id of the sweeper


class SingleInstance:
    """Held by at most one sweeper across all machines sharing the database."""

    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        self._conn: Connection | None = None  # PostgreSQL: the session holding the lock
        self._file: TextIO | None = None  # SQLite: the locked file

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            self._conn = self.engine.connect()
            lock = text("SELECT pg_try_advisory_lock(:k)")
            got = self._conn.execute(lock, {"k": LOCK_KEY}).scalar()
            self._conn.commit()
            if not got:
                self.release()
            return bool(got)
        self._file = (self.settings.resolved_home() / "sweeper.lock").open("w")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            self.release()
            return False

    def ensure(self) -> bool:
        """Take the lock, or check that it is still ours."""
        return self.held() if (self._conn or self._file) else self.acquire()

    def held(self) -> bool:
        """Still ours? (A PostgreSQL restart drops the session and with it the lock.)"""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            self.release()
            return False

    def release(self) -> None:
        for handle in (self._conn, self._file):
            if handle is not None:
                try:
                    handle.close()
                except Exception:
                    pass
        self._conn = self._file = None


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    republished: int = 0
    finalized: int = 0
    published: int = 0


def sweep_once(
    settings: Settings,
    sf: sessionmaker[Session],
    store: Store,
    io: Executor,
    publish: Callable[[str, dict], None],
) -> SweepReport:
    report = SweepReport()
    report.requeued, report.failed = lifecycle.requeue_expired(sf, settings.max_attempts)
    report.republished = recovery.republish_stale(
        sf, settings.republish_after_seconds, settings.bulk_ageing_seconds
    )
    for job_id in recovery.unfinalized_jobs(sf):
        finalise_jobs(sf, store, io, [job_id])
        report.finalized += 1
    report.published = relay(sf, publish)
    return report


def run_sweeper(
    settings: Settings,
    interval: float,
    once: bool,
    should_stop: Callable[[], bool] = lambda: False,
    echo: Callable[[str], None] = log.info,
) -> None:
    engine = create_db_engine(settings)
    sf, store = create_session_factory(engine), create_store(settings)
    publish = create_publisher(create_celery(settings), settings)
    lock = SingleInstance(engine, settings)
    with ThreadPoolExecutor(4, thread_name_prefix="io") as io:  # manifest writes
        while not should_stop():
            try:
                if lock.ensure():
                    report = sweep_once(settings, sf, store, io, publish)
                    if any(asdict(report).values()):
                        echo(f"sweep: {asdict(report)}")
                elif once:
                    echo("another sweeper holds the lock; nothing to do")
            except Exception as exc:  # database (even the lock's connection) or broker away
                echo(f"sweep failed ({type(exc).__name__}: {exc}); retrying in {interval}s")
            if once:
                break
            time.sleep(interval)
    lock.release()
