"""Generator checkpoints: safetensors weights + a JSON file that carries their sha256.

Nothing here unpickles: weights are read only with safetensors, and only after the
sha256 of the file matches the one recorded in the JSON.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

from gan.builtin_models import REPO_ROOT
from gan.config import ModelConfig
from gan.models import build_generator
from gan.tone import TONE_KEY, Toned, untoned

FORMAT = "assetgen-generator/1"
WEIGHTS_NAME = "generator.safetensors"
META_NAME = "generator.json"
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol >= 2; torch.save zip archive


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the path and what is wrong."""


def default_model_path() -> Path:
    """The shipped default model folder (beside the `gan` package)."""
    return REPO_ROOT / "default_model"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a kill never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def state_dict_bytes(module: torch.nn.Module, extra: dict | None = None) -> bytes:
    """safetensors bytes of `module`'s state dict, plus any `extra` named tensors."""
    tensors = {**module.state_dict(), **(extra or {})}
    return st_save_bytes({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})


def save_generator(out_dir, generator: torch.nn.Module, meta: dict) -> Path:
    """Write out_dir/generator.safetensors and out_dir/generator.json; return out_dir.

    `meta` adds to / overrides the recorded fields (class_names, dataset, training, metrics...).
    The weights file is written before the JSON, so a JSON always describes complete weights.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network = untoned(generator)
    # A tone curve travels in the weights, so the sha256 covers it.
    extra = {TONE_KEY: getattr(generator, TONE_KEY)} if network is not generator else None
    data = state_dict_bytes(network, extra)
    cfg: ModelConfig = generator.cfg
    record = checkpoint_record(
        data,
        {"class_names": [str(i) for i in range(cfg.num_classes)], "dataset": None},
        meta,
        FORMAT,
        WEIGHTS_NAME,
        model=cfg.to_dict(),
        image_size=cfg.image_size,
        channels=cfg.channels,
        num_classes=cfg.num_classes,
    )
    if len(record["class_names"]) != cfg.num_classes:
        raise ValueError(
            f"{len(record['class_names'])} class_names for a model with {cfg.num_classes} classes"
        )
    return write_checkpoint(out, data, record, WEIGHTS_NAME, META_NAME)


def checkpoint_record(
    data: bytes, defaults: dict, meta: dict, fmt: str, weights_name: str, **fixed
) -> dict:
    """A checkpoint's JSON (generator and upscaler alike): `defaults`, an untrained run's
    training and metrics and the time, then the caller's `meta` over them, then what always
    comes from the weights themselves (format, file name, their sha256 and `fixed`)."""
    record = {
        **defaults,
        "training": {"steps": 0},
        "metrics": {},
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    record.update(meta)
    record.update(format=fmt, weights=weights_name, sha256=sha256_bytes(data), **fixed)
    return record


def write_checkpoint(out: Path, data: bytes, record: dict, weights_name: str, meta_name: str):
    """The weights first, then the JSON that describes them: a JSON always means complete
    weights (generator and upscaler checkpoints alike)."""
    atomic_write_bytes(out / weights_name, data)
    atomic_write_json(out / meta_name, record)
    return out


def update_meta(path, **fields) -> dict:
    """Merge fields into a checkpoint's JSON (weights and their sha256 are untouched)."""
    meta_path, _ = _resolve(Path(path))
    meta = _read_meta(meta_path)
    for key in ("format", "sha256", "weights", "model"):
        if key in fields:
            raise ValueError(f"{key} cannot be changed with update_meta")
    meta.update(fields)
    atomic_write_json(meta_path, meta)
    return meta


def _resolve(path: Path) -> tuple[Path, Path]:
    """(json path, safetensors path) for a checkpoint dir or either of its files."""
    return resolve_files(path, META_NAME, WEIGHTS_NAME, "a generator checkpoint")


def resolve_files(path: Path, meta_name: str, weights_name: str, what: str) -> tuple[Path, Path]:
    """(json path, safetensors path) of a folder holding both, or given either file; ``what``
    names the kind of checkpoint in the error (generator, upscaler)."""
    path = Path(path)
    if path.is_dir():
        return path / meta_name, path / weights_name
    if path.suffix in (".json", ".safetensors"):
        return path.with_suffix(".json"), path.with_suffix(".safetensors")
    raise CheckpointError(
        f"{path}: not {what}; expected a folder holding {meta_name} and "
        f"{weights_name}, or one of those files (pickled .pt/.pth/.ckpt/.bin files are refused)"
    )


def generator_meta(path) -> dict:
    """A generator checkpoint's JSON (folder or either file), checked but without the weights."""
    return _read_meta(_resolve(Path(path))[0])


def _read_meta(meta_path: Path) -> dict:
    return read_meta(meta_path, FORMAT, ("sha256", "model", "class_names"), "checkpoint")


def read_meta(meta_path: Path, fmt: str, required: tuple[str, ...], what: str) -> dict:
    """A checkpoint's JSON: present, valid, of format ``fmt``, with the ``required`` fields."""
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: missing {what} metadata (JSON) file")
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{meta_path}: format is {found!r}, expected {fmt!r}")
    for key in required:
        if key not in meta:
            raise CheckpointError(f"{meta_path}: metadata lacks the field {key!r}")
    return meta


def _is_safetensors_header(data: bytes) -> bool:
    """Whether `data` opens as safetensors does: a little-endian u64 header length that fits
    the file, then the JSON header's "{". A header length whose low byte is 0x80 starts the file
    with pickle's first byte; this tells the two apart. A file that passes goes to the
    safetensors parser, which refuses anything else: nothing is ever unpickled."""
    if len(data) < 9:
        return False
    return 8 + int.from_bytes(data[:8], "little") <= len(data) and data[8:9] == b"{"


def read_verified_weights(weights_path: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    """Read a safetensors file, refusing pickles and any sha256 mismatch before parsing."""
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: missing weights file")
    data = weights_path.read_bytes()
    if data.startswith(_PICKLE_MAGIC) and not _is_safetensors_header(data):
        raise CheckpointError(
            f"{weights_path}: looks like a pickle / torch.save file, not safetensors; "
            "refusing to load it"
        )
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise CheckpointError(
            f"{weights_path}: sha256 {actual} does not match {expected_sha256} recorded in the "
            "checkpoint JSON; the file is corrupt or was modified -- re-copy or re-publish it"
        )
    try:
        return st_load_bytes(data)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{weights_path}: not a valid safetensors file ({exc})") from exc


def load_generator(path, device="cpu") -> tuple[torch.nn.Module, dict]:
    """Load a verified generator (eval mode, no grad) and its metadata dict; one whose weights
    hold a tone curve comes wrapped in `gan.tone.Toned`."""
    meta_path, weights_path = _resolve(Path(path))
    meta = _read_meta(meta_path)
    tensors = read_verified_weights(weights_path, meta["sha256"])
    try:
        cfg = ModelConfig.from_dict(meta["model"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: invalid model config ({exc})") from exc
    if len(meta["class_names"]) != cfg.num_classes:
        raise CheckpointError(
            f"{meta_path}: {len(meta['class_names'])} class_names but num_classes={cfg.num_classes}"
        )
    table = tensors.pop(TONE_KEY, None)
    generator = build_generator(cfg)
    try:
        generator.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{weights_path}: weights do not fit the model config ({exc})"
        ) from exc
    if table is not None:
        try:
            generator = Toned(generator, table)
        except ValueError as exc:
            raise CheckpointError(f"{weights_path}: {exc}") from exc
    generator.to(device).eval().requires_grad_(False)
    return generator, meta


def init_generator_checkpoint(
    out_dir, class_names, image_size=32, channels=1, seed=0, **model
) -> Path:
    """Save an untrained (freshly initialised) generator in the checkpoint format; `model`
    overrides ModelConfig fields (arch, widths)."""
    cfg = ModelConfig(
        image_size=image_size, channels=channels, num_classes=len(class_names), **model
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = build_generator(cfg)
    meta = {
        "class_names": list(class_names),
        "dataset": None,
        "training": {"steps": 0, "epochs": 0.0, "untrained": True, "seed": seed},
    }
    return save_generator(out_dir, generator.eval(), meta)
