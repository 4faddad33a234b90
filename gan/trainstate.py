"""Resumable train state as safetensors + JSON (no pickle).

Module weights, Adam moments and RNG states are flattened into one safetensors file;
the scalars (step, optimizer hyper-parameters, config) go to the JSON beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save as st_save_bytes

from gan.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_json,
    read_verified_weights,
    sha256_bytes,
)

STATE_FORMAT = "assetgen-train-state/1"
STATE_WEIGHTS = "train_state.safetensors"
STATE_META = "train_state.json"


def flatten_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Optimizer -> ({name: tensor}, json-able param_groups)."""
    sd = opt.state_dict()
    tensors = {}
    for idx, entry in sd["state"].items():
        for name, value in entry.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.{idx}.{name}"] = t.detach().to("cpu").contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def unflatten_optimizer(
    prefix: str, opt: torch.optim.Optimizer, tensors: dict, groups: dict
) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


def save_train_state(out_dir: Path, modules: dict, optimizers: dict, extra: dict) -> None:
    tensors = {}
    for name, module in modules.items():
        tensors.update(
            {
                f"{name}.{k}": v.detach().to("cpu").contiguous()
                for k, v in module.state_dict().items()
            }
        )
    groups = {}
    for name, opt in optimizers.items():
        t, g = flatten_optimizer(name, opt)
        tensors.update(t)
        groups[name] = g
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    data = st_save_bytes(tensors)
    atomic_write_bytes(out_dir / STATE_WEIGHTS, data)
    atomic_write_json(
        out_dir / STATE_META,
        {"format": STATE_FORMAT, "sha256": sha256_bytes(data), "optimizers": groups, **extra},
    )


def load_train_state(out_dir: Path, modules: dict, optimizers: dict) -> dict:
    """Restore modules, optimizers and RNG in place; return the JSON dict."""
    meta_path = out_dir / STATE_META
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: unreadable train state ({exc})") from exc
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(
            f"{meta_path}: format {meta.get('format')!r}, expected {STATE_FORMAT!r}"
        )
    tensors = read_verified_weights(out_dir / STATE_WEIGHTS, meta["sha256"])
    for name, module in modules.items():
        sub = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
        module.load_state_dict(sub, strict=True)
    for name, opt in optimizers.items():
        unflatten_optimizer(name, opt, tensors, meta["optimizers"][name])
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return meta


def has_train_state(out_dir: Path) -> bool:
    return (out_dir / STATE_META).is_file() and (out_dir / STATE_WEIGHTS).is_file()


__all__ = ["has_train_state", "load_train_state", "save_train_state"]
