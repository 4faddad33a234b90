"""The `assetgen` console script: the root group; each command group lives in its own module.

``jobs.cli.context`` holds what the commands share; nothing imports this module back
(`python -m jobs.cli.main` runs it, as the demo's workers do).
"""

from __future__ import annotations

import click

from gan.cli import make_generate_command, train_command
from gan.evaluate_cli import make_evaluate_command
from gan.upscale_cli import train_upscaler_command, upscale_command, upscale_eval_command
from jobs.cli.bench import bench
from jobs.cli.context import AppContext
from jobs.cli.db import db
from jobs.cli.demo import demo
from jobs.cli.http import api, clients, webhooks
from jobs.cli.jobs_cmd import jobs
from jobs.cli.models import models, resolve_published
from jobs.cli.submit import submit
from jobs.cli.worker import sweeper, worker
from jobs.kinds.registry import KINDS


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


main.add_command(db)
main.add_command(submit)
main.add_command(jobs)
main.add_command(worker)
main.add_command(sweeper)
main.add_command(demo)
main.add_command(api)
main.add_command(clients)
main.add_command(webhooks)
main.add_command(models)
main.add_command(bench)
main.add_command(train_command, "train")
main.add_command(make_generate_command(resolve_published), "generate")
main.add_command(make_evaluate_command(resolve_published), "evaluate")
main.add_command(train_upscaler_command, "train-upscaler")
main.add_command(upscale_command, "upscale")
main.add_command(upscale_eval_command, "upscale-eval")
# a kind's own top-level commands (catalogue fill: `assetgen catalogue`)
for _kind in KINDS.values():
    for _command in _kind.commands:
        main.add_command(_command)

if __name__ == "__main__":
    main()
