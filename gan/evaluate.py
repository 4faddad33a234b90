"""`assetgen evaluate`: class consistency, classifier-feature Frechet distance, precision/recall.

Every number comes with its real-vs-real floor: a real train subset (same size per class as
the generated set) scored against the real test split by the same classifier.
"""

from __future__ import annotations

import statistics

import torch

from gan.classifier import ClassifierConfig, load_or_train, predict
from gan.data import ImageDataset, load_source
from gan.metrics import confusion_matrix, frechet_distance, precision_recall
from gan.sampling import sample

EVAL_SEED_BASE = 10_000_000  # generated image i of class k uses seed BASE + k * per_class + i


def split_data(
    source: str, image_size: int, channels: int, holdout_seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """(train, test): Fashion-MNIST's own split, else a fixed 80/20 split of the source."""
    train = load_source(source, image_size, channels, split="train")
    if train.source.startswith("fashion-mnist"):
        return train, load_source(source, image_size, channels, split="test")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(holdout_seed))
    cut = int(0.8 * len(train))
    return train.subset(order[:cut]), train.subset(order[cut:])


def per_class_subset(data: ImageDataset, per_class: int) -> ImageDataset:
    """The first `per_class` images of each class (fewer where a class has fewer)."""
    idx = [
        torch.nonzero(data.labels == k).flatten()[:per_class] for k in range(len(data.class_names))
    ]
    return data.subset(torch.cat(idx))


def map_classes(model_names: list[str], data_names: list[str]) -> list[int]:
    """Data class index for each model class (by name); every model class must be in the data."""
    missing = [c for c in model_names if c not in data_names]
    if missing:
        raise ValueError(
            f"model classes {missing} are not in the evaluation data's classes {data_names}"
        )
    return [data_names.index(c) for c in model_names]


def generate_eval_set(
    generator, num_classes: int, per_class: int, truncation=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, C, H, W) and model labels (N,): `per_class` images of every class."""
    labels = [k for k in range(num_classes) for _ in range(per_class)]
    seeds = [EVAL_SEED_BASE + i for i in range(len(labels))]
    images = (
        sample(generator, labels, seeds, truncation=truncation).permute(0, 3, 1, 2).contiguous()
    )
    return images, torch.tensor(labels)


def score_set(clf, images, labels, test_feats, test_labels, names) -> dict:
    """All metrics of one image set (generated, or the real floor) against the test features."""
    preds, feats = predict(clf, images)
    per_class_fd = {}
    for k, name in enumerate(names):
        mine, ref = feats[labels == k], test_feats[test_labels == k]
        per_class_fd[name] = frechet_distance(mine, ref) if len(mine) > 1 and len(ref) > 1 else None
    fds = [v for v in per_class_fd.values() if v is not None]
    return {
        "class_consistency": float((preds == labels).float().mean()),
        "per_class_consistency": {
            n: float((preds[labels == k] == k).float().mean()) for k, n in enumerate(names)
        },
        "confusion_matrix": confusion_matrix(labels, preds, len(names)),
        "frechet_distance": frechet_distance(feats, test_feats),
        "frechet_per_class": per_class_fd,
        "frechet_per_class_max_over_median": max(fds) / statistics.median(fds) if fds else None,
        **precision_recall(test_feats, feats),
    }


def evaluate(
    generator,
    meta: dict,
    source: str = "fashion-mnist",
    per_class: int = 1000,
    cache_dir=None,
    classifier_cfg: ClassifierConfig = ClassifierConfig(),
    truncation=None,
    split=None,
) -> dict:
    """Score a generator against SOURCE's test split; returns a JSON-able dict.

    `split` = (train, test) datasets overrides loading them from `source` (tests use subsets).
    """
    train, test = split or split_data(source, meta["image_size"], meta["channels"])
    clf, cache = load_or_train(train, cache_dir, classifier_cfg)
    mapping = torch.tensor(map_classes(meta["class_names"], train.class_names))
    names = list(meta["class_names"])
    test_pred, test_feats = predict(clf, test.images)
    # Restrict the test set to the model's classes, relabelled to model indices.
    keep = torch.isin(test.labels, mapping)
    inverse = {int(d): m for m, d in enumerate(mapping.tolist())}
    test_labels = torch.tensor([inverse[int(v)] for v in test.labels[keep]], dtype=torch.long)
    test_feats = test_feats[keep]
    fake, fake_labels = generate_eval_set(generator, len(names), per_class, truncation)
    real = per_class_subset(train, per_class)
    real_labels = torch.tensor([inverse.get(int(v), -1) for v in real.labels])
    real_keep = real_labels >= 0
    gen_scores = score_set(clf, fake, fake_labels, test_feats, test_labels, names)
    floor = score_set(
        clf, real.images[real_keep], real_labels[real_keep], test_feats, test_labels, names
    )
    return {
        "data": source,
        "num_generated": int(len(fake)),
        "num_test": int(len(test_labels)),
        "truncation": truncation,
        "classifier": {
            "test_accuracy": float((test_pred == test.labels).float().mean()),
            "train_images": len(train),
            "cache": str(cache),
            "config": classifier_cfg.__dict__,
        },
        "generated": gen_scores,
        "real_floor": floor,
    }


def headline(result: dict) -> list[str]:
    """Human-readable summary lines (generated vs. real floor)."""
    g, r = result["generated"], result["real_floor"]
    lines = [
        f"classifier test accuracy: {result['classifier']['test_accuracy']:.4f}",
        f"{'metric':<28}{'generated':>12}{'real floor':>12}",
    ]
    for key in (
        "class_consistency",
        "frechet_distance",
        "frechet_per_class_max_over_median",
        "precision",
        "recall",
        "density",
        "coverage",
    ):
        lines.append(f"{key:<28}{g[key]:>12.4f}{r[key]:>12.4f}")
    lines.append("per-class Frechet distance (generated / floor):")
    for name in g["frechet_per_class"]:
        lines.append(
            f"  {name:<14}{g['frechet_per_class'][name]:>10.3f}"
            f"{r['frechet_per_class'][name]:>10.3f}"
            f"   consistency {g['per_class_consistency'][name]:.3f}"
        )
    return lines
