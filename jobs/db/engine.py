"""Engine and session factories, and the check that the schema is migrated."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from jobs.settings import Settings
from jobs.sqlite import BUSY_TIMEOUT_MS, use_wal

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DatabaseNotMigrated(RuntimeError):
    """The database schema is missing or behind the code."""


class DatabaseAway(RuntimeError):
    """The database dropped a connection mid-write (a restart, or a transaction it ended): nothing
    was recorded, so the work can simply be retried."""


def create_db_engine(settings: Settings) -> Engine:
    url = settings.db_url()
    if url.startswith("sqlite"):
        return use_wal(
            create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}), foreign_keys=True
        )
    # pre-ping: a connection that died with a PostgreSQL restart is replaced, not used.
    # A transaction left idle for a whole lease belongs to a frozen or hung process (SIGSTOP, a VM
    # pause): the server ends it, so the row locks it holds cannot hide its items from the sweeper.
    idle_ms = settings.lease_seconds * 1000
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"options": f"-c idle_in_transaction_session_timeout={idle_ms}"},
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(settings: Settings):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.db_url().replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(settings), revision)


def head_revision(settings: Settings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_migrated(settings: Settings, engine: Engine) -> None:
    """Raise DatabaseNotMigrated, naming the command to run, unless the schema is at head."""
    current, head = current_revision(engine), head_revision(settings)
    if current != head:
        raise DatabaseNotMigrated(
            f"database {engine.url.render_as_string(hide_password=True)} is at revision "
            f"{current or 'none (empty)'}, the code needs {head}: run `assetgen db upgrade` "
            "(with the same ASSETGEN_DATABASE_URL) first"
        )
