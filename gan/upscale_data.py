"""Training pairs for the upscaler, streamed from a photo folder (decoded on demand, cached).

A folder holds photos, one sub-folder per category (or any tree). Where it has `splits.csv`
(columns path, split), only the rows of the asked split are used: the upscaler trains on
`train`, and `test` stays untouched for the evaluation.

Each sample of a batch is a pure function of (seed, step, index), so a resumed run draws
exactly the batches the killed one would have drawn.
"""

from __future__ import annotations

import csv
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan.data import IMAGE_SUFFIXES, DataError, fit_square
from gan.degrade import clean_x4, degrade_x4


def list_photos(folder, split: str = "train") -> list[Path]:
    """Sorted photo paths of one split (`splits.csv`), or of the whole tree when it has none."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of photos")
    splits = root / "splits.csv"
    if splits.is_file():
        with open(splits, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not {"path", "split"} <= set(reader.fieldnames or ()):
                raise DataError(f"{splits}: needs the columns path and split")
            paths = [root / r["path"] for r in reader if r["split"] == split]
    elif split == "train":
        paths = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        raise DataError(f"{root}: no splits.csv, so there is no {split!r} split")
    if not paths:
        raise DataError(f"{root}: no photos in the {split!r} split")
    return sorted(paths)


def fingerprint(paths: list[Path]) -> dict:
    digest = hashlib.sha256("\n".join(str(p) for p in paths).encode()).hexdigest()
    return {"images": len(paths), "sha256": digest}


class PhotoCache:
    """RGB photos decoded on demand; the `size` most recently used ones stay in memory."""

    def __init__(self, paths: list[Path], size: int = 256) -> None:
        self.paths, self.size = paths, size
        self._cache: OrderedDict[int, Image.Image] = OrderedDict()

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, i: int) -> Image.Image:
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        with Image.open(self.paths[i]) as img:
            rgb = img.convert("RGB")
        self._cache[i] = rgb
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return rgb


def photo_sizes(paths: list[Path]) -> list[tuple[int, int]]:
    """(width, height) of every photo, read from the headers only."""
    sizes = []
    for p in paths:
        with Image.open(p) as img:
            sizes.append(img.size)
    return sizes


@dataclass(frozen=True)
class PairSpec:
    """How training pairs are drawn (the data fields of the train config)."""

    crop: int  # high-resolution crop side, a multiple of 4
    degraded_fraction: float  # share of samples through the Real-ESRGAN pipeline
    generator_fraction: float  # share of whole photos at generator size (see generator_pair)
    generator_size: int  # the generator's native side in pixels (low resolution of those)


def random_crop(img: Image.Image, crop: int, rng: np.random.Generator) -> Image.Image:
    x = int(rng.integers(0, img.width - crop + 1))
    y = int(rng.integers(0, img.height - crop + 1))
    return img.crop((x, y, x + crop, y + crop))


def generator_pair(photo: Image.Image, spec: PairSpec, rng) -> tuple[Image.Image, Image.Image]:
    """The whole photo as the generator's training data shows it (fit_square at its native
    size, Lanczos) as the input, and the same photo fitted at 4x that size as the truth."""
    lo_full = fit_square(photo, spec.generator_size, 3)
    hi_full = fit_square(photo, 4 * spec.generator_size, 3)
    c = spec.crop // 4
    x = int(rng.integers(0, spec.generator_size - c + 1))
    y = int(rng.integers(0, spec.generator_size - c + 1))
    lo = lo_full.crop((x, y, x + c, y + c))
    hi = hi_full.crop((4 * x, 4 * y, 4 * (x + c), 4 * (y + c)))
    return lo, hi


def draw_pair(photos: PhotoCache, usable: list[int], spec: PairSpec, rng) -> tuple:
    """One (low-res, high-res) pair of PIL images; which kind is drawn is part of rng."""
    photo = photos.get(usable[int(rng.integers(len(usable)))])
    kind = rng.random()
    if kind < spec.generator_fraction:
        lo, hi = generator_pair(photo, spec, rng)
    else:
        hi = random_crop(photo, spec.crop, rng)
        degraded = kind < spec.generator_fraction + spec.degraded_fraction
        lo = degrade_x4(hi, rng) if degraded else clean_x4(hi, rng)
    if rng.random() < 0.5:  # the same flips for both halves of the pair
        lo, hi = (im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in (lo, hi))
    if rng.random() < 0.5:
        lo, hi = (im.transpose(Image.Transpose.FLIP_TOP_BOTTOM) for im in (lo, hi))
    return lo, hi


def to_tensor(images: list[Image.Image]) -> torch.Tensor:
    """PIL RGB images of one size -> float (N, 3, H, W) in [0, 1]."""
    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def make_batch(photos, usable, spec: PairSpec, seed: int, step: int, batch_size: int):
    """(low-res, high-res) float tensors of one step, a pure function of (seed, step)."""
    pairs = [
        draw_pair(photos, usable, spec, np.random.default_rng([seed, step, i]))
        for i in range(batch_size)
    ]
    return to_tensor([p[0] for p in pairs]), to_tensor([p[1] for p in pairs])


def validation_pairs(photos: PhotoCache, indices: list[int], side: int) -> tuple:
    """Fixed (low-res, high-res) pairs: each photo's centre square and its clean bicubic x4."""
    lo, hi = [], []
    for i in indices:
        photo = photos.get(i)
        x, y = (photo.width - side) // 2, (photo.height - side) // 2
        crop = photo.crop((x, y, x + side, y + side))
        hi.append(crop)
        lo.append(crop.resize((side // 4,) * 2, Image.Resampling.BICUBIC))
    return to_tensor(lo), to_tensor(hi)


def split_train_val(sizes, crop: int, val_images: int, val_crop: int, seed: int) -> tuple:
    """(training indices, validation indices): validation photos are a seeded draw among those
    at least val_crop on each side, and never train; training photos fit the crop."""
    big = [i for i, (w, h) in enumerate(sizes) if min(w, h) >= val_crop]
    if len(big) < val_images:
        raise DataError(f"fewer than {val_images} photos are at least {val_crop} px on each side")
    order = np.random.default_rng([seed, 7]).permutation(len(big))
    val = sorted(big[j] for j in order[:val_images])
    held = set(val)
    train = [i for i, (w, h) in enumerate(sizes) if min(w, h) >= crop and i not in held]
    if not train:
        raise DataError(f"no training photo is at least {crop} px on its short side")
    return train, val


__all__ = [
    "PairSpec",
    "PhotoCache",
    "fingerprint",
    "list_photos",
    "make_batch",
    "photo_sizes",
    "split_train_val",
    "validation_pairs",
]
