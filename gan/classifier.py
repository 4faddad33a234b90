"""The evaluation classifier: a small CNN trained on the real train split, cached as safetensors.

Its predictions give class consistency; its penultimate features are the space in which
Frechet distance and precision/recall are measured (the classifier-feature analogue of FID,
Heusel et al. 2017, with a domain-specific network instead of Inception).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save_bytes
from torch import nn

from gan.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_json,
    read_verified_weights,
    sha256_bytes,
)
from gan.data import ImageDataset

CLASSIFIER_FORMAT = "assetgen-classifier/1"


@dataclass(frozen=True)
class ClassifierConfig:
    width: int = 16  # channels of the first conv block; x2 and x4 in the next two
    feature_dim: int = 128  # penultimate feature size: the space of FD and precision/recall
    epochs: int = 3  # passes over the train split (about 0.92 test accuracy on Fashion-MNIST)
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0


# Fashion-MNIST's 3 epochs of 128 are 1,406 steps; a smaller train split gets more passes so a
# shop's folder of a few thousand photos trains as long (4,513 products-rgb photos: 40 epochs).
MIN_STEPS = 1_400


def config_for(num_images: int, cfg: ClassifierConfig = ClassifierConfig()) -> ClassifierConfig:
    """`cfg` with at least cfg.epochs passes and MIN_STEPS steps over `num_images`."""
    per_epoch = max(1, num_images // cfg.batch_size)
    return replace(cfg, epochs=max(cfg.epochs, math.ceil(MIN_STEPS / per_epoch)))


class SmallCNN(nn.Module):
    """Three conv blocks, global average pooling, a feature layer and a linear head."""

    def __init__(self, channels: int, num_classes: int, cfg: ClassifierConfig) -> None:
        super().__init__()
        w = cfg.width

        def block(cin, cout):
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            )

        self.body = nn.Sequential(
            block(channels, w),
            nn.MaxPool2d(2),
            block(w, 2 * w),
            nn.MaxPool2d(2),
            block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.feature = nn.Sequential(nn.Linear(4 * w, cfg.feature_dim), nn.ReLU())
        self.head = nn.Linear(cfg.feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8-range-free input in [-1, 1] -> (logits, penultimate features)."""
        f = self.feature(self.body(x))
        return self.head(f), f


def _to_input(images: torch.Tensor, size: int = 32) -> torch.Tensor:
    """uint8 (N, C, H, W) -> floats in [-1, 1] at `size` px (area filter down, bilinear up)."""
    x = images.float().div(127.5).sub(1.0)
    if x.shape[-1] > size:  # the SmallCNN always works at 32 px: cheap and enough for FMNIST
        x = F.interpolate(x, size=size, mode="area")
    elif x.shape[-1] < size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x


def _shift(x: torch.Tensor, frac: float, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `frac` of its side (edge-replicated): a cheap augmentation."""
    n, _, h, w = x.shape
    pad = max(1, round(frac * h))
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen).tolist()
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen).tolist()
    return torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(zip(dy, dx))])


def train_classifier(
    data: ImageDataset,
    cfg: ClassifierConfig = ClassifierConfig(),
    model: nn.Module | None = None,
    size: int = 32,
    shift: float = 0.0,
) -> nn.Module:
    """Train `model` (default: a fresh SmallCNN built under cfg.seed) on `data` at `size` px.

    Mirror flips always; a random translation of up to `shift` of the side when shift > 0.
    The defaults reproduce the shipped classifier's training exactly (same RNG draws).
    `model` is any module mapping [-1, 1] images to (logits, features).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if model is None:
            model = SmallCNN(data.channels, len(data.class_names), cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        steps = cfg.epochs * (len(data) // cfg.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1))
        gen = torch.Generator().manual_seed(cfg.seed)
        model.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(len(data), generator=gen)
            for i in range(len(data) // cfg.batch_size):
                idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                x = _to_input(data.images[idx], size)
                flip = (
                    torch.rand(len(idx), generator=gen) < 0.5
                )  # mirror: items are left/right symmetric
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                if shift > 0:
                    x = _shift(x, shift, gen)
                loss = F.cross_entropy(model(x)[0], data.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval().requires_grad_(False)


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, batch: int = 1000, size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, C, H, W) -> (predicted labels, float64 features), the net working at `size`."""
    preds, feats = [], []
    for i in range(0, len(images), batch):
        logits, f = model(_to_input(images[i : i + batch], size))
        preds.append(logits.argmax(1))
        feats.append(f.double())
    return torch.cat(preds), torch.cat(feats)


def default_cache_dir() -> Path:
    return Path(os.environ.get("ASSETGEN_CACHE_DIR", Path.home() / ".cache" / "assetgen"))


def cache_key(data: ImageDataset, cfg: ClassifierConfig) -> str:
    h = hashlib.sha256(
        (data.fingerprint()["sha256"] + json.dumps(asdict(cfg), sort_keys=True)).encode()
    )
    return h.hexdigest()[:24]


def load_or_train(
    data: ImageDataset, cache_dir=None, cfg: ClassifierConfig = ClassifierConfig()
) -> tuple[SmallCNN, Path]:
    """The classifier for exactly this train data and config, from the cache or freshly trained."""
    folder = Path(cache_dir or default_cache_dir()) / "classifiers" / cache_key(data, cfg)
    meta_path, weights = folder / "classifier.json", folder / "classifier.safetensors"
    model = SmallCNN(data.channels, len(data.class_names), cfg)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != CLASSIFIER_FORMAT:
            raise CheckpointError(
                f"{meta_path}: format {meta.get('format')!r}, expected {CLASSIFIER_FORMAT!r}"
            )
        model.load_state_dict(read_verified_weights(weights, meta["sha256"]))
        return model.eval().requires_grad_(False), folder
    model = cast(SmallCNN, train_classifier(data, cfg))  # the default model is a SmallCNN
    folder.mkdir(parents=True, exist_ok=True)
    blob = st_save_bytes({k: v.contiguous() for k, v in model.state_dict().items()})
    atomic_write_bytes(weights, blob)
    atomic_write_json(
        meta_path,
        {
            "format": CLASSIFIER_FORMAT,
            "sha256": sha256_bytes(blob),
            "config": asdict(cfg),
            "class_names": data.class_names,
            "dataset": data.fingerprint(),
        },
    )
    return model, folder


# ------------------------------------------------ shipped beside a generator (catalogue scores)

CLASSIFIER_FILES = (
    "classifier.safetensors",
    "classifier.json",
)  # the JSON last: it names the weights' sha256


def export_classifier(
    data: ImageDataset, model_dir, cache_dir=None, cfg: ClassifierConfig = ClassifierConfig()
) -> dict:
    """Train (or take from the cache) the classifier of `data` and copy it into a model folder."""
    _, folder = load_or_train(data, cache_dir, config_for(len(data), cfg))
    for name in CLASSIFIER_FILES:
        atomic_write_bytes(Path(model_dir) / name, (folder / name).read_bytes())
    return json.loads((Path(model_dir) / CLASSIFIER_FILES[1]).read_text())


def load_classifier(model_dir) -> tuple[SmallCNN, dict] | None:
    """The verified classifier shipped in a model folder (sha256 checked, safetensors only);
    None if absent."""
    meta_path, weights = (
        Path(model_dir) / CLASSIFIER_FILES[1],
        Path(model_dir) / CLASSIFIER_FILES[0],
    )
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != CLASSIFIER_FORMAT:
        raise CheckpointError(
            f"{meta_path}: format {meta.get('format')!r}, expected {CLASSIFIER_FORMAT!r}"
        )
    cfg = ClassifierConfig(**meta["config"])
    model = SmallCNN(int(meta["dataset"]["channels"]), len(meta["class_names"]), cfg)
    model.load_state_dict(read_verified_weights(weights, meta["sha256"]))
    return model.eval().requires_grad_(False), meta


@torch.inference_mode()
def confidence(model: SmallCNN, images: torch.Tensor, class_index: int) -> list[float]:
    """uint8 (N, C, H, W) -> the softmax probability of class_index for each image."""
    logits, _ = model(_to_input(images))
    return logits.float().softmax(1)[:, class_index].tolist()
