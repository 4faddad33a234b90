"""What the gan package's click commands share: how a --model value becomes a checkpoint path."""

from __future__ import annotations

from pathlib import Path

import click

from gan.checkpoint import default_model_path


def resolve_model(model: str, resolver=None) -> Path:
    """`default`, a checkpoint path, or (through `resolver`) a published model name."""
    if model == "default":
        return default_model_path()
    path = Path(model)
    if path.exists():
        return path
    if resolver is not None:
        return Path(resolver(model))
    raise click.BadParameter(
        f"{model!r}: no such checkpoint folder or file (or use 'default')", param_hint="--model"
    )
