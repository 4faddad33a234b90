"""`assetgen models tone` / `python -m gan tone`: fit a checkpoint's tone curve (gan.tone)."""

from __future__ import annotations

from pathlib import Path

import click
import torch
from tqdm import tqdm

from gan.checkpoint import CheckpointError, load_generator, save_generator
from gan.cli_common import MODEL_DIR, data_for, data_option
from gan.data import DataError
from gan.sampling import sample
from gan.splits import load_splits
from gan.tone import Toned, apply_tone_curve, fit_tone_curve, untoned

SEED_FROM = 1_000_000  # the generated images the curve is fitted on: seeds from here
CHUNK = 256
# What a new table makes stale: numbers measured on the images before it.
RESET_FIELDS = ("metrics",)


def channel_std(images: torch.Tensor) -> list[float]:
    """Per-channel pixel standard deviation of uint8 (N, C, H, W) images, on [0, 1]."""
    return [round(v, 4) for v in (images.float() / 255).std(dim=(0, 2, 3)).tolist()]


def fit_for(generator, class_names: list[str], fit, progress=None) -> tuple[torch.Tensor, dict]:
    """(table, record): the curve of `generator` (any tone curve it has is replaced) against the
    `fit` images of its classes, one generated image per fit image, class for class."""
    network = untoned(generator)
    model_class = torch.tensor([class_names.index(n) if n in class_names else -1
                                for n in fit.class_names])  # fmt: skip
    mapped = model_class[fit.labels]
    real = fit.images[mapped >= 0]
    labels = mapped[mapped >= 0].tolist()
    if not labels:
        raise ValueError(f"{fit.source}: no images of the model's classes {class_names}")
    chunks = []
    for start in range(0, len(labels), CHUNK):
        part = labels[start : start + CHUNK]
        seeds = range(SEED_FROM + start, SEED_FROM + start + len(part))
        chunks.append(sample(network, part, seeds).permute(0, 3, 1, 2))
        if progress:
            progress(len(part))
    generated = torch.cat(chunks)
    table = fit_tone_curve(generated, real)
    after = apply_tone_curve(generated, table)
    record = {
        "fitted_on": fit.source,
        "images": len(labels),
        "seeds_from": SEED_FROM,
        "std_real": channel_std(real),
        "std_before": channel_std(generated),
        "std_after": channel_std(after),
    }
    return table, record


@click.command("tone")
@MODEL_DIR
@data_option(
    "The photos the model was trained on; the curve is fitted on their fit split only "
    "(default: the source the model was trained on)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the toned checkpoint here (default: over MODEL_DIR's generator files; its "
    "classifier and upscaler stay).",
)
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
def tone_command(model_dir: Path, source, out, threads):
    """Fit MODEL_DIR's tone curve: per channel, the generated levels mapped to the real photos'
    at the same quantile (histogram matching on the fit split). The table goes into the weights
    (a new sha256); the checkpoint's old metrics are dropped, as they describe other images."""
    if threads:
        torch.set_num_threads(threads)
    source = data_for(source, model_dir)
    try:
        generator, meta = load_generator(model_dir)
        fit = load_splits(source, meta["image_size"], meta["channels"]).fit
        with tqdm(total=len(fit), desc="tone curve", unit="img", dynamic_ncols=True) as bar:
            table, record = fit_for(generator, meta["class_names"], fit, bar.update)
    except (CheckpointError, DataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    kept = {k: v for k, v in meta.items() if k not in RESET_FIELDS}
    target = save_generator(
        out or model_dir, Toned(untoned(generator), table), {**kept, "tone_curve": record}
    )
    click.echo(
        f"{target}: tone curve fitted on {record['images']} images of {record['fitted_on']}; "
        f"pixel std per channel {record['std_before']} -> {record['std_after']} "
        f"(real {record['std_real']})"
    )
