"""Deterministic per-image seeds: the same (base, item, image) always gives the same seed."""

from __future__ import annotations

import hashlib


def image_seed(base: str | int, item_index: int, image_index: int) -> int:
    """A 63-bit seed derived from the job's seed base and the image's position."""
    digest = hashlib.sha256(f"{base}:{item_index}:{image_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def sku_seeds(sku: str, model_version: str, k: int) -> tuple[int, ...]:
    """K candidate seeds of a catalogue SKU: the same SKU and model version always give the same
    candidates."""
    return tuple(image_seed(f"catalogue:{model_version}:{sku}", 0, c) for c in range(k))
