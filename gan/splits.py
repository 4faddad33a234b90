"""Train / validation / test splits for evaluation and model selection.

- A photo folder with a `splits.csv` (path,category,split[,source]) is read by its declared
  split; rows marked `val` or `validation` are the validation split, otherwise validation is
  carved out of train.
- Fashion-MNIST keeps its own train/test split; validation is carved out of its train split.
- Any other folder or catalogue CSV: test and validation are both carved deterministically.

Carving is per class and keyed by each image's identity (its path relative to the data root,
or its index in the Fashion-MNIST train file), hashed with a seed: the same data always gives
the same split, and adding or removing one photo moves no other photo between splits.

Validation is for every choice made while building a model (snapshot, recipe, threshold);
the test split is scored once, for the report.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from gan.data import (
    FASHION_MNIST_DIR,
    IMAGE_SUFFIXES,
    DataError,
    ImageDataset,
    _load_items,
    is_fashion_mnist,
    load_fashion_mnist,
    load_source,
)

SPLITS_FILE = "splits.csv"
VAL_FRACTION = 0.1  # of each class of the train split
TEST_FRACTION = 0.1  # of each class, only where the source declares no test split
SPLIT_SEED = 0
SPLITS = ("val", "test")  # what an evaluation may score


@dataclass
class Splits:
    """The real images of one source, split three ways (disjoint)."""

    fit: ImageDataset  # train minus validation: what extractors (and generators) train on
    val: ImageDataset  # carved from train (or declared): model selection only
    test: ImageDataset  # scored once, for the report
    info: dict  # how the split was made (JSON-able)

    @property
    def class_names(self) -> list[str]:
        return self.fit.class_names

    def held_out(self, split: str) -> ImageDataset:
        """The images an evaluation on `split` compares against."""
        check_split(split)
        return self.val if split == "val" else self.test

    def seen(self, split: str) -> ImageDataset:
        """Real images a generator may have trained on, the reference of the memorisation check:
        fit when scoring val (val is held out), the whole train split (fit + val) for test."""
        check_split(split)
        return self.fit if split == "val" else concat(self.fit, self.val)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: allowed {', '.join(SPLITS)}")


def concat(a: ImageDataset, b: ImageDataset) -> ImageDataset:
    if a.class_names != b.class_names:
        raise ValueError("cannot join data sets with different class names")
    return ImageDataset(
        torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]), a.class_names, a.source
    )


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def carve(
    keys: list[str], labels: torch.Tensor, fraction: float, seed: int = SPLIT_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """(rest, carved) index tensors: per class, the round(fraction * n) images (at least one
    where the class has two or more, never all) whose sha256(seed:key) sorts first."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction={fraction}: must lie strictly between 0 and 1")
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys but {len(labels)} labels")
    rest: list[int] = []
    out: list[int] = []
    by_class: dict[int, list[int]] = {}
    for i, k in enumerate(labels.tolist()):
        by_class.setdefault(k, []).append(i)
    for k in sorted(by_class):
        members = sorted(by_class[k], key=lambda i: _rank(keys[i], seed))
        n = len(members)
        take = min(max(round(fraction * n), 1 if n >= 2 else 0), n - 1)
        out += members[:take]
        rest += members[take:]
    return torch.tensor(sorted(rest), dtype=torch.long), torch.tensor(sorted(out), dtype=torch.long)


def _take(data: ImageDataset, index: torch.Tensor, name: str) -> ImageDataset:
    sub = data.subset(index)
    sub.source = f"{data.source}#{name}"
    sub.skipped = list(data.skipped)  # unreadable files of the whole source, reported once
    return sub


def _split_train(
    train: ImageDataset, keys: list[str], test: ImageDataset, info: dict, fraction, seed
) -> Splits:
    rest, val = carve(keys, train.labels, fraction, seed)
    info = {**info, "val": f"carved: {fraction:g} of each train class, seed {seed}"}
    return Splits(_take(train, rest, "fit"), _take(train, val, "val"), test, info)


# ---------------------------------------------------------------- a folder with splits.csv


def read_splits_csv(root: Path) -> list[tuple[str, str, str]]:
    """(relative path, category, split) rows of root/splits.csv, validated."""
    path = root / SPLITS_FILE
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "category", "split"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing columns {sorted(missing)}; need path,category,split")
        rows = [(r["path"].strip(), r["category"].strip(), r["split"].strip()) for r in reader]
    allowed = {"train", "test", "val", "validation"}
    for line, (_, _, split) in enumerate(rows, start=2):
        if split not in allowed:
            raise DataError(f"{path}:{line}: split {split!r}; allowed {', '.join(sorted(allowed))}")
    if not any(s == "train" for _, _, s in rows) or not any(s == "test" for _, _, s in rows):
        raise DataError(f"{path}: needs both train and test rows")
    return rows


def _declared(root: Path, image_size: int, channels: int, fraction, seed) -> Splits:
    rows = read_splits_csv(root)
    classes = sorted({c for _, c, _ in rows})
    index = {c: i for i, c in enumerate(classes)}

    def load(names: set[str]) -> tuple[ImageDataset, list[str]]:
        picked = [(p, c) for p, c, s in rows if s in names]
        data = _load_items(
            [(root / p, index[c]) for p, c in picked],
            classes,
            image_size,
            channels,
            f"folder:{root}:{'+'.join(sorted(names))}",
        )
        skipped = {path for path, _ in data.skipped}
        return data, [p for p, _ in picked if str(root / p) not in skipped]

    train, keys = load({"train"})
    test, _ = load({"test"})
    info = {"source": f"folder:{root}", "test": f"declared in {SPLITS_FILE}"}
    if any(s in ("val", "validation") for _, _, s in rows):
        val, _ = load({"val", "validation"})
        return Splits(train, val, test, {**info, "val": f"declared in {SPLITS_FILE}"})
    return _split_train(train, keys, test, info, fraction, seed)


# ---------------------------------------------------------------- everything else


def _carved_everywhere(source: str, image_size: int, channels: int, fraction, seed) -> Splits:
    """A folder or catalogue CSV without declared splits: carve test, then val from the rest."""
    data = load_source(source, image_size, channels, split="train")
    keys = _item_keys(Path(source), data)
    rest, test = carve(keys, data.labels, TEST_FRACTION, seed)
    train = _take(data, rest, "train")
    info = {"source": data.source, "test": f"carved: {TEST_FRACTION:g} of each class, seed {seed}"}
    return _split_train(
        train, [keys[i] for i in rest.tolist()], _take(data, test, "test"), info, fraction, seed
    )


def _item_keys(path: Path, data: ImageDataset) -> list[str]:
    """A stable identity per loaded image: its path relative to the source (what gan.data read,
    in the order it read them, less the skipped), else its index."""
    skipped = {p for p, _ in data.skipped}
    if path.is_dir():
        classes = data.class_names
        paths = [
            p
            for c in classes
            for p in sorted((path / c).iterdir())
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and str(p) not in skipped
        ]
        if len(paths) == len(data):
            return [str(p.relative_to(path)) for p in paths]
    return [f"{data.source}:{i}" for i in range(len(data))]


def train_split(source: str, image_size: int = 32, channels: int | None = None) -> ImageDataset:
    """Every image of the train split and none of the test split: Fashion-MNIST's train file as
    stored, else fit + validation (what a model shipped beside a generator may learn from)."""
    if is_fashion_mnist(source):
        return load_source(source, image_size, channels, split="train")
    return load_splits(source, image_size, channels).seen("test")


def load_splits(
    source: str,
    image_size: int = 32,
    channels: int | None = None,
    val_fraction: float = VAL_FRACTION,
    seed: int = SPLIT_SEED,
) -> Splits:
    """fit / val / test of `source` (see the module doc for how each kind is split)."""
    path = Path(source)
    if is_fashion_mnist(source):
        root = FASHION_MNIST_DIR if source == "fashion-mnist" else path
        train = load_fashion_mnist(root, "train", image_size, channels or 1)
        test = load_fashion_mnist(root, "test", image_size, channels or 1)
        keys = [f"fashion-mnist:train:{i}" for i in range(len(train))]
        info = {"source": train.source, "test": "Fashion-MNIST's own test split (t10k)"}
        return _split_train(train, keys, test, info, val_fraction, seed)
    if path.is_dir() and (path / SPLITS_FILE).is_file():
        return _declared(path, image_size, channels or 3, val_fraction, seed)
    return _carved_everywhere(source, image_size, channels or 3, val_fraction, seed)
