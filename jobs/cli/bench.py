"""`assetgen bench` (the system benchmark, jobs.bench) and `assetgen bench gan`."""

from __future__ import annotations

import click

from gan.cli import make_bench_gan_command
from jobs.bench.cli import bench_options, run_bench_command
from jobs.cli.context import AppContext
from jobs.cli.models import resolve_published


@click.group(invoke_without_command=True)
@bench_options
@click.pass_context
def bench(ctx, **options):
    """Benchmarks (they report; they never fail a build).

    Without a subcommand: the system benchmark (generator, bare loop, pipeline through real
    workers, small jobs, scaling, urgent latency, memory, the naive baseline) as a report.
    """
    if ctx.invoked_subcommand is None:
        run_bench_command(ctx.ensure_object(AppContext), **options)


bench.add_command(make_bench_gan_command(resolve_published), "gan")
