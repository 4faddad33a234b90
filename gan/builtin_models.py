"""The built-in models: one checkpoint folder per name under models/ of the repo (e.g.
``fashion-mnist-32``), named without a version; their upscaler is the default one.

Torch-free, so the job system (which must not load torch to resolve a model) lists them with the
same code as the gan commands.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILTIN_MODELS = REPO_ROOT / "models"
GENERATOR_JSON = "generator.json"  # gan.checkpoint.META_NAME: a folder with one is a model


def builtin_model_names(root: Path = BUILTIN_MODELS) -> tuple[str, ...]:
    """The built-in models' names: the folders under ``root`` holding a generator JSON."""
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / GENERATOR_JSON).is_file()))


def builtin_model_path(name: str, root: Path = BUILTIN_MODELS) -> Path | None:
    """The folder of the built-in model ``name``, else None."""
    return root / name if name in builtin_model_names(root) else None
