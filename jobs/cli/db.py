"""`assetgen db upgrade`: the database schema (Alembic)."""

from __future__ import annotations

import click

from jobs.cli.context import AppContext, pass_app
from jobs.db.engine import upgrade


@click.group()
def db():
    """Database schema management (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_app
def db_upgrade(app: AppContext, revision: str):
    """Create or migrate the database schema to the code's revision."""
    upgrade(app.settings, revision)
    click.echo(f"database at revision {revision}")
