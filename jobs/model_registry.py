"""Resolve a job's model reference to one exact checkpoint at submit time.

A reference is "default", a built-in model's name (a folder under ``Settings.builtin_models``,
models/ of the repo: e.g. "fashion-mnist-32"), a checkpoint folder path, or (with published
models) "name" / "name@version". A built-in name wins over a folder of that name in the working
directory (write ./NAME for that one) and over a published model of that name (`models publish`
refuses built-in names); "builtin@version" is taken only where the version is the built-in's own
(its sha256[:12], the version a job records), so a job's recorded model@version names it again.
Only the JSON metadata is read here; the worker verifies the weights' sha256 before it loads them.

Each model resolves its x4 upscaler too: the one in its folder (``upscaler.json`` +
``upscaler.safetensors``, beside ``generator.*``) or published with its version, else the
default upscaler (``Settings.default_upscaler``, shipped in default_model/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gan.builtin_models import builtin_model_names  # torch-free
from jobs.settings import Settings
from jobs.specs import SpecError
from jobs.storage import create_store

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
BUCKET_SCHEME = "bucket:"
FILES = (
    "generator.safetensors",
    "generator.json",
)  # the JSON last: a version exists once its JSON does
UPSCALER_FILES = ("upscaler.safetensors", "upscaler.json")  # gan.upscale_checkpoint's names
UPSCALER_SCALE = 4  # the worker's upscale stage runs x4 passes (jobs.kinds.planning)


@dataclass(frozen=True)
class ResolvedUpscaler:
    name: str
    version: str
    sha256: str
    # where the worker loads it from: a local folder holding UPSCALER_FILES, or a published
    # version (bucket:models/<name>/<version>/, fetched with its generator)
    uri: str


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    sha256: str
    uri: str  # where the worker loads it from: a local checkpoint folder
    class_names: tuple[str, ...]
    image_size: int
    channels: int
    upscaler: ResolvedUpscaler | None = None  # None: no upscaler anywhere (upscale auto: off)


def read_checkpoint_meta(folder: Path) -> dict:
    meta_path = folder / "generator.json"
    try:
        return json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise SpecError(
            "model", f"no checkpoint at {folder} (expected {meta_path.name} there)"
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecError("model", f"{meta_path} is not valid JSON: {exc.msg}") from None


def _resolved(name: str, meta: dict, uri: str, upscaler: ResolvedUpscaler | None) -> ResolvedModel:
    sha = meta.get("sha256", "")
    return ResolvedModel(
        name=name,
        version=str(meta.get("version") or sha[:12]),
        sha256=sha,
        uri=uri,
        class_names=tuple(meta["class_names"]),
        image_size=int(meta["image_size"]),
        channels=int(meta["channels"]),
        upscaler=upscaler,
    )


def builtin_names(settings: Settings) -> tuple[str, ...]:
    """The built-in models: the folders under Settings.builtin_models holding a generator JSON."""
    return builtin_model_names(settings.builtin_models)


def _builtins_hint(settings: Settings) -> str:
    return ", ".join(builtin_names(settings)) or "none"


def _local(settings: Settings, name: str, folder: Path) -> ResolvedModel:
    folder = folder.resolve()
    meta = read_checkpoint_meta(folder)
    return _resolved(name, meta, str(folder), local_upscaler(settings, folder, name))


def _builtin(settings: Settings, name: str, version: str) -> ResolvedModel:
    model = _local(settings, name, settings.builtin_models / name)
    if version and version != model.version:
        raise SpecError(
            "model",
            f"{name!r} is a built-in model with the one version {model.version!r}, "
            f"not {version!r} (name it without @version)",
        )
    return model


def resolve_model(settings: Settings, ref: str, store=None) -> ResolvedModel:
    """'default', a built-in name, a checkpoint folder, or a published 'name' / 'name@version'
    (needs the store)."""
    if ref == "default":
        return _local(settings, "default", settings.default_model)
    name, _, version = ref.partition("@")
    if name in builtin_names(settings):
        return _builtin(settings, name, version)
    folder = Path(ref).expanduser()
    if folder.is_dir():
        return _local(settings, folder.resolve().name, folder)
    if not NAME_RE.match(name) or (version and not NAME_RE.match(version)):
        raise SpecError(
            "model",
            f"{ref!r} is neither 'default', a built-in model ({_builtins_hint(settings)}), a "
            "checkpoint folder, nor a model name[@version]",
        )
    if store is None:
        store = create_store(settings)
    meta = published_meta(store, name, version or None, _builtins_hint(settings))
    uri = f"{BUCKET_SCHEME}{version_prefix(name, meta['version'])}"
    return _resolved(name, meta, uri, published_upscaler(settings, meta, uri))


# ---------------------------------------------------------------- upscalers


def read_upscaler_meta(folder: Path) -> dict | None:
    """The upscaler JSON in a folder, or None when it has none; SpecError when it is unusable."""
    path = folder / UPSCALER_FILES[1]
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise SpecError("upscale", f"{path} is not valid JSON: {exc.msg}") from None
    check_upscaler_meta(str(path), meta)
    return meta


def check_upscaler_meta(where: str, meta: dict) -> None:
    if not isinstance(meta, dict) or len(str(meta.get("sha256", ""))) != 64:
        raise SpecError("upscale", f"{where}: not an upscaler checkpoint (no sha256)")
    if int(meta.get("scale", 0)) != UPSCALER_SCALE:
        raise SpecError(
            "upscale",
            f"{where}: an x{meta.get('scale')} upscaler; the worker runs x{UPSCALER_SCALE} ones",
        )


def _upscaler(name: str, meta: dict, uri: str) -> ResolvedUpscaler:
    sha = str(meta["sha256"])
    return ResolvedUpscaler(name, str(meta.get("version") or sha[:12]), sha, uri)


def default_upscaler(settings: Settings) -> ResolvedUpscaler | None:
    """Settings.default_upscaler (the shipped one), or None where that folder has none."""
    folder = settings.default_upscaler.resolve()
    meta = read_upscaler_meta(folder)
    return None if meta is None else _upscaler("default", meta, str(folder))


def local_upscaler(settings: Settings, folder: Path, name: str) -> ResolvedUpscaler | None:
    """The upscaler beside a model folder's generator, else the default upscaler."""
    meta = read_upscaler_meta(folder)
    return _upscaler(name, meta, str(folder)) if meta is not None else default_upscaler(settings)


def published_upscaler(settings: Settings, meta: dict, uri: str) -> ResolvedUpscaler | None:
    """The upscaler published with a version (recorded in its generator.json), else the
    default upscaler (versions published without one)."""
    found = meta.get("upscaler")
    if not found:
        return default_upscaler(settings)
    check_upscaler_meta(f"{uri}{UPSCALER_FILES[1]}", found)
    return ResolvedUpscaler(str(found["name"]), str(found["version"]), str(found["sha256"]), uri)


# ---------------------------------------------------------------- published models in the bucket


def version_prefix(name: str, version: str) -> str:
    return f"models/{name}/{version}/"


def published_versions(store, name: str | None = None) -> dict[str, list[dict]]:
    """{name: [version metadata, oldest first]} for every published model (or just `name`)."""
    out: dict[str, list[dict]] = {}
    for key in store.list(f"models/{name}/" if name else "models/"):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "generator.json":
            out.setdefault(parts[1], []).append(json.loads(store.get(key)))
    return {n: sorted(v, key=lambda m: m["published_at"]) for n, v in sorted(out.items())}


def published_meta(store, name: str, version: str | None, builtins: str = "") -> dict:
    """A published version's metadata (the latest where version is None); ``builtins``, the
    built-in names, is named in the error where there is no such model."""
    versions = published_versions(store, name).get(name, [])
    if not versions:
        also = f"; built-in models: {builtins}" if builtins else ""
        raise SpecError("model", f"no published model {name!r} (see `assetgen models list`{also})")
    if version is None:
        return versions[-1]
    for meta in versions:
        if meta["version"] == version:
            return meta
    raise SpecError(
        "model",
        f"model {name!r} has no version {version!r} "
        f"(published: {', '.join(m['version'] for m in versions)})",
    )


def upscaler_to_publish(settings: Settings, checkpoint: Path, given: Path | None) -> Path | None:
    """The upscaler `models publish` carries along: the one given, else the one beside the
    checkpoint, else the default upscaler; None where there is none at all."""
    if given is not None:
        return given
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    for candidate in (folder, settings.default_upscaler):
        if (candidate / UPSCALER_FILES[1]).exists():
            return candidate
    return None


def _publish_upscaler(store, prefix: str, upscaler: Path, name: str, version: str) -> dict:
    """Verify an upscaler checkpoint (sha256) and upload it under prefix; its identity."""
    from gan.upscale_checkpoint import load_upscaler, resolve_upscaler  # lazy: torch, as below

    _, meta = load_upscaler(upscaler)  # refuses a tampered or non-safetensors checkpoint
    check_upscaler_meta(str(upscaler), meta)
    meta_path, weights_path = resolve_upscaler(upscaler)
    published = {**meta, "name": name, "version": version, "source": meta.get("name")}
    _put_checkpoint(store, prefix, UPSCALER_FILES, weights_path.read_bytes(), published)
    return {"name": name, "version": version, "sha256": meta["sha256"], "scale": meta["scale"]}


def publish(
    store, checkpoint: Path, name: str, version: str | None = None, upscaler: Path | None = None
) -> dict:
    """Upload a verified checkpoint as models/<name>/<version>/; versions are immutable.

    ``upscaler``: an upscaler checkpoint (folder or file) published with it (see
    upscaler_to_publish); its identity is recorded in the version's generator.json."""
    # gan imports torch: lazy here, so the API and the sweeper (which resolve models) never load it
    from gan.checkpoint import load_generator

    if not NAME_RE.match(name) or (version and not NAME_RE.match(version)):
        raise SpecError(
            "name", f"{name}@{version}: names and versions use a-z, 0-9, '.', '_', '-' (max 64)"
        )
    _, meta = load_generator(checkpoint)  # refuses a tampered or non-safetensors checkpoint
    folder = Path(checkpoint)
    folder = folder if folder.is_dir() else folder.parent
    version = version or f"v{len(published_versions(store, name).get(name, [])) + 1}"
    meta = {
        **meta,
        "name": name,
        "version": version,
        "published_at": datetime.now(UTC).isoformat(),
    }
    prefix = version_prefix(name, version)
    if store.head(prefix + "generator.json") is not None:
        raise SpecError("version", f"{name}@{version} is already published; versions are immutable")
    from gan.classifier import CLASSIFIER_FILES, load_classifier  # lazy: torch, as above

    if load_classifier(folder) is not None:  # optional, uploaded before FILES; refused if tampered
        for fname in CLASSIFIER_FILES:
            store.put_new(
                prefix + fname, (folder / fname).read_bytes(), "application/octet-stream", {}
            )
    if upscaler is not None:  # uploaded before FILES, like the classifier
        meta["upscaler"] = _publish_upscaler(store, prefix, Path(upscaler), name, version)
    _put_checkpoint(store, prefix, FILES, (folder / FILES[0]).read_bytes(), meta)
    return meta


def _put_checkpoint(store, prefix: str, files, weights: bytes, meta: dict) -> None:
    """Upload (weights, JSON) as files[0], files[1]: the weights first, so a JSON in the bucket
    always means its weights are there too."""
    store.put_new(
        prefix + files[0], weights, "application/octet-stream", {"sha256-weights": meta["sha256"]}
    )
    store.put_new(
        prefix + files[1],
        json.dumps(meta, indent=1, sort_keys=True).encode(),
        "application/json",
        {},
    )


def fetch_published(store, uri: str, cache_dir: Path) -> Path:
    """Download a published version (bucket:models/<name>/<version>/) into cache_dir once."""
    prefix = uri.removeprefix(BUCKET_SCHEME)
    folder = cache_dir / prefix
    if not (folder / FILES[1]).exists():
        folder.mkdir(parents=True, exist_ok=True)
        # catalogue fill's scorer, when the version has one (lazy: gan imports torch, as above)
        from gan.classifier import CLASSIFIER_FILES

        extra = CLASSIFIER_FILES if store.head(prefix + CLASSIFIER_FILES[1]) is not None else ()
        if store.head(prefix + UPSCALER_FILES[1]) is not None:  # the upscaler published with it
            extra = (*extra, *UPSCALER_FILES)
        # generator JSON last, so a half-finished download is never taken for a model
        for fname in (*extra, *FILES):
            tmp = folder / f".{fname}.tmp"
            tmp.write_bytes(store.get(prefix + fname))
            tmp.replace(folder / fname)
    return folder
