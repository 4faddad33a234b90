"""`assetgen evaluate` / `python -m gan evaluate`: the click command over gan.evaluate."""

from __future__ import annotations

import json

import click
import torch

from gan.checkpoint import CheckpointError, load_generator, update_meta
from gan.cli_common import data_for, data_option, resolve_model
from gan.data import DataError
from gan.evaluate import CLASS_MIXES, DEFAULT_EXTRACTORS, evaluate, headline
from gan.extractors import DEFAULT_SPECS
from gan.splits import SPLITS


def sample_options(class_mix: str):
    """`--per-class` and `--class-mix` (default `class_mix`): how many images an evaluation
    compares, and how they are shared out among the classes (gan.evaluate.CLASS_MIXES)."""
    per_class = click.option(
        "--per-class",
        type=click.IntRange(2, 100_000),
        default=1000,
        show_default=True,
        help="Generated images per class on average (and as many real train images for the "
        "reference), shared out among the classes by --class-mix.",
    )
    mix = click.option(
        "--class-mix",
        type=click.Choice(CLASS_MIXES),
        default=class_mix,
        show_default=True,
        help="How the generated set (and the real reference) is shared out among the classes: "
        "in the held-out split's proportions (then FD, KID and PRDC compare sets with one class "
        "mix), the fit split's (the mix an unconditional baseline learned: the fair one against "
        "it), or the same count for each.",
    )
    return lambda command: per_class(mix(command))


def metrics_key(split: str) -> str:
    """Where --write stores the result in the checkpoint JSON's metrics: the test split's under
    `evaluation` (the report's numbers), the validation split's under `evaluation_val`."""
    return "evaluation" if split == "test" else f"evaluation_{split}"


def make_evaluate_command(resolver=None) -> click.Command:
    """`evaluate`; `resolver(name) -> path` lets the caller add published model names."""

    @click.command("evaluate")
    @click.option("--model", "model", default="default", show_default=True)
    @data_option()
    @click.option(
        "--split",
        type=click.Choice(SPLITS),
        default="val",
        show_default=True,
        help="val: the validation split carved from train, for choosing snapshots and recipes. "
        "test: the held-out test split, for the final report only.",
    )
    @click.option(
        "--extractor",
        "extractors",
        type=click.Choice(list(DEFAULT_SPECS)),
        multiple=True,
        help=f"Feature space(s) to score in; repeat for several (default: all of "
        f"{', '.join(DEFAULT_EXTRACTORS)}).",
    )
    @sample_options(class_mix="held-out")
    @click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        default=None,
        envvar="ASSETGEN_CACHE_DIR",
        help="Where the feature extractors are cached (default ~/.cache/assetgen).",
    )
    @click.option("--threads", type=int, default=None, help="CPU threads for torch.")
    @click.option(
        "--write/--no-write",
        default=True,
        show_default=True,
        help="Store the numbers in the checkpoint's JSON (weights and their sha256 unchanged): "
        "metrics.evaluation for --split test, metrics.evaluation_val for --split val.",
    )
    @click.option(
        "--latent-scale",
        type=click.FloatRange(0, 4, min_open=True),
        default=1.0,
        show_default=True,
        help="Multiply each latent by this (a sampling temperature as a standard deviation: "
        "above 1 spreads the samples wider, trading precision for recall). Choose it on "
        "--split val.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
    def evaluate_command(
        model,
        source,
        split,
        extractors,
        per_class,
        class_mix,
        cache_dir,
        threads,
        write,
        latent_scale,
        as_json,
    ):
        """Score a generator in several feature spaces: FD, KID, precision/recall/density/
        coverage, class consistency and memorisation, each beside the real images' own score."""
        if threads:
            torch.set_num_threads(threads)
        path = resolve_model(model, resolver)
        source = data_for(source, path)
        try:
            generator, meta = load_generator(path)
        except CheckpointError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            result = evaluate(
                generator,
                meta,
                source,
                per_class,
                cache_dir,
                split=split,
                extractors=tuple(extractors) or DEFAULT_EXTRACTORS,
                class_mix=class_mix,
                latent_scale=latent_scale,
            )
        except (DataError, ValueError, CheckpointError) as exc:
            raise click.ClickException(str(exc)) from exc
        if write:
            update_meta(path, metrics={**meta.get("metrics", {}), metrics_key(split): result})
        click.echo(json.dumps(result, indent=2) if as_json else "\n".join(headline(result)))

    return evaluate_command


evaluate_command = make_evaluate_command()
