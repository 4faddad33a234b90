"""`assetgen submit`: a spec file of any kind and/or the flags of a plain generation job; each
registered kind's own subcommand (`submit ad-creative`, `submit catalogue-fill`) is added here."""

from __future__ import annotations

import json

import click

from jobs.cli.context import AppContext
from jobs.kinds.registry import KINDS
from jobs.settings import PRIORITIES
from jobs.specs import FORMATS


@click.group(invoke_without_command=True)
@click.option(
    "--spec", "spec_file", type=click.File("rb"), help="Job spec JSON file ('-' for stdin)."
)
@click.option("--category", help="Class of the model to generate (e.g. shoe).")
@click.option("--count", type=int, help="Number of images.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format [png].")
@click.option("--model", help="'default', a published name[@version], or a checkpoint folder.")
@click.option("--seed", type=int, help="Seed base (default: the job id, i.e. fresh images).")
@click.option(
    "--images-per-item", type=int, help="Images per work item (the unit of parallelism) [64]."
)
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--wait", is_flag=True, help="Wait for the job with a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_context
def submit(
    ctx, spec_file, category, count, fmt, model, seed, images_per_item, priority, wait, as_json
):
    """Submit a job: a spec file of any kind and/or the flags of a plain generation job (flags
    override the file); `submit KIND --help` for the ad-creative and catalogue-fill commands."""
    if ctx.invoked_subcommand:
        return
    raw = spec_file.read() if spec_file else b"{}"
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"spec: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    flags = {
        "category": category,
        "count": count,
        "format": fmt,
        "model": model,
        "seed": seed,
        "images_per_item": images_per_item,
        "priority": priority,
    }
    if not isinstance(spec, dict):
        raise click.ClickException("spec: must be a JSON object")
    spec.update({k: v for k, v in flags.items() if v is not None})
    ctx.ensure_object(AppContext).submit_spec(spec, wait, as_json)


for _kind in KINDS.values():
    if _kind.submit_command is not None:
        submit.add_command(_kind.submit_command)
