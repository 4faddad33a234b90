"""`assetgen bench gan`: our conditional model against the classic DCGAN recipe.

The baseline is the arch "dcgan" with its recipe (gan.models.ARCHS), trained by the same
trainer (gan.train) on the same data (the fit split: train less validation, what `train` trains
on) for the same training wall time as the model (or the same epochs), on `device` -- or
a baseline checkpoint trained that way already. Both are scored by one evaluation (gan.evaluate:
the same extractors, the same held-out real images, the same number of images), on the test
split by default: this is the report. Class consistency is n/a for the unconditional baseline;
the classifiers' label histograms of its images are in the JSON instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan.checkpoint import load_generator
from gan.config import ModelConfig, TrainConfig
from gan.evaluate import evaluate, generate_eval_set, prepare_for
from gan.models import ARCHS
from gan.plots import class_grid, grid_image


def trained_for(training: dict) -> str:
    """'94 min, 34.6 epochs': a checkpoint's recorded training, for a caption."""
    parts = []
    if training.get("train_seconds"):
        parts.append(f"{float(training['train_seconds']) / 60:.0f} min")
    if training.get("epochs") is not None:
        parts.append(f"{float(training['epochs']):.1f} epochs")
    return ", ".join(parts) or "training not recorded"


def side_by_side(
    ours: Image.Image,
    classic_imgs: np.ndarray,
    preds: torch.Tensor,
    names,
    per_row: int,
    captions: tuple[str, str] = ("", ""),
) -> Image.Image:
    """Left: our grid (row = requested class). Right: baseline samples, row = classifier's label.
    captions: how long each was trained (see trained_for)."""
    rows = []
    blank = np.zeros_like(classic_imgs[0])
    for k in range(len(names)):
        idx = torch.nonzero(preds == k).flatten()[:per_row].tolist()
        rows += [classic_imgs[i] for i in idx] + [blank] * (per_row - len(idx))
    right = grid_image(np.stack(rows), len(names), per_row, None, scale=2)
    canvas = Image.new(
        "RGB", (ours.width + right.width + 20, max(ours.height, right.height) + 24), "white"
    )
    canvas.paste(ours, (0, 24))
    canvas.paste(right, (ours.width + 20, 24))
    draw = ImageDraw.Draw(canvas)
    mine, theirs = (f", {c}" if c else "" for c in captions)
    draw.text((8, 6), f"ours{mine} (row = requested class)", fill="black")
    draw.text(
        (ours.width + 24, 6), f"classic DCGAN{theirs} (row = classifier's label)", fill="black"
    )
    return canvas


def classic_config(
    meta: dict, seed: int, device: str, epochs=None, minutes=None, num_images=None
) -> TrainConfig:
    """The DCGAN recipe at the model's resolution and channels, for `epochs` or `minutes`
    (its batch of 128 shrinks to the data on a catalogue smaller than that)."""
    recipe = dict(ARCHS["dcgan"].recipe)
    if num_images is not None:
        recipe["batch_size"] = max(2, min(recipe["batch_size"], num_images))
    model = {k[6:]: recipe.pop(k) for k in list(recipe) if k.startswith("model.")}
    return TrainConfig(
        model=ModelConfig(
            arch="dcgan",
            image_size=meta["image_size"],
            channels=meta["channels"],
            num_classes=len(meta["class_names"]),
            **model,
        ),
        epochs=float(epochs) if epochs is not None else 1e6,
        max_minutes=minutes,
        seed=seed,
        device=device,
        sample_every=10**9,
        **recipe,
    )


def train_classic(ctx, meta, out: Path, seed, device, epochs, on_progress):
    """Train the baseline like the model: the same epochs when `epochs` is given, else the
    model's recorded training wall time (`training.train_seconds`)."""
    from gan.train import train  # the trainer pulls in plotting; only this path needs it

    minutes = None
    if epochs is None:
        seconds = meta["training"].get("train_seconds")
        if seconds:
            minutes = float(seconds) / 60
        else:
            epochs = float(meta["training"].get("epochs") or 1.0)
    cfg = classic_config(meta, seed, device, epochs, minutes, len(ctx.splits.fit))
    run = train(cfg, ctx.splits.fit, out / "classic_dcgan", on_progress=on_progress, resume=False)
    return run


def targets(ours: dict) -> dict:
    """The targets of a product model against the classic recipe and the real images, each
    True/False (None where it cannot be computed): lower FD and KID than the classic in every
    feature space and 3x lower in both classifier spaces; class consistency and coverage at
    least 0.8x the real images' own; memorisation ratio at least 0.9 in every space."""
    vs_base, blocks = ours["model_vs_baseline"], ours["extractors"]
    classifiers = [n for n, b in blocks.items() if b["extractor"]["kind"] == "classifier"]

    def at_least(values, floor):
        values = list(values)
        return None if any(v is None for v in values) else all(v >= floor for v in values)

    return {
        "lower_fd_and_kid_everywhere": all(
            r["model_lower_fd"] and r["model_lower_kid"] for r in vs_base.values()
        ),
        "3x_lower_fd_and_kid_on_classifiers": all(
            vs_base[n]["model_3x_lower_fd"] and vs_base[n]["model_3x_lower_kid"]
            for n in classifiers
        ),
        "class_consistency>=0.8x_real": at_least(
            (blocks[n]["vs_real"]["class_consistency"] for n in classifiers), 0.8
        ),
        "coverage>=0.8x_real": at_least((b["vs_real"]["coverage"] for b in blocks.values()), 0.8),
        "memorisation>=0.9": at_least(
            (b["generated"]["memorisation_ratio"] for b in blocks.values()), 0.9
        ),
    }


def bench_gan(
    model_path,
    source="fashion-mnist",
    epochs=None,
    out_dir="bench_out/gan",
    per_class=1000,
    cache_dir=None,
    seed=0,
    on_progress=None,
    device="cpu",
    split="test",
    baseline_path=None,
    class_mix="fit",
) -> dict:
    """Score `model_path` and the classic baseline (`baseline_path`, or trained here on
    `device` for the model's wall time, or for `epochs`).

    `class_mix` (gan.evaluate.CLASS_MIXES): "fit" by default, because the classic is
    unconditional: it draws the classes in the mix of the fit split it learned, and cannot be
    asked for another, so ours is asked for that mix too and the two sets differ in their images
    only."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator, meta = load_generator(model_path)
    ctx = prepare_for(meta, source, split, per_class, cache_dir=cache_dir, class_mix=class_mix)
    if baseline_path is None:
        baseline_path = train_classic(ctx, meta, out, seed, device, epochs, on_progress)
    G_classic, classic_meta = load_generator(baseline_path)
    info = {
        "model": str(baseline_path),
        "sha256": classic_meta["sha256"],
        **classic_meta["training"],
    }
    images, _ = generate_eval_set(G_classic, [ctx.num_generated])  # unconditional: class 0
    classic_imgs = images.permute(0, 2, 3, 1).contiguous()
    ours = evaluate(
        generator, meta, ctx=ctx, baseline=classic_imgs.permute(0, 3, 1, 2).contiguous()
    )
    primary = ours["primary_extractor"]
    clf = next(r for r in ctx.refs if r.extractor.name == primary)
    preds, _ = clf.predict(classic_imgs.permute(0, 3, 1, 2).contiguous())
    if preds is None:  # the primary extractor is the first classifier: always has labels
        raise RuntimeError(f"extractor {primary} gave no class labels")
    grid = side_by_side(
        class_grid(generator, meta["class_names"], 10, scale=2),
        classic_imgs.numpy(),
        preds,
        meta["class_names"],
        10,
        (trained_for(meta.get("training", {})), trained_for(classic_meta.get("training", {}))),
    )
    grid.save(out / "bench_gan.png")
    g, c = ours["generated"], ours["baseline"]["extractors"][primary]
    spread = g["frechet_per_class_max_over_median"]
    result = {
        "data": source,
        "split": split,
        "num_generated_each": ctx.num_generated,
        "class_mix": class_mix,
        "primary_extractor": primary,
        "ours": {
            "model": str(model_path),
            "sha256": meta["sha256"],
            "training": meta.get("training", {}),
            **g,
        },
        "classic_dcgan": {**info, **c},
        "real_floor": ours["real_floor"],
        "classifier_test_accuracy": ours["classifier"]["test_accuracy"],
        "frechet_ratio_classic_over_ours": c["frechet_distance"]
        / max(g["frechet_distance"], 1e-12),
        "targets": targets(ours),
        "per_class_frechet_max_over_median": spread,
        "per_extractor": ours["model_vs_baseline"],
        "evaluation": ours,
        "grid_png": str(out / "bench_gan.png"),
    }
    (out / "bench_gan.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
