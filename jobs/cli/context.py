"""The CLI's shared context: settings, the database, the outbox relay, submitting and waiting.

Every command module uses it (``click.pass_obj`` / ``pass_app``); it imports no command module.
"""

from __future__ import annotations

import json
import sys
import time

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from jobs import service
from jobs.broker.celery import create_celery, create_publisher
from jobs.db.engine import (
    DatabaseNotMigrated,
    check_migrated,
    create_db_engine,
    create_session_factory,
)
from jobs.db.tables import TERMINAL_JOB, Job, JobStatus
from jobs.outbox import relay
from jobs.settings import Settings, load_settings
from jobs.specs import SpecError
from jobs.storage import StorageUnavailable


class AppContext:
    """Settings and database handles, created on first use (so `--help` needs no database)."""

    def __init__(self, settings: Settings | None = None):
        self._settings = settings
        self._sf: sessionmaker[Session] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ValidationError as err:
                first = err.errors()[0]
                raise click.ClickException(
                    f"ASSETGEN_{str(first['loc'][0]).upper()}: {first['msg']}"
                ) from None
        return self._settings

    def session_factory(self) -> sessionmaker[Session]:
        """A session factory on a migrated database, or a clear error naming the command to run."""
        if self._sf is None:
            engine = create_db_engine(self.settings)
            try:
                check_migrated(self.settings, engine)
            except DatabaseNotMigrated as exc:
                raise click.ClickException(str(exc)) from None
            self._sf = create_session_factory(engine)
        return self._sf

    def relay(self) -> int:
        """Publish the outbox (the broker may be down: then the messages wait in SQL)."""
        publisher = create_publisher(create_celery(self.settings), self.settings)
        return relay(self.session_factory(), publisher)

    def submit_spec(self, spec: dict, wait: bool, as_json: bool) -> None:
        """Submit, publish, print the job (id or JSON) and, with wait, follow it to its end (exit
        code = outcome)."""
        try:
            job = service.submit(self.session_factory(), self.settings, spec)
        except SpecError as exc:
            raise click.ClickException(f"invalid job spec: {exc}") from None
        except StorageUnavailable as exc:  # a catalogue fill reads the bucket at submit
            raise click.ClickException(
                f"storage unavailable, nothing was submitted: {exc}"
            ) from None
        self.relay()
        click.echo(json.dumps(job_summary(job), indent=1) if as_json else job.id)
        if wait:
            sys.exit(exit_code(self.wait_for([job.id], timeout=None)))

    def wait_for(self, job_ids: list[str], timeout: float | None, poll: float = 0.25) -> list[str]:
        """Poll SQL with one progress bar until every job is terminal; return their final states."""
        sf = self.session_factory()
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
                time.sleep(poll)  # a poll interval, not synchronisation
        for j in jobs:
            click.echo(f"{j.id} {j.status}" + (f": {j.error_message}" if j.error_message else ""))
        if active:
            click.echo(f"timed out after {timeout}s with {len(active)} job(s) unfinished", err=True)
        return [j.status for j in jobs]


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def job_summary(job: Job, images: int | None = None) -> dict:
    out = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "priority": job.priority,
        "model": f"{job.model_name}@{job.model_version}",
        "upscaler": f"{job.upscaler_name}@{job.upscaler_version}" if job.upscaler_name else None,
        "items": f"{job.done_items}/{job.total_items}",
        "failed_items": job.failed_items,
        "images": job.total_images,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "manifest": job.manifest_key,
    }
    if images is not None:
        out["images_done"] = images
    if job.error_code:
        out["error"] = {"code": job.error_code, "message": job.error_message}
    return out


def exit_code(states: list[str]) -> int:
    """0 when every job succeeded, 3 when one is unfinished (timeout), else 1."""
    if any(JobStatus(s) not in TERMINAL_JOB for s in states):
        return 3
    return 0 if all(s == JobStatus.succeeded.value for s in states) else 1
