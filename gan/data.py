"""Datasets: Fashion-MNIST IDX files, a folder per category, or a catalogue CSV.

Every source becomes an in-memory `ImageDataset` of uint8 images (N, C, S, S). Real
shop photos are fitted into a square on their own background colour, never stretched.
Unreadable images are reported by path and skipped.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gan.imaging import border_median

log = logging.getLogger(__name__)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class DataError(Exception):
    """A data source that cannot be used (message names the path and the problem)."""


@dataclass
class ImageDataset:
    images: torch.Tensor  # uint8 (N, C, S, S)
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str]
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    _fingerprint: dict | None = field(
        default=None, repr=False, compare=False
    )  # memo of fingerprint()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def fingerprint(self) -> dict:
        """Identifies the exact training data (sha256 of class names, labels and pixels)."""
        if self._fingerprint is not None:
            return dict(self._fingerprint)
        h = hashlib.sha256()
        h.update("\n".join(self.class_names).encode())
        h.update(self.labels.numpy().astype("<i8").tobytes())
        h.update(self.images.numpy().tobytes())
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        self._fingerprint = {
            "source": self.source,
            "sha256": h.hexdigest(),
            "num_images": len(self),
            "per_class": dict(zip(self.class_names, counts)),
            "image_size": self.image_size,
            "channels": self.channels,
        }
        return dict(self._fingerprint)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """uint8 images of `index` (the gan.stream source protocol)."""
        return self.images[index]

    def subset(self, index: torch.Tensor) -> ImageDataset:
        return ImageDataset(self.images[index], self.labels[index], self.class_names, self.source)


# ---------------------------------------------------------------- Fashion-MNIST


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise DataError(f"{path}: not a uint8 IDX file (magic {data[:4].hex()})")
        dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    except (OSError, EOFError, struct.error, ValueError) as exc:
        raise DataError(f"{path}: unreadable IDX file ({exc})") from exc


def _find_idx(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise DataError(
        f"{root}: no {stem}[.gz]; install the Fashion-MNIST files "
        "(apt-get install dataset-fashion-mnist) or pass their folder"
    )


def is_fashion_mnist_dir(path: Path) -> bool:
    return path.is_dir() and any(path.glob("train-images-idx3-ubyte*"))


def is_fashion_mnist(source: str) -> bool:
    """`fashion-mnist` (the installed data set) or a Fashion-MNIST folder."""
    return source == "fashion-mnist" or is_fashion_mnist_dir(Path(source))


def trained_on(meta: dict) -> str | None:
    """The `--data` value of the source a checkpoint was trained on (its `dataset.source`, as
    ImageDataset and gan.splits write it: `fashion-mnist:train`, `folder:PATH[:train][#fit]`,
    `csv:PATH[#fit]`), or None where the checkpoint does not record one."""
    source = str((meta.get("dataset") or {}).get("source") or "").split("#", 1)[0]
    if source.startswith("fashion-mnist"):
        return "fashion-mnist"
    kind, _, rest = source.partition(":")
    if kind not in ("folder", "csv") or not rest:
        return None
    head, _, tail = rest.rpartition(":")  # a split-name suffix (train, train+val) ...
    if head and re.fullmatch(r"[a-z+]+", tail) and not Path(rest).exists():
        return head  # ... unless the path itself ends that way
    return rest


def load_fashion_mnist(
    root=FASHION_MNIST_DIR, split="train", image_size=32, channels=1
) -> ImageDataset:
    """28x28 images padded with 2 black pixels to 32 (then resized if image_size > 32)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: allowed train, test")
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = _read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(f"{root}: {split} images {images.shape} do not match labels {labels.shape}")
    x = torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2))).copy()).unsqueeze(1)
    if image_size != 32:
        x = torch.nn.functional.interpolate(
            x.float(), size=image_size, mode="bilinear", align_corners=False
        )
        x = x.round().clamp(0, 255).to(torch.uint8)
    if channels == 3:
        x = x.repeat(1, 3, 1, 1)
    y = torch.from_numpy(labels.astype(np.int64))
    return ImageDataset(x.contiguous(), y, list(FASHION_MNIST_CLASSES), f"fashion-mnist:{split}")


# ---------------------------------------------------------------- photos


def border_colour(img: Image.Image) -> tuple[int, ...] | int:
    """Median of the outermost pixels (rounded): the photo's own background colour."""
    med = border_median(np.asarray(img)).round().astype(int)
    return int(med[0]) if img.mode == "L" else tuple(int(v) for v in med)


def _normalise_mode(img: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 'L' or 'RGB'; transparency is composited onto white."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def fit_square(img: Image.Image, size: int, channels: int) -> Image.Image:
    """Scale the longest side to `size` (aspect kept) and centre it on its background colour."""
    img = _normalise_mode(ImageOps.exif_transpose(img), channels)
    bg = border_colour(img)
    # A large photo is first shrunk by an integer box filter to within 3x of its target (what
    # Image.resize's reducing_gap=3 does, which ImageOps.pad does not offer): 6x faster on 12 MP.
    factor = max(img.size) // (3 * size)
    if factor > 1:
        img = img.reduce(factor)
    return ImageOps.pad(img, (size, size), Image.Resampling.LANCZOS, color=bg)


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One photo as uint8 (C, S, S); raises OSError/ValueError if unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            img.load()
            sq = fit_square(img, size, channels)
    a = np.asarray(sq, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _load_items(items, class_names, size, channels, source) -> ImageDataset:
    images, labels, skipped = [], [], []
    for path, label in items:
        try:
            images.append(read_image(path, size, channels))
            labels.append(label)
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
            log.warning("skipping unreadable image %s: %s", path, exc)
    if not images:
        raise DataError(f"{source}: no readable images ({len(skipped)} skipped)")
    x = torch.from_numpy(np.stack(images))
    y = torch.tensor(labels, dtype=torch.long)
    return ImageDataset(x, y, list(class_names), source, skipped)


def load_image_folder(root, image_size=32, channels=3) -> ImageDataset:
    """root/<category>/<image files>; class names are the sorted sub-folder names."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no category sub-folders (expected root/<category>/<images>)")
    items = [
        (p, i)
        for i, c in enumerate(classes)
        for p in sorted((root / c).iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    return _load_items(items, classes, image_size, channels, f"folder:{root}")


def load_catalogue_csv(path, image_size=32, channels=3) -> ImageDataset:
    """CSV with header sku,category,image; image paths are relative to the CSV's folder.

    Rows without an image (SKUs still waiting for one) are not training data and are ignored.
    """
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"sku", "category", "image"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing columns {sorted(missing)}; need sku,category,image")
        rows = [r for r in reader if (r["image"] or "").strip()]
    classes = sorted({r["category"].strip() for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    items = [(path.parent / r["image"].strip(), index[r["category"].strip()]) for r in rows]
    return _load_items(items, classes, image_size, channels, f"csv:{path}")


# ---------------------------------------------------------------- dispatch


def load_source(
    source: str, image_size: int = 32, channels: int | None = None, split: str = "train"
) -> ImageDataset:
    """`fashion-mnist`, a Fashion-MNIST folder, an image folder, or a catalogue CSV."""
    path = Path(source)
    if is_fashion_mnist(source):
        root = FASHION_MNIST_DIR if source == "fashion-mnist" else path
        return load_fashion_mnist(root, split, image_size, channels or 1)
    if split != "train":
        raise DataError(f"{source}: only Fashion-MNIST has a test split")
    if path.is_file() and path.suffix.lower() == ".csv":
        return load_catalogue_csv(path, image_size, channels or 3)
    if path.is_dir():
        return load_image_folder(path, image_size, channels or 3)
    raise DataError(
        f"{source}: not found; use 'fashion-mnist', a folder with one sub-folder per category, "
        "or a catalogue CSV (sku,category,image)"
    )
