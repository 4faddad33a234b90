"""Batches for the trainer: from memory or decoded from files, augmented, prefetched.

A *source* is anything with ``labels`` (int64 (N,)), ``class_names``, ``image_size``,
``channels``, ``__len__``, ``fingerprint()`` and ``batch(index) -> uint8 (B, C, S, S)``:
`gan.data.ImageDataset` (all pixels in memory, right for 32-64 px) or `FileImageSource`
(paths only; each batch is decoded from disk by a thread pool, right for 128-256 px where a
catalogue of decoded pixels would not fit on the device). Either way only the batch in use
goes to the device.

`BatchStream` yields the batches of a run in a fixed order that is a pure function of
(seed, batch number) -- shuffles per epoch and flips alike -- so a resumed run sees exactly
the batches the killed one would have, and the global RNG is never touched. The next batch is
prepared on a background thread while the current one trains.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from gan.data import DataError, read_image

log = logging.getLogger(__name__)


class ImageSource(Protocol):
    labels: torch.Tensor
    class_names: list[str]

    @property
    def image_size(self) -> int: ...

    @property
    def channels(self) -> int: ...

    def __len__(self) -> int: ...

    def fingerprint(self) -> dict: ...

    def batch(self, index: torch.Tensor) -> torch.Tensor: ...


class FileImageSource:
    """Images as (path, label) decoded on demand to uint8 (C, S, S) by `gan.data.read_image`.

    Unreadable files are found once, up front (`skipped`), so a batch never fails mid-run.
    The fingerprint hashes the files' bytes, labels, class names and the decode size.
    """

    def __init__(
        self,
        items: Sequence[tuple[Path, int]],
        class_names: Sequence[str],
        image_size: int,
        channels: int,
        source: str,
        threads: int = 4,
    ) -> None:
        self.class_names = list(class_names)
        self.source = source
        self._size, self._channels = image_size, channels
        self.skipped: list[tuple[str, str]] = []
        kept: list[tuple[Path, int]] = []
        h = hashlib.sha256()
        h.update(f"{image_size}x{channels}\n".encode() + "\n".join(self.class_names).encode())
        for path, label in items:
            try:
                data = Path(path).read_bytes()
                with Image.open(path) as img:
                    img.verify()
            except (OSError, ValueError, SyntaxError) as exc:
                self.skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
                log.warning("skipping unreadable image %s: %s", path, exc)
                continue
            h.update(hashlib.sha256(data).digest() + int(label).to_bytes(8, "little"))
            kept.append((Path(path), int(label)))
        if not kept:
            raise DataError(f"{source}: no readable images ({len(self.skipped)} skipped)")
        self.paths = [p for p, _ in kept]
        self.labels = torch.tensor([lab for _, lab in kept], dtype=torch.long)
        self._sha = h.hexdigest()
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="decode")

    @property
    def image_size(self) -> int:
        return self._size

    @property
    def channels(self) -> int:
        return self._channels

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint(self) -> dict:
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        return {
            "source": self.source,
            "sha256": self._sha,
            "num_images": len(self),
            "per_class": dict(zip(self.class_names, counts)),
            "image_size": self._size,
            "channels": self._channels,
        }

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        decode = lambda i: read_image(self.paths[int(i)], self._size, self._channels)  # noqa: E731
        return torch.from_numpy(np.stack(list(self._pool.map(decode, index.tolist()))))


def epoch_order(seed: int, epoch: int, n: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The order of one epoch, a pure function of (seed, epoch): resume-safe. A shuffle of all
    n images, or, given per-image `weights`, n draws with replacement in proportion to them."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    if weights is None:
        return torch.randperm(n, generator=gen)
    return torch.multinomial(weights, n, replacement=True, generator=gen)


def balance_weights(labels: torch.Tensor, power: float) -> torch.Tensor | None:
    """Per-image weights n_class ** -power (gan.config.TrainConfig.class_balance); None at 0."""
    if power == 0:
        return None
    counts = torch.bincount(labels).double()
    return counts[labels] ** -power


def batch_index(
    seed: int,
    batch_no: int,
    batch_size: int,
    n: int,
    cache: dict,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Indices of batch `batch_no`: epochs of n // batch_size full batches, each in
    epoch_order."""
    per_epoch = n // batch_size
    epoch, pos = divmod(batch_no, per_epoch)
    if cache.get("epoch") != epoch:
        cache.update(epoch=epoch, order=epoch_order(seed, epoch, n, weights))
    return cache["order"][pos * batch_size : (pos + 1) * batch_size]


def flip_mask(seed: int, batch_no: int, size: int) -> torch.Tensor:
    """Which images of batch `batch_no` are mirrored (half on average), from its own RNG."""
    gen = torch.Generator().manual_seed(seed * 7_919 + batch_no + 1)
    return torch.rand(size, generator=gen) < 0.5


class BatchStream:
    """Iterate (uint8 images, labels) of batches start, start+1, ... on the CPU."""

    def __init__(
        self,
        source: ImageSource,
        batch_size: int,
        seed: int,
        start: int = 0,
        flip: bool = False,
        class_balance: float = 0.0,
    ) -> None:
        if len(source) < batch_size:
            raise ValueError(f"{len(source)} images is fewer than batch_size={batch_size}")
        self.source, self.batch_size, self.seed, self.flip = source, batch_size, seed, flip
        self.weights = balance_weights(source.labels, class_balance)
        self.next_no = start
        self._cache: dict = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="batches")
        self._pending: Future | None = None

    def make(self, batch_no: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = batch_index(
            self.seed, batch_no, self.batch_size, len(self.source), self._cache, self.weights
        )
        x, y = self.source.batch(idx), self.source.labels[idx]
        if self.flip:
            m = flip_mask(self.seed, batch_no, len(idx))
            x = x.clone()
            x[m] = x[m].flip(-1)
        return x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        pending = self._pending or self._pool.submit(self.make, self.next_no)
        self.next_no += 1
        self._pending = self._pool.submit(self.make, self.next_no)
        return pending.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
