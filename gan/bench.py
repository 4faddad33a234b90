"""`assetgen bench gan`: our conditional model against the classic DCGAN recipe.

The baseline is trained for the same number of epochs on the same data, both are scored by
the same evaluator (same classifier, same real test split, same number of images).
Class consistency is n/a for the unconditional baseline; its per-class Frechet distances
use the labels the classifier assigns to its images (said so in the JSON).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan.checkpoint import load_generator
from gan.classic import sample_dcgan, train_dcgan
from gan.classifier import ClassifierConfig, load_or_train, predict
from gan.evaluate import evaluate, split_data
from gan.metrics import frechet_distance, precision_recall
from gan.plots import class_grid, grid_image


def score_unconditional(clf, images_hwc: torch.Tensor, train, test, names) -> dict:
    """FD, P/R and classifier-assigned class histogram / per-class FD of an unconditional model."""
    images = images_hwc.permute(0, 3, 1, 2).contiguous()
    preds, feats = predict(clf, images)
    _, test_feats = predict(clf, test.images)
    per_class = {}
    for k, name in enumerate(names):
        mine = feats[preds == k]
        per_class[name] = (
            frechet_distance(mine, test_feats[test.labels == k]) if len(mine) > 1 else None
        )
    fds = [v for v in per_class.values() if v is not None]
    return {
        "class_consistency": "n/a (unconditional model: no class can be requested)",
        "classifier_label_histogram": dict(
            zip(names, torch.bincount(preds, minlength=len(names)).tolist())
        ),
        "frechet_distance": frechet_distance(feats, test_feats),
        "frechet_per_class": per_class,
        "frechet_per_class_note": (
            "per class by the label the classifier assigns to each generated image"
        ),
        "frechet_per_class_max_over_median": max(fds) / statistics.median(fds) if fds else None,
        **precision_recall(test_feats, feats),
    }, preds


def side_by_side(
    ours: Image.Image, classic_imgs: np.ndarray, preds: torch.Tensor, names, per_row: int
) -> Image.Image:
    """Left: our grid (row = requested class). Right: baseline samples, row = classifier's label."""
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
    draw.text((90, 6), "ours: conditional (row = requested class)", fill="black")
    draw.text(
        (ours.width + 24, 6), "classic DCGAN, same epochs (row = classifier's label)", fill="black"
    )
    return canvas


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
) -> dict:
    """Score `model_path`, train and score the classic baseline for the same epochs
    (on `device`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator, meta = load_generator(model_path)
    epochs = float(epochs if epochs is not None else meta["training"].get("epochs") or 1.0)
    ours = evaluate(generator, meta, source, per_class, cache_dir)
    train, test = split_data(source, meta["image_size"], meta["channels"])
    clf, _ = load_or_train(train, cache_dir, ClassifierConfig())
    G_classic, info = train_dcgan(train, epochs, seed, on_progress, device)
    classic_imgs = sample_dcgan(G_classic, per_class * len(train.class_names), seed)
    classic, preds = score_unconditional(clf, classic_imgs, train, test, train.class_names)
    grid = side_by_side(
        class_grid(generator, meta["class_names"], 10, scale=2),
        classic_imgs.numpy(),
        preds,
        train.class_names,
        10,
    )
    grid.save(out / "bench_gan.png")
    g = ours["generated"]
    result = {
        "data": source,
        "epochs": epochs,
        "num_generated_each": per_class * len(meta["class_names"]),
        "ours": {
            "model": str(model_path),
            "sha256": meta["sha256"],
            "training": meta.get("training", {}),
            **g,
        },
        "classic_dcgan": {**info, **classic},
        "real_floor": ours["real_floor"],
        "classifier_test_accuracy": ours["classifier"]["test_accuracy"],
        "frechet_ratio_classic_over_ours": classic["frechet_distance"]
        / max(g["frechet_distance"], 1e-12),
        "targets": {
            "class_consistency>=0.85": g["class_consistency"] >= 0.85,
            "frechet<=classic/3": g["frechet_distance"] * 3 <= classic["frechet_distance"],
            "per_class_frechet<=3x_median": g["frechet_per_class_max_over_median"] <= 3.0,
        },
        "grid_png": str(out / "bench_gan.png"),
    }
    (out / "bench_gan.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
