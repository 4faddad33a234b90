"""`assetgen worker`: a Celery worker running the generation pipeline."""

from __future__ import annotations

import os

import click

from jobs.broker.celery import worker_queues
from jobs.cli.context import AppContext
from worker.app import create_worker_app
from worker.sweeper import run_sweeper


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    help="Worker processes [ASSETGEN_WORKER_CONCURRENCY].",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo", "threads"]),
    default="prefork",
    show_default=True,
    help="prefork: a child process per slot (a killed child's task is redelivered).",
)
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--name", help="Worker node name (default: assetgen-<pid>@<host>).")
@click.pass_obj
def worker(app: AppContext, concurrency, pool, loglevel, name):
    """Run a Celery worker that generates, stores and records images.

    Refuses to start against an un-migrated database. Publishes any outbox
    messages left unsent (e.g. submitted while the broker was down) first.
    """
    settings = app.settings
    app.session_factory()  # exits with the `assetgen db upgrade` message if the schema is behind
    sent = app.relay()
    if sent:
        click.echo(f"published {sent} pending outbox message(s)", err=True)
    celery = create_worker_app(settings)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--hostname={name or f'assetgen-{os.getpid()}@%h'}",
        f"--queues={','.join(worker_queues(settings))}",
        "--without-gossip",
        "--without-mingle",
    ]
    celery.worker_main(argv)


@click.command()
@click.option("--once", is_flag=True, help="One pass, then exit (for cron or tests).")
@click.option(
    "--interval", type=float, help="Seconds between passes [ASSETGEN_SWEEP_INTERVAL_SECONDS]."
)
@click.pass_obj
def sweeper(app: AppContext, once: bool, interval: float | None):
    """Recover work that a lost message or a dead worker left behind.

    Re-queues items whose lease expired (or fails them once out of attempts),
    re-publishes queued items nobody claimed, finalises jobs whose last worker
    died, and publishes the outbox. Only one sweeper is active at a time.
    """
    app.session_factory()  # refuses an un-migrated database
    run_sweeper(
        app.settings,
        interval or app.settings.sweep_interval_seconds,
        once,
        echo=lambda line: click.echo(line, err=True),
    )
