"""`assetgen jobs list|show|cancel|retry|wait`."""

from __future__ import annotations

import json
import sys

import click

from jobs import service
from jobs.cli.context import AppContext, exit_code, job_summary, pass_app
from jobs.db.tables import JobStatus
from jobs.kinds.registry import get_kind
from jobs.lifecycle import retry_failed


@click.group()
def jobs():
    """List, inspect, wait for and cancel jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]))
@click.option("--kind")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def jobs_list(app: AppContext, status, kind, limit, as_json):
    """The newest jobs first."""
    rows = service.list_jobs(app.session_factory(), status, kind, limit)
    if as_json:
        click.echo(json.dumps([job_summary(j) for j in rows], indent=1))
        return
    for j in rows:
        click.echo(
            f"{j.id}  {j.status:<16} {j.kind:<10} {j.done_items:>4}/{j.total_items:<4} "
            "items  "
            f"{j.total_images:>6} images  {j.created_at:%Y-%m-%d %H:%M:%S}"
        )


@jobs.command("show")
@click.argument("job_id")
@pass_app
def jobs_show(app: AppContext, job_id):
    """A job as JSON, with its failed items."""
    sf = app.session_factory()
    try:
        job = service.get_job(sf, job_id)
    except service.JobNotFound as exc:
        raise click.ClickException(str(exc)) from None
    out = job_summary(job, service.done_images(sf, job_id))
    out["spec"] = job.spec
    kind = get_kind(job.kind)
    report = kind.report(sf, job)  # catalogue fill: rows read / skipped / generated / rejected
    if report is not None:
        out[kind.report_key] = report
    out.update(kind.show(sf, job))  # catalogue fill: every row skipped or rejected, with its line
    out["failed"] = [
        {"item": i.index, "code": i.error_code, "message": i.error_message}
        for i in service.failed_items(sf, job_id)
    ]
    click.echo(json.dumps(out, indent=1))


@jobs.command("cancel")
@click.argument("job_id")
@pass_app
def jobs_cancel(app: AppContext, job_id):
    """Cancel a job's queued and running work (idempotent)."""
    try:
        job = service.cancel_job(app.session_factory(), job_id)
    except service.JobNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{job.id} {job.status}")


@jobs.command("retry")
@click.argument("job_id")
@click.option(
    "--failed-only",
    is_flag=True,
    required=True,
    help="Run only the failed items again (required: succeeded items and their objects stay).",
)
@pass_app
def jobs_retry(app: AppContext, job_id, failed_only):
    """Run a failed or partially_failed job's failed items again."""
    try:
        job = retry_failed(app.session_factory(), job_id)
    except (service.JobNotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    app.relay()
    click.echo(f"{job.id} {job.status}: {job.total_items - job.done_items} item(s) queued again")


@jobs.command("wait")
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 3).")
@pass_app
def jobs_wait(app: AppContext, job_ids, timeout):
    """Wait for jobs with a progress bar; exit 0 if all succeeded, 1 if one did not, 3 on
    timeout."""
    try:
        sys.exit(exit_code(app.wait_for(list(job_ids), timeout)))
    except service.JobNotFound as exc:
        raise click.ClickException(str(exc)) from None
