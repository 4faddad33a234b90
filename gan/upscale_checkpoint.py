"""Upscaler checkpoints: `upscaler.safetensors` + `upscaler.json` carrying the weights' sha256.

The same rules as the generator's (gan/checkpoint.py, whose helpers this reuses): the weights
are read with safetensors only, after their sha256 matches the JSON; pickles are refused.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from gan.checkpoint import (
    CheckpointError,
    checkpoint_record,
    default_model_path,
    read_meta,
    read_verified_weights,
    resolve_files,
    state_dict_bytes,
    write_checkpoint,
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
    record = checkpoint_record(
        data,
        {"name": "upscaler"},
        meta,
        FORMAT,
        WEIGHTS_NAME,
        arch=cfg.arch,
        config=cfg.to_dict(),
        scale=cfg.scale,
    )
    return write_checkpoint(out, data, record, WEIGHTS_NAME, META_NAME)


def resolve_upscaler(path) -> tuple[Path, Path]:
    """(json path, safetensors path) for an upscaler folder or either of its two files."""
    return resolve_files(Path(path), META_NAME, WEIGHTS_NAME, "an upscaler checkpoint")


def read_upscaler_meta(meta_path: Path) -> dict:
    return read_meta(meta_path, FORMAT, ("sha256", "arch", "config"), "upscaler")


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
