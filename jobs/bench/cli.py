"""Options and body of `assetgen bench` (the group's own command; `assetgen bench gan` is a
subcommand)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobs.bench.run import BenchError, run_bench
from jobs.bench.sizes import PHASES

PHASE_NAMES = ",".join(PHASES)


def bench_options(f):
    options = [
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the report as JSON (always written to OUT/bench.json).",
        ),
        click.option(
            "--device",
            type=click.Choice(["cpu", "cuda"]),
            default=None,
            help="Where the generator runs, in-process and in the workers [ASSETGEN_DEVICE].",
        ),
        click.option(
            "--quick",
            is_flag=True,
            help="Tiny counts (well under a minute): checks that it all runs.",
        ),
        click.option(
            "--out",
            "out_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("bench_out/system"),
            show_default=True,
            help="Folder for bench.json, scaling.png and the worker logs.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 64),
            default=1,
            show_default=True,
            help="`assetgen worker` processes (each with ASSETGEN_WORKER_CONCURRENCY slots).",
        ),
        click.option(
            "--phases",
            default=PHASE_NAMES,
            show_default=True,
            help="Comma-separated subset of the phases to run.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def run_bench_command(
    app, as_json: bool, device: str | None, quick: bool, out_dir: Path, workers: int, phases: str
) -> None:
    """Run the system benchmark against the configured (or embedded) database, broker and
    storage."""
    try:
        report = run_bench(
            app.settings,
            out_dir=out_dir,
            device=device,
            quick=quick,
            workers=workers,
            phases=tuple(p.strip() for p in phases.split(",") if p.strip()),
        )
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report, indent=1) if as_json else summary(report))


def _fmt(value, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def summary(r: dict) -> str:
    lines = [
        f"assetgen bench {r['run_id']} on {r['host']['device']} "
        f"({r['host']['cpu']}, {r['host']['cpus']} CPUs)"
        f"{' [quick]' if r['quick'] else ''}",
        f"  generator_ips      {_fmt(r.get('generator_ips'))}",
        f"  bare_loop_ips      {_fmt(r.get('bare_loop_ips'))}",
        f"  pipeline_ips       {_fmt(r.get('pipeline_ips'))}   "
        f"ratio {_fmt(r.get('pipeline_ratio'))}",
        f"  catalogue tiles/s  {_fmt(r.get('catalogue_pipeline_ips'))}   ratio "
        f"{_fmt(r.get('catalogue_pipeline_ratio'))} "
        f"(bare loop {_fmt(r.get('catalogue_bare_ips'))})",
        f"  upscaled catalogue {_fmt(r.get('catalogue_pipeline_upscaled_ips'))}   "
        f"vs without {_fmt(r.get('catalogue_pipeline_upscale_ratio'))} "
        f"(bare loop {_fmt(r.get('catalogue_bare_upscaled_ips'))}, "
        f"vs without {_fmt(r.get('catalogue_bare_upscale_ratio'))})",
        f"  upscaler           {_fmt(r.get('upscale_gmac_per_128px'))} GMAC per 128 px sample; "
        f"{_fmt(r.get('upscaled_tiles_ips'))} upscaled tiles/s",
        f"  small_jobs_ips     {_fmt(r.get('small_jobs_ips'))}   "
        f"ratio {_fmt(r.get('small_jobs_ratio'))}",
        f"  submit_rps         {_fmt(r.get('submit_rps'))}",
        f"  catalogue_submit_s {_fmt(r.get('catalogue_submit_s'))}"
        + (
            f" for a {r['catalogue_submit']['rows']}-product Shopify export, "
            f"{r['catalogue_submit']['bucket_objects']} bucket objects"
            if r.get("catalogue_submit")
            else ""
        ),
        f"  urgent_latency_s   {_fmt(r.get('urgent_latency_s'))}",
        f"  worker_peak_rss_mb {_fmt(r.get('worker_peak_rss_mb'))}",
        f"  naive_ips          {_fmt(r.get('naive_ips'))}   "
        f"speedup {_fmt(r.get('speedup_vs_naive'), 'x')}",
        f"  counts all match   {r['checks']['all_ok']}",
    ]
    if r.get("scaling", {}).get("plot"):
        lines.append(f"  scaling plot       {r['scaling']['plot']}")
    return "\n".join(lines)
