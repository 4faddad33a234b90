"""`assetgen api`, `assetgen clients create|disable|list`,
`assetgen webhooks deliver|replay|show`."""

from __future__ import annotations

import json
import time

import click
import uvicorn
from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from jobs.api.app import create_app
from jobs.auth import ClientExists, create_client, parse_scopes
from jobs.cli.context import AppContext
from jobs.db.tables import ApiClient, utcnow
from jobs.service import JobNotFound
from jobs.settings import load_settings
from jobs.webhooks import deliver_due, deliveries, replay


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="uvicorn worker processes (each has its own rate-limit buckets).",
)
@click.pass_obj
def api(app: AppContext, host: str, port: int, workers: int):
    """Serve the HTTP API (OpenAPI at /docs) with uvicorn."""
    app.session_factory()  # refuses an un-migrated database with the command to run
    if workers == 1:
        uvicorn.run(create_app(app.settings), host=host, port=port, proxy_headers=False)
    else:  # each worker process reads ASSETGEN_* itself
        uvicorn.run(
            "jobs.cli.http:app_from_env", factory=True, host=host, port=port, workers=workers
        )


def app_from_env():
    return create_app(load_settings())


# ---------------------------------------------------------------- clients


@click.group()
def clients():
    """API clients and their bearer tokens."""


@clients.command("create")
@click.argument("name")
@click.option(
    "--scopes",
    default="submit,read",
    show_default=True,
    help="Comma-separated: submit, read, admin.",
)
@click.pass_obj
def clients_create(app: AppContext, name: str, scopes: str):
    """Create a client; prints its bearer token and webhook secret ONCE (only a hash of the token is
    kept)."""
    if not 1 <= len(name) <= 100:
        raise click.BadParameter("1 to 100 characters", param_hint="NAME")
    try:
        new = create_client(app.session_factory(), name, parse_scopes(scopes))
    except (ValueError, ClientExists) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"client {new.name} ({new.client_id}) scopes: {' '.join(new.scopes)}", err=True)
    click.echo("store these now; they are not shown again:", err=True)
    click.echo(
        json.dumps(
            {"client_id": new.client_id, "token": new.token, "webhook_secret": new.webhook_secret}
        )
    )


@clients.command("disable")
@click.argument("name")
@click.pass_obj
def clients_disable(app: AppContext, name: str):
    """Revoke a client's token at once (its jobs stay)."""
    with app.session_factory().begin() as s:
        done = s.execute(
            update(ApiClient)
            .where(ApiClient.name == name, ApiClient.disabled_at.is_(None))
            .values(disabled_at=utcnow())
        ).rowcount
    if not done:
        raise click.ClickException(f"no active client named {name!r}")
    click.echo(f"client {name} disabled")


@clients.command("list")
@click.pass_obj
def clients_list(app: AppContext):
    """Clients and their scopes (never their tokens)."""
    with app.session_factory()() as s:
        for c in s.scalars(select(ApiClient).order_by(ApiClient.created_at)):
            click.echo(
                f"{c.id}  {c.name:<30} {c.scopes:<20} {'disabled' if c.disabled_at else 'active'}"
            )


# ---------------------------------------------------------------- webhooks


@click.group()
def webhooks():
    """Signed job-event webhooks: the delivery loop, replays and the delivery log."""


@webhooks.command("deliver")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=2.0,
    show_default=True,
    help="Seconds between passes.",
)
@click.pass_obj
def webhooks_deliver(app: AppContext, once: bool, interval: float):
    """Deliver webhook events from the outbox, retrying with exponential backoff."""
    sf = app.session_factory()
    while True:
        try:
            sent = deliver_due(sf, app.settings)
        except (
            OperationalError,
            InterfaceError,
        ) as exc:  # the database is briefly away: try again later
            if once:
                raise click.ClickException(f"database unavailable ({type(exc).__name__})") from None
            click.echo(
                f"database unavailable ({type(exc).__name__}); retrying in {interval}s", err=True
            )
            sent = 0
        if once:
            click.echo(f"{sent} delivery attempt(s)")
            return
        if not sent:
            time.sleep(interval)  # an idle poll interval, not synchronisation


@webhooks.command("replay")
@click.argument("job_id")
@click.pass_obj
def webhooks_replay(app: AppContext, job_id: str):
    """Send a finished job's latest event again (e.g. to a receiver that was down)."""
    try:
        d = replay(app.session_factory(), job_id)
    except (JobNotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"queued {d.event} event of job {job_id} (delivery {d.id}); "
        "`assetgen webhooks deliver` sends it"
    )


@webhooks.command("show")
@click.argument("job_id")
@click.pass_obj
def webhooks_show(app: AppContext, job_id: str):
    """A job's webhook deliveries and their attempt log, as JSON."""
    out = [
        {
            "delivery": d.id,
            "event": d.event,
            "state": d.state,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
            "log": [
                {
                    "attempt": a.attempt,
                    "at": a.at.isoformat(),
                    "status": a.status_code,
                    "error": a.error,
                    "ms": a.duration_ms,
                }
                for a in attempts
            ],
        }
        for d, attempts in deliveries(app.session_factory(), job_id)
    ]
    click.echo(json.dumps(out, indent=1))
