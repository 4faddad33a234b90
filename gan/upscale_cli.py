"""Click commands of the upscaler: train-upscaler, upscale, upscale-eval.

Mounted by `python -m gan` and by `assetgen`. Model names are checkpoint paths (a folder with
upscaler.json + upscaler.safetensors, or either file) or `default` (the shipped upscaler).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from gan.checkpoint import CheckpointError, load_generator
from gan.cli_common import resolve_model
from gan.data import IMAGE_SUFFIXES, DataError
from gan.device import DeviceUnavailable, resolve_device
from gan.plots import save_palette_png
from gan.upscale_checkpoint import default_upscaler_path, load_upscaler
from gan.upscale_eval import evaluate_generated, evaluate_upscaler, generated_figure
from gan.upscale_train import UpscaleTrainConfig, train_upscaler
from gan.upscaler import UpscalerConfig, upscale

DEVICE = click.Choice(["auto", "cpu", "cuda"])


def load_model(model: str, device: str):
    """`default` or a checkpoint path -> (net, meta), with click errors a person can act on."""
    path = default_upscaler_path() if model == "default" else Path(model)
    if not path.exists():
        raise click.BadParameter(f"{model!r}: no such upscaler checkpoint", param_hint="--model")
    try:
        return load_upscaler(path, resolve_device(device))
    except (CheckpointError, DeviceUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("train-upscaler")
@click.option("--data", "data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--steps", type=int, default=20_000, show_default=True)
@click.option("--max-minutes", type=float, default=None, help="Stop after this wall time.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--crop", type=int, default=96, show_default=True, help="High-res crop side.")
@click.option("--width", type=int, default=UpscalerConfig.width, show_default=True)
@click.option("--depth", type=int, default=UpscalerConfig.depth, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--adv-weight", type=float, default=0.0, show_default=True)
@click.option("--degraded-fraction", type=float, default=0.25, show_default=True)
@click.option("--generator-fraction", type=float, default=0.15, show_default=True)
@click.option("--generator-size", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--save-every", type=int, default=1000, show_default=True)
@click.option("--resume/--no-resume", default=True, help="Continue from OUT's train state.")
def train_upscaler_command(data, out_dir, width, depth, threads, resume, **fields) -> None:
    """Train an x4 upscaler on a photo folder (its train split where it has splits.csv)."""
    try:
        model = UpscalerConfig(width=width, depth=depth)
        cfg = UpscaleTrainConfig(model=model, num_threads=threads, **fields)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    bar = tqdm(unit="step", dynamic_ncols=True, smoothing=0.05)

    def progress(info: dict) -> None:
        if bar.n == 0:  # a resumed run starts where it stopped
            bar.total = info["total_steps"]
            bar.initial = bar.n = bar.last_print_n = info["step"] - 1
        bar.update(1)
        bar.set_postfix(L1=f"{info['loss']:.4f}")

    try:
        out = train_upscaler(cfg, data, out_dir, on_progress=progress, resume=resume)
    except (CheckpointError, DataError, DeviceUnavailable, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    click.echo(f"upscaler: {out}/upscaler.safetensors  samples: {out}/samples.png")


def read_rgb_or_grey(path: Path) -> np.ndarray:
    """uint8 (H, W, 1) for grey photos, (H, W, 3) for everything else (alpha onto white)."""
    with Image.open(path) as img:
        img.load()
        if img.mode in ("L", "I;16", "I", "F", "1"):
            return np.asarray(img.convert("L"), dtype=np.uint8)[:, :, None]
        if img.mode in ("RGBA", "LA", "PA", "P"):
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, rgba)
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def input_files(in_dir: Path) -> list[Path]:
    files = sorted(
        p for p in in_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise click.ClickException(f"{in_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def write_like(path: Path, pixels: np.ndarray) -> None:
    """Save under the input's name; JPEG at quality 95, every other format losslessly as PNG
    when Pillow cannot write the original suffix."""
    img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(path, quality=95)
    elif path.suffix.lower() == ".gif":
        img.save(path.with_suffix(".png"))
    else:
        img.save(path)


@click.command("upscale")
@click.option("--model", default="default", show_default=True, help="Checkpoint or 'default'.")
@click.option("--scale", type=click.Choice(["4", "16"]), default="4", show_default=True)
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.argument("in_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def upscale_command(model, scale, device, in_dir, out_dir) -> None:
    """Upscale every image under IN_DIR into OUT_DIR, keeping names and sub-folders."""
    if out_dir.resolve() == in_dir.resolve():
        raise click.BadParameter("OUT_DIR must differ from IN_DIR", param_hint="OUT_DIR")
    net, meta = load_model(model, device)
    passes = 1 if scale == "4" else 2
    files = input_files(in_dir)
    for path in tqdm(files, unit="img", dynamic_ncols=True):
        try:
            pixels = read_rgb_or_grey(path)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise click.ClickException(f"{path}: not a readable image ({exc})") from exc
        try:
            big = upscale(net, pixels[None], passes, next(net.parameters()).device)
        except ValueError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        write_like(out_dir / path.relative_to(in_dir), big[0])
    click.echo(f"{len(files)} images x{scale} with {meta.get('name')} ({meta['sha256'][:12]})")


@click.command("upscale-eval")
@click.option("--model", default="default", show_default=True, help="Checkpoint or 'default'.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=None, help="Only the first N test photos.")
@click.option(
    "--generator",
    default=None,
    help="Generator checkpoint or 'default': score the sharpness of its samples enlarged x4 "
    "and x16 (ours vs Lanczos vs real photos of that size) instead of PSNR/SSIM.",
)
@click.option("--per-class", type=int, default=10, show_default=True, help="With --generator.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sample i uses seed+i.")
@click.option(
    "--figure",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --generator: also write native / Lanczos / ours x4 and x16 side by side (PNG).",
)
@click.option("--figure-per-class", type=int, default=2, show_default=True)
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def upscale_eval_command(
    model,
    data,
    limit,
    generator,
    per_class,
    seed,
    figure,
    figure_per_class,
    device,
    threads,
    as_json,
) -> None:
    """PSNR-Y / SSIM of ours vs bicubic vs Lanczos on the test photos down-scaled x4, or (with
    --generator) the sharpness of upscaled generator samples beside real photos."""
    if threads:
        torch.set_num_threads(threads)
    net, meta = load_model(model, device)
    if generator is not None:
        generated_eval(
            net, meta, data, limit, generator, per_class, seed, figure, figure_per_class, as_json
        )
        return
    try:
        report = evaluate_upscaler(net, data, limit=limit)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    report["model"] = {"name": meta.get("name"), "sha256": meta["sha256"]}
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for method in ("ours", "bicubic", "lanczos"):
        r = report["methods"][method]
        click.echo(
            f"{method:8s} PSNR-Y {r['psnr_y']:.3f} dB  SSIM {r['ssim']:.4f}  "
            f"sharpness {r['sharpness']:.1f}"
        )
    click.echo(f"real photos sharpness {report['real_sharpness']:.1f} ({report['images']} images)")


def generated_eval(
    net, meta, data, limit, generator, per_class, seed, figure, figure_per_class, as_json
) -> None:
    """The --generator branch of upscale-eval."""
    path = resolve_model(generator)
    try:
        gen, gen_meta = load_generator(path, next(net.parameters()).device)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        report = evaluate_generated(
            net, gen, data, per_class=per_class, seed=seed, real_limit=limit
        )
    except (DataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    report["model"] = {"name": meta.get("name"), "sha256": meta["sha256"]}
    report["generator"] = {
        "path": str(path),
        "sha256": gen_meta["sha256"],
        "steps": (gen_meta.get("training") or {}).get("steps"),
    }
    if figure is not None:
        img = generated_figure(net, gen, gen_meta["class_names"], figure_per_class, seed)
        figure.parent.mkdir(parents=True, exist_ok=True)
        save_palette_png(img, figure)  # a 13-class RGB figure: 1.4 MB, not 4.6
        report["figure"] = str(figure)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    kind = "grey" if report["channels"] == 1 else "RGB"
    click.echo(
        f"{report['samples']} samples ({per_class} per class) of {report['native_size']} px "
        f"{kind}; real: {report['real']['images']} {report['real']['split']} photos"
    )
    click.echo(
        f"native    generated {report['native']['generated']:8.1f}  "
        f"real {report['native']['real']:8.1f}"
    )
    for name, r in report["scales"].items():
        gap = "n/a" if r["gap_closed"] is None else f"{r['gap_closed']:.2f}"
        click.echo(
            f"{name:4s} {r['size']:4d} px (measured at {r['measured_at']}): ours "
            f"{r['ours']:8.1f}  Lanczos {r['lanczos']:8.1f}  real {r['real']:8.1f}  "
            f"gap closed {gap}"
        )
    if figure is not None:
        click.echo(f"figure: {figure}")
