"""The `assetgen` console script: one click group; subcommands live next to what they drive."""
from __future__ import annotations

import json
import sys
import time

import click
from pydantic import ValidationError

from jobs import service
from jobs.specs import SpecError
from jobs.models import TERMINAL_JOB, JobStatus


class AppContext:
    """Settings and database handles, created on first use (so `--help` needs no database)."""

    def __init__(self):
        self._settings = None
        self._sf = None

    @property
    def settings(self):
        if self._settings is None:
            from jobs.settings import load_settings

            try:
                self._settings = load_settings()
            except ValidationError as err:
                first = err.errors()[0]
                raise click.ClickException(f"ASSETGEN_{str(first['loc'][0]).upper()}: {first['msg']}") from None
        return self._settings

    def session_factory(self):
        """A session factory on a migrated database, or a clear error naming the command to run."""
        if self._sf is None:
            from jobs.db import DatabaseNotMigrated, check_migrated, create_db_engine, create_session_factory

            engine = create_db_engine(self.settings)
            try:
                check_migrated(self.settings, engine)
            except DatabaseNotMigrated as exc:
                raise click.ClickException(str(exc)) from None
            self._sf = create_session_factory(engine)
        return self._sf

    def relay(self) -> int:
        """Publish the outbox (the broker may be down: then the messages wait in SQL)."""
        from jobs.outbox import relay
        from worker.celery_app import create_celery, create_publisher

        return relay(self.session_factory(), create_publisher(create_celery(self.settings), self.settings))


pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="assetgen")
@click.pass_context
def main(ctx):
    """assetgen: batch product-image generation for e-commerce marketing.

    Configuration comes from ASSETGEN_* environment variables; unset means the
    embedded defaults (SQLite, a serverless broker, a local-folder bucket under
    ./.assetgen). See README.md for the table.
    """
    ctx.ensure_object(AppContext)


# ---------------------------------------------------------------- db


@main.group()
def db():
    """Database schema management (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_app
def db_upgrade(app: AppContext, revision: str):
    """Create or migrate the database schema to the code's revision."""
    from jobs.db import upgrade

    upgrade(app.settings, revision)
    click.echo(f"database at revision {revision}")


# ---------------------------------------------------------------- submit / jobs


def job_summary(job, images: int | None = None) -> dict:
    out = {"id": job.id, "kind": job.kind, "status": job.status, "priority": job.priority,
           "model": f"{job.model_name}@{job.model_version}", "items": f"{job.done_items}/{job.total_items}",
           "failed_items": job.failed_items, "images": job.total_images,
           "created_at": job.created_at.isoformat() if job.created_at else None,
           "finished_at": job.finished_at.isoformat() if job.finished_at else None,
           "manifest": job.manifest_key}
    if images is not None:
        out["images_done"] = images
    if job.error_code:
        out["error"] = {"code": job.error_code, "message": job.error_message}
    return out


@main.group(invoke_without_command=True)
@click.option("--spec", "spec_file", type=click.File("rb"), help="Job spec JSON file ('-' for stdin).")
@click.option("--category", help="Class of the model to generate (e.g. sneaker).")
@click.option("--count", type=int, help="Number of images.")
@click.option("--format", "fmt", type=click.Choice(["png", "jpeg", "webp"]), help="Output format [png].")
@click.option("--model", help="'default', a published name[@version], or a checkpoint folder.")
@click.option("--seed", type=int, help="Seed base (default: the job id, i.e. fresh images).")
@click.option("--images-per-item", type=int, help="Images per work item (the unit of parallelism) [64].")
@click.option("--priority", type=click.Choice(["urgent", "normal", "bulk"]))
@click.option("--wait", is_flag=True, help="Wait for the job with a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_context
def submit(ctx, spec_file, category, count, fmt, model, seed, images_per_item, priority, wait, as_json):
    """Submit a job: a spec file of any kind and/or the flags of a plain generation job (flags
    override the file); `submit KIND --help` for the ad-creative and catalogue-fill commands."""
    if ctx.invoked_subcommand:
        return
    raw = spec_file.read() if spec_file else b"{}"
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"spec: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    flags = {"category": category, "count": count, "format": fmt, "model": model, "seed": seed,
             "images_per_item": images_per_item, "priority": priority}
    if not isinstance(spec, dict):
        raise click.ClickException("spec: must be a JSON object")
    spec.update({k: v for k, v in flags.items() if v is not None})
    submit_spec(ctx.ensure_object(AppContext), spec, wait, as_json)


def submit_spec(app: AppContext, spec: dict, wait: bool, as_json: bool) -> None:
    """Submit, publish, print the job (id or JSON) and, with wait, follow it to its end (exit code = outcome)."""
    from worker.storage import StorageUnavailable

    try:
        job = service.submit(app.session_factory(), app.settings, spec)
    except SpecError as exc:
        raise click.ClickException(f"invalid job spec: {exc}") from None
    except StorageUnavailable as exc:  # a catalogue fill reads the bucket at submit
        raise click.ClickException(f"storage unavailable, nothing was submitted: {exc}") from None
    app.relay()
    click.echo(json.dumps(job_summary(job), indent=1) if as_json else job.id)
    if wait:
        sys.exit(exit_code(wait_for(app, [job.id], timeout=None)))


@main.group()
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
        click.echo(f"{j.id}  {j.status:<16} {j.kind:<10} {j.done_items:>4}/{j.total_items:<4} items  "
                   f"{j.total_images:>6} images  {j.created_at:%Y-%m-%d %H:%M:%S}")


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
    if job.kind == "catalogue_fill":  # rows read / skipped / generated / rejected (each row: the manifest)
        from jobs.catalogue_state import job_report

        out["catalogue"] = job_report(sf, job, with_rows=False)["counts"]
    out["failed"] = [{"item": i.index, "code": i.error_code, "message": i.error_message}
                     for i in service.failed_items(sf, job_id)]
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
@click.option("--failed-only", is_flag=True, required=True,
              help="Run only the failed items again (required: succeeded items and their objects stay).")
@pass_app
def jobs_retry(app: AppContext, job_id, failed_only):
    """Run a failed or partially_failed job's failed items again."""
    from jobs.recovery import retry_failed

    try:
        job = retry_failed(app.session_factory(), job_id)
    except (service.JobNotFound, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    app.relay()
    click.echo(f"{job.id} {job.status}: {job.total_items - job.done_items} item(s) queued again")


def wait_for(app: AppContext, job_ids: list[str], timeout: float | None, poll: float = 0.25) -> list[str]:
    """Poll SQL with one progress bar until every job is terminal; return their final states."""
    from tqdm import tqdm

    sf = app.session_factory()
    total = sum(service.get_job(sf, j).total_images for j in job_ids)
    deadline = None if timeout is None else time.monotonic() + timeout
    with tqdm(total=total, unit="img", desc="generating", file=sys.stderr) as bar:
        while True:
            jobs = [service.get_job(sf, j) for j in job_ids]
            bar.update(sum(service.done_images(sf, j) for j in job_ids) - bar.n)
            active = [j for j in jobs if JobStatus(j.status) not in TERMINAL_JOB]
            bar.set_postfix_str(f"{len(jobs) - len(active)}/{len(jobs)} jobs done")
            if not active or (deadline is not None and time.monotonic() > deadline):
                break
            time.sleep(poll)
    for j in jobs:
        click.echo(f"{j.id} {j.status}" + (f": {j.error_message}" if j.error_message else ""))
    if active:
        click.echo(f"timed out after {timeout}s with {len(active)} job(s) unfinished", err=True)
    return [j.status for j in jobs]


def exit_code(states: list[str]) -> int:
    """0 when every job succeeded, 3 when one is unfinished (timeout), else 1."""
    if any(JobStatus(s) not in TERMINAL_JOB for s in states):
        return 3
    return 0 if all(s == JobStatus.succeeded.value for s in states) else 1


@jobs.command("wait")
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 3).")
@pass_app
def jobs_wait(app: AppContext, job_ids, timeout):
    """Wait for jobs with a progress bar; exit 0 if all succeeded, 1 if one did not, 3 on timeout."""
    try:
        sys.exit(exit_code(wait_for(app, list(job_ids), timeout)))
    except service.JobNotFound as exc:
        raise click.ClickException(str(exc)) from None


def register_commands() -> None:
    from gan.cli import make_bench_gan_command, make_evaluate_command, make_generate_command, train_command
    from jobs.api_cli import api, clients, webhooks
    from jobs.demo import demo
    from jobs.models_cli import models, published_resolver
    from worker.cli import sweeper, worker

    def resolver(ref: str):  # published model names for the gan commands
        return published_resolver(click.get_current_context().find_object(AppContext))(ref)

    main.add_command(worker)
    main.add_command(sweeper)
    main.add_command(demo)
    main.add_command(api)
    main.add_command(clients)
    main.add_command(webhooks)
    main.add_command(models)
    from jobs.catalogue_cli import catalogue, catalogue_fill

    submit.add_command(catalogue_fill)
    from jobs.ad_creative_cli import ad_creative

    submit.add_command(ad_creative)
    main.add_command(catalogue)
    from gan.cli import classifier_command

    models.add_command(classifier_command, "classifier")
    main.add_command(train_command, "train")
    main.add_command(make_generate_command(resolver), "generate")
    main.add_command(make_evaluate_command(resolver), "evaluate")

    from worker.bench.cli import bench_options, run_bench_command

    @main.group(invoke_without_command=True)
    @bench_options
    @click.pass_context
    def bench(ctx, **options):
        """Benchmarks (they report; they never fail a build).

        Without a subcommand: the system benchmark (generator, bare loop, pipeline through real
        workers, small jobs, scaling, urgent latency, memory, the naive baseline) as a report.
        """
        if ctx.invoked_subcommand is None:
            run_bench_command(ctx.ensure_object(AppContext), **options)

    bench.add_command(make_bench_gan_command(resolver), "gan")


register_commands()

if __name__ == "__main__":
    main()
