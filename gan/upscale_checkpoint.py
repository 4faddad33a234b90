"""Upscaler checkpoints: `upscaler.safetensors` + `upscaler.json` carrying the weights' sha256.

The same rules as the generator's (gan/checkpoint.py, whose helpers this reuses): the weights
are read with safetensors only, after their sha256 matches the JSON; pickles are refused.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from torch import nn

from gan.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_json,
    default_model_path,
    read_verified_weights,
    sha256_bytes,
    state_dict_bytes,
)
from gan.upscaler import UpscalerConfig, build_upscaler

FORMAT = "assetgen-upscaler/1"
WEIGHTS_NAME = "upscaler.safetensors"
META_NAME = "upscaler.json"


def default_upscaler_path() -> Path:
    """The shipped upscaler, beside the default generator."""
    return default_model_path() / META_NAME


def save_upscaler(out_dir, net: nn.Module, meta: dict) -> Path:
    """Write out_dir/upscaler.safetensors, then out_dir/upscaler.json; return out_dir.

    `meta` adds fields (name, version, training, metrics...); format, arch, config, scale and
    sha256 are always set from the network itself.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = state_dict_bytes(net)
    cfg: UpscalerConfig = net.cfg
    record = {
        "name": "upscaler",
        "training": {"steps": 0},
        "metrics": {},
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    record.update(meta)
    record.update(
        format=FORMAT,
        weights=WEIGHTS_NAME,
        sha256=sha256_bytes(data),
        arch=cfg.arch,
        config=cfg.to_dict(),
        scale=cfg.scale,
    )
    atomic_write_bytes(out / WEIGHTS_NAME, data)
    atomic_write_json(out / META_NAME, record)
    return out


def resolve_upscaler(path) -> tuple[Path, Path]:
    """(json path, safetensors path) for an upscaler folder or either of its two files."""
    path = Path(path)
    if path.is_dir():
        return path / META_NAME, path / WEIGHTS_NAME
    if path.suffix in (".json", ".safetensors"):
        return path.with_suffix(".json"), path.with_suffix(".safetensors")
    raise CheckpointError(
        f"{path}: not an upscaler checkpoint; expected a folder holding {META_NAME} and "
        f"{WEIGHTS_NAME}, or one of those files (pickled .pt/.pth/.ckpt/.bin files are refused)"
    )


def read_upscaler_meta(meta_path: Path) -> dict:
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: missing upscaler metadata (JSON) file")
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{meta_path}: format is {found!r}, expected {FORMAT!r}")
    for key in ("sha256", "arch", "config"):
        if key not in meta:
            raise CheckpointError(f"{meta_path}: metadata lacks the field {key!r}")
    return meta


def load_upscaler(path, device="cpu") -> tuple[nn.Module, dict]:
    """A verified upscaler (eval mode, no grad) and its metadata dict."""
    meta_path, weights_path = resolve_upscaler(path)
    meta = read_upscaler_meta(meta_path)
    tensors = read_verified_weights(weights_path, meta["sha256"])  # sha256 before parsing
    try:
        cfg = UpscalerConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: invalid upscaler config ({exc})") from exc
    if cfg.arch != meta["arch"]:
        raise CheckpointError(f"{meta_path}: arch {meta['arch']!r} but config says {cfg.arch!r}")
    net = build_upscaler(cfg)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights_path}: weights do not fit the config ({exc})") from exc
    return net.to(device).eval().requires_grad_(False), meta
