"""Click commands of the gan package; the top-level `assetgen` group mounts them."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch
from PIL import Image
from tqdm import tqdm

from gan.bench import bench_gan
from gan.checkpoint import CheckpointError, load_generator
from gan.classifier import export_classifier
from gan.cli_common import MODEL_DIR, data_for, data_option, resolve_model
from gan.config import ModelConfig, TrainConfig
from gan.data import DataError
from gan.device import resolve_device
from gan.evaluate_cli import sample_options
from gan.models import ARCHS
from gan.sampling import MAX_SEED, sample
from gan.splits import load_splits, train_split
from gan.train import train


@click.command("train")
@click.option(
    "--data",
    "source",
    required=True,
    help="fashion-mnist, a Fashion-MNIST folder, a folder per category, or a catalogue CSV.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder (checkpoints, samples, metrics).",
)
@click.option(
    "--epochs",
    type=float,
    default=None,
    help="Passes over the data (default 10 unless --max-minutes is given).",
)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="Stop after this much wall time (checkpoint saved).",
)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--arch",
    type=click.Choice(sorted(ARCHS)),
    default="sngan",
    show_default=True,
    help="Network (see docs/gan.md): sngan (the fashion-mnist-32 model's), fastgan (photos), dcgan "
    "(the classic baseline). An arch brings its recipe's defaults; explicit options win.",
)
@click.option(
    "--image-size", type=click.Choice(["32", "64", "128", "256"]), default="32", show_default=True
)
@click.option(
    "--channels",
    type=click.Choice(["auto", "1", "3"]),
    default="auto",
    show_default=True,
    help="auto: 1 for Fashion-MNIST, 3 for photos.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=None, help="Default 64 (or the arch recipe's).")
@click.option(
    "--g-width",
    type=int,
    default=None,
    help="Generator channels at full resolution (default 32, or the arch recipe's).",
)
@click.option(
    "--d-width",
    type=int,
    default=None,
    help="Discriminator channels at full resolution (default 32, or the arch recipe's).",
)
@click.option(
    "--lr-g", type=float, default=None, help="Generator Adam learning rate (default 2e-4)."
)
@click.option(
    "--lr-d",
    type=float,
    default=None,
    help="Discriminator Adam learning rate (default 4e-4, TTUR; or the arch recipe's).",
)
@click.option(
    "--augment",
    default=None,
    help="DiffAugment: auto (default), off, or e.g. color,translation,cutout.",
)
@click.option(
    "--d-steps",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="D updates per G update.",
)
@click.option(
    "--mode-seeking",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Weight of the MSGAN mode-seeking term (0 = off).",
)
@click.option(
    "--ema-decay",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=None,
    help="Decay of the weight average (EMA) of G that every checkpoint holds (default 0.999, "
    "or the arch recipe's: 0 for dcgan; 0 = the raw generator).",
)
@click.option(
    "--cond-start",
    type=click.IntRange(min=0),
    default=None,
    help="Transitional conditioning: steps trained unconditionally (default 0 or the recipe's).",
)
@click.option(
    "--cond-ramp",
    type=click.IntRange(min=0),
    default=None,
    help="Steps over which the class is then brought in (0 = at once).",
)
@click.option(
    "--class-loss",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Weight of the auxiliary-classifier term (AC-GAN) in D and G (0 = off; default the "
    "recipe's: 2.0 for fastgan).",
)
@click.option(
    "--mbstd-group",
    type=click.IntRange(min=0),
    default=None,
    help="fastgan: minibatch standard deviation in D over groups of this many images (0 = off).",
)
@click.option(
    "--g-noise/--no-g-noise",
    default=None,
    help="fastgan: a per-pixel noise map (read from the seed's latent) into each G conv "
    "(default off).",
)
@click.option(
    "--g-convs",
    type=click.IntRange(1, 2),
    default=None,
    help="fastgan: convs per generator level, 1 (UpBlock, default) or 2 (UpBlockComp).",
)
@click.option(
    "--flip/--no-flip",
    default=None,
    help="Mirror half of each real batch (default: on for photos).",
)
@click.option(
    "--class-balance",
    type=click.FloatRange(0, 1),
    default=None,
    help="Draw an image of a class with n images with weight n**-B: 0 (default) = each image "
    "once per epoch, 1 = every class equally often, 0.5 = in proportion to sqrt(n).",
)
@click.option(
    "--amp/--no-amp",
    default=True,
    show_default=True,
    help="bf16 autocast on CUDA and on CPUs with bf16 hardware (AMX / AVX512-BF16).",
)
@click.option(
    "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)."
)
@click.option(
    "--sample-every",
    type=int,
    default=500,
    show_default=True,
    help="Steps between sample grids and checkpoints.",
)
@click.option(
    "--keep-snapshots",
    is_flag=True,
    help="Keep every checkpoint in RUN_DIR/snapshots/step_XXXXXXX/.",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Continue from RUN_DIR's last train state.",
)
def train_command(
    source,
    out_dir,
    epochs,
    max_minutes,
    device,
    arch,
    image_size,
    channels,
    seed,
    batch_size,
    g_width,
    d_width,
    lr_g,
    lr_d,
    augment,
    d_steps,
    mode_seeking,
    ema_decay,
    cond_start,
    cond_ramp,
    class_loss,
    mbstd_group,
    g_noise,
    g_convs,
    flip,
    class_balance,
    amp,
    threads,
    sample_every,
    keep_snapshots,
    resume,
):
    """Train the conditional GAN on SOURCE into RUN_DIR.

    A source with a validation split (gan.splits: Fashion-MNIST, a folder with splits.csv, or
    any folder) trains on its train split less validation, which stays held out for choosing
    snapshots; the test split is never read here.
    """
    try:
        splits = load_splits(source, int(image_size), None if channels == "auto" else int(channels))
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    data = splits.fit
    explicit = {
        "batch_size": batch_size,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "augment": augment,
        "ema_decay": ema_decay,
        "cond_start": cond_start,
        "cond_ramp": cond_ramp,
        "class_loss": class_loss,
        "flip": flip,
        "class_balance": class_balance,
        "model.g_width": g_width,
        "model.d_width": d_width,
        "model.mbstd_group": mbstd_group,
        "model.g_noise": g_noise,
        "model.g_convs": g_convs,
    }
    photos = not data.source.startswith("fashion-mnist")
    opts = {"flip": photos, **ARCHS[arch].recipe}
    opts.update({k: v for k, v in explicit.items() if v is not None})
    model_opts = {k[6:]: opts.pop(k) for k in list(opts) if k.startswith("model.")}
    for path, reason in data.skipped:
        click.echo(f"skipped unreadable image {path}: {reason}", err=True)
    try:
        model = ModelConfig(
            arch=arch,
            image_size=int(image_size),
            channels=data.channels,
            num_classes=len(data.class_names),
            **model_opts,
        )
        cfg = TrainConfig(
            model=model,
            epochs=epochs or (1e6 if max_minutes else 10.0),
            max_minutes=max_minutes,
            seed=seed,
            device=device,
            **opts,
            d_steps=d_steps,
            mode_seeking=mode_seeking,
            amp=amp,
            num_threads=threads,
            sample_every=sample_every,
            keep_snapshots=keep_snapshots,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{len(data)} images, {len(data.class_names)} classes: {', '.join(data.class_names)}",
        err=True,
    )
    bar = tqdm(unit="img", dynamic_ncols=True, smoothing=0.05)

    def progress(info: dict) -> None:
        if bar.n == 0:  # first step of this invocation: a resumed run starts where it stopped
            bar.total = info["total_steps"] * info["images"] if epochs or not max_minutes else None
            bar.initial = bar.n = bar.last_print_n = (info["step"] - 1) * info["images"]
        bar.update(info["images"])
        bar.set_postfix(step=info["step"], D=f"{info['loss_d']:.3f}", G=f"{info['loss_g']:.3f}")

    try:
        out = train(cfg, data, out_dir, on_progress=progress, resume=resume)
    except (CheckpointError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    click.echo(f"checkpoint: {out}/generator.safetensors  samples: {out}/samples.png")


def _load(model: str, resolver=None):
    path = resolve_model(model, resolver)
    try:
        return (*load_generator(path), path)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc


def write_pngs(images, out_dir: Path, start: int = 0) -> list[Path]:
    """uint8 (N, H, W, C) -> out_dir/<nnnnn>.png, numbered from `start`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images.numpy()):
        path = out_dir / f"{start + i:05d}.png"
        Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(path)
        paths.append(path)
    return paths


def make_generate_command(resolver=None) -> click.Command:
    """`generate`; `resolver(name) -> path` lets the caller add published model names."""

    @click.command("generate")
    @click.option(
        "--model",
        "model",
        default="default",
        show_default=True,
        help="Checkpoint path, 'default', or a published name.",
    )
    @click.option("--category", required=True, help="Class name, e.g. shoe.")
    @click.option("--count", type=click.IntRange(1, 100_000), default=16, show_default=True)
    @click.option(
        "--seed",
        type=click.IntRange(0, 2**63 - 1),
        default=0,
        show_default=True,
        help="Image i uses seed S+i: the same seed always gives the same image.",
    )
    @click.option(
        "--truncation",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        help="Truncation trick threshold (e.g. 1.0); off by default.",
    )
    @click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
    def generate_command(model, category, count, seed, truncation, out_dir):
        """Write COUNT images of CATEGORY to OUT/<category>/<nnnnn>.png at native resolution."""
        generator, meta, _ = _load(model, resolver)
        names = meta["class_names"]
        if category not in names:
            raise click.BadParameter(
                f"{category!r} is not a class of this model; allowed: {', '.join(names)}",
                param_hint="--category",
            )
        if seed + count - 1 > MAX_SEED:
            raise click.BadParameter(f"seed + count - 1 must be <= {MAX_SEED}", param_hint="--seed")
        images = sample(
            generator, [names.index(category)] * count, range(seed, seed + count), truncation
        )
        paths = write_pngs(images, Path(out_dir) / category)
        click.echo(f"wrote {len(paths)} images to {Path(out_dir) / category}")

    return generate_command


def make_bench_gan_command(resolver=None) -> click.Command:
    @click.command("gan")
    @click.option("--model", "model", default="default", show_default=True)
    @data_option()
    @click.option(
        "--epochs",
        type=float,
        default=None,
        help="Train the baseline for these epochs (default: the model's training wall time).",
    )
    @click.option(
        "--baseline",
        "baseline",
        type=click.Path(exists=True),
        default=None,
        help="A baseline checkpoint trained already (`train --arch dcgan`), not trained here.",
    )
    @click.option(
        "--split",
        type=click.Choice(["val", "test"]),
        default="test",
        show_default=True,
        help="Held-out real images to score against (test: the report).",
    )
    @sample_options(class_mix="fit")  # the mix the unconditional classic learned
    @click.option(
        "--out",
        "out_dir",
        default="bench_out/gan",
        show_default=True,
        type=click.Path(file_okay=False),
    )
    @click.option(
        "--cache-dir", type=click.Path(file_okay=False), default=None, envvar="ASSETGEN_CACHE_DIR"
    )
    @click.option("--threads", type=int, default=None)
    @click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Where the classic DCGAN trains (scoring runs on the CPU).",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the full JSON (always written to OUT/bench_gan.json).",
    )
    def bench_gan_command(
        model,
        source,
        epochs,
        baseline,
        split,
        per_class,
        class_mix,
        out_dir,
        cache_dir,
        threads,
        device,
        as_json,
    ):
        """Our model vs. the classic DCGAN recipe, trained by the same trainer on the same data
        for the same training time (or --epochs; or a --baseline checkpoint trained before), scored
        in every feature space (JSON + PNG; the grid's captions give each one's training time)."""
        if threads:
            torch.set_num_threads(threads)
        path = resolve_model(model, resolver)
        source = data_for(source, path)
        bar = tqdm(desc="classic DCGAN", unit="step", dynamic_ncols=True)

        def progress(info):
            bar.total = info["total_steps"]
            bar.update(1)

        try:
            result = bench_gan(
                path,
                source,
                epochs,
                out_dir,
                per_class,
                cache_dir,
                on_progress=progress,
                device=resolve_device(device),
                split=split,
                baseline_path=baseline,
                class_mix=class_mix,
            )
        except (CheckpointError, DataError, RuntimeError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            bar.close()
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            click.echo("\n".join(bench_lines(result)))
            click.echo(f"targets: {result['targets']}  ->  {result['grid_png']}")

    return bench_gan_command


def bench_lines(result: dict) -> list[str]:
    """Per extractor: FD and KID of ours and the classic recipe, and their ratio."""
    lines = [
        f"{'extractor':<10}{'FD ours':>10}{'classic':>10}{'ratio':>7}{'KID ours':>11}"
        f"{'classic':>10}{'ratio':>7}"
    ]
    ev, base = result["evaluation"], result["evaluation"]["baseline"]["extractors"]
    for name, block in ev["extractors"].items():
        g, c, r = block["generated"], base[name], result["per_extractor"][name]
        fr, kr = r["fd_baseline_over_model"], r["kid_baseline_over_model"]
        lines.append(
            f"{name:<10}{g['frechet_distance']:>10.4f}{c['frechet_distance']:>10.4f}"
            f"{fr if fr is None else round(fr, 2)!s:>7}{g['kid']:>11.5f}{c['kid']:>10.5f}"
            f"{kr if kr is None else round(kr, 2)!s:>7}"
        )
    consistency = result["ours"].get("class_consistency")
    lines.append(f"class consistency (ours): {consistency}; the classic recipe is unconditional")
    return lines


generate_command = make_generate_command()
bench_gan_command = make_bench_gan_command()


@click.command("classifier")
@MODEL_DIR
@data_option(
    "The real data of the model: its train split is learnt (for a folder, every photo but its "
    "test split), its classes must include the model's (default: the source the model was "
    "trained on)."
)
@click.option(
    "--cache-dir", type=click.Path(file_okay=False), default=None, envvar="ASSETGEN_CACHE_DIR"
)
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
def classifier_command(model_dir: Path, source, cache_dir, threads):
    """Ship the evaluation classifier in MODEL_DIR (classifier.safetensors + .json with its sha256):
    catalogue fill scores candidates with it."""
    if threads:
        torch.set_num_threads(threads)
    source = data_for(source, model_dir)
    try:
        _, meta = load_generator(model_dir)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        data = train_split(source, meta["image_size"], meta["channels"])
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    missing = [c for c in meta["class_names"] if c not in data.class_names]
    if missing:
        raise click.ClickException(f"{source} lacks the model classes {missing}")
    out = export_classifier(data, model_dir, cache_dir)
    click.echo(
        f"{model_dir}/classifier.safetensors "
        f"(sha256 {out['sha256'][:12]}, {len(out['class_names'])} classes)"
    )
