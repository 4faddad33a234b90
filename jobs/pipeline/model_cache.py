"""Generators and upscalers loaded once per worker process, keyed by the checkpoint's sha256."""

from __future__ import annotations

import threading
from collections.abc import Callable

from gan.checkpoint import CheckpointError, load_generator


class ModelCache:
    def __init__(
        self,
        device: str = "cpu",
        capacity: int = 4,
        fetch=None,
        load: Callable[..., tuple] = load_generator,
    ):
        # fetch(uri) -> local folder, for published models (bucket:models/<name>/<version>/)
        # load(path, device=...) -> (network, meta): load_generator, or load_upscaler for the
        # upscale stage; both verify the weights' sha256 before reading them
        self.device, self.capacity, self.fetch, self.load = device, capacity, fetch, load
        self._models: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, uri: str, sha256: str):
        """The verified network whose weights hash to sha256 (loaded on first use)."""
        with self._lock:
            if sha256 not in self._models:
                local = self.fetch(uri) if uri.startswith("bucket:") else uri
                network, meta = self.load(local, device=self.device)
                if meta["sha256"] != sha256:
                    raise CheckpointError(
                        f"{uri} now holds weights {meta['sha256'][:12]}, the job "
                        f"was submitted for {sha256[:12]}: publish models as "
                        f"new versions, never in place"
                    )
                if len(self._models) >= self.capacity:
                    self._models.pop(next(iter(self._models)))
                self._models[sha256] = (network, meta)
            return self._models[sha256]
