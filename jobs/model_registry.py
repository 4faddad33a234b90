"""Resolve a job's model reference to one exact checkpoint at submit time.

A reference is "default", a checkpoint folder path, or (with published models)
"name" / "name@version". Only the JSON metadata is read here; the worker verifies
the weights' sha256 before it loads them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jobs.settings import Settings
from jobs.specs import SpecError


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    sha256: str
    uri: str  # where the worker loads it from: a local checkpoint folder
    class_names: tuple[str, ...]
    image_size: int
    channels: int


def read_checkpoint_meta(folder: Path) -> dict:
    meta_path = folder / "generator.json"
    try:
        return json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise SpecError("model", f"no checkpoint at {folder} (expected {meta_path.name} there)") from None
    except json.JSONDecodeError as exc:
        raise SpecError("model", f"{meta_path} is not valid JSON: {exc.msg}") from None


def resolve_model(settings: Settings, ref: str) -> ResolvedModel:
    if ref == "default":
        folder, name = settings.default_model, "default"
    else:
        folder, name = Path(ref).expanduser(), Path(ref).name
        if not folder.is_dir():
            raise SpecError("model", f"{ref!r} is neither 'default' nor a checkpoint folder")
    folder = folder.resolve()
    meta = read_checkpoint_meta(folder)
    sha = meta.get("sha256", "")
    return ResolvedModel(
        name=name,
        version=str(meta.get("version") or sha[:12]),
        sha256=sha,
        uri=str(folder),
        class_names=tuple(meta["class_names"]),
        image_size=int(meta["image_size"]),
        channels=int(meta["channels"]),
    )
