"""What the gan package's click commands share: how a --model value becomes a checkpoint path."""

from __future__ import annotations

from pathlib import Path

import click

from gan.builtin_models import builtin_model_names, builtin_model_path
from gan.checkpoint import default_model_path


def resolve_model(model: str, resolver=None) -> Path:
    """`default`, a built-in model's name (models/ of the repo, e.g. `fashion-mnist-32`), a
    checkpoint path, or (through `resolver`) a published model name."""
    if model == "default":
        return default_model_path()
    builtin = builtin_model_path(model)
    if builtin is not None:
        return builtin
    path = Path(model)
    if path.exists():
        return path
    if resolver is not None:
        return Path(resolver(model))
    raise click.BadParameter(
        f"{model!r}: no such checkpoint folder or file (or use 'default' or a built-in model: "
        f"{', '.join(builtin_model_names()) or 'none'})",
        param_hint="--model",
    )
