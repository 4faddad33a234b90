"""What the gan package's click commands share: how a --model value becomes a checkpoint path."""

from __future__ import annotations

from pathlib import Path

import click

from gan.builtin_models import builtin_model_names, builtin_model_path
from gan.checkpoint import CheckpointError, default_model_path, generator_meta
from gan.data import trained_on

DATA_HELP = (
    "Real data: fashion-mnist, a Fashion-MNIST folder, a folder per category, or a catalogue CSV "
    "(default: the source the model was trained on, from its JSON's dataset.source)."
)

MODEL_DIR = click.argument(
    "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path)
)


def data_option(help_text: str = DATA_HELP):
    """`--data` (parameter `source`), None by default: resolve it with `data_for`."""
    return click.option("--data", "source", default=None, help=help_text)


def data_for(source: str | None, model_path: Path) -> str:
    """`source`, or where it is None the source the checkpoint at `model_path` was trained on."""
    if source is not None:
        return source
    try:
        meta = generator_meta(model_path)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from exc
    recorded = trained_on(meta)
    if recorded is None:
        raise click.UsageError(
            f"{model_path}: the checkpoint records no training data; pass --data"
        )
    if recorded != "fashion-mnist" and not Path(recorded).exists():
        raise click.UsageError(
            f"{model_path} was trained on {recorded}, which is not here (paths are relative to "
            "where training ran); pass --data"
        )
    return recorded


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
