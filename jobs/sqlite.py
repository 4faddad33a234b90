"""The SQLite settings of every embedded database file: the job database and the broker's."""

from __future__ import annotations

from sqlalchemy import Engine, event

BUSY_TIMEOUT_MS = 30_000  # how long a connection waits for another process's write lock


def use_wal(engine: Engine, *, foreign_keys: bool = False) -> Engine:
    """On every new connection: WAL with synchronous=NORMAL, a 30 s busy timeout, foreign keys
    where asked.

    WAL lets the API, the CLI and the worker processes share one file (readers never block the
    writer), and synchronous=NORMAL spares each commit a rollback-journal fsync (about 20 ms here).
    """

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if foreign_keys:
            cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine
