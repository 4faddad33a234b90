"""Resolve a job's model reference to one exact checkpoint at submit time.

A reference is "default", a checkpoint folder path, or (with published models)
"name" / "name@version". Only the JSON metadata is read here; the worker verifies
the weights' sha256 before it loads them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobs.settings import Settings
from jobs.specs import SpecError
from jobs.storage import create_store

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
BUCKET_SCHEME = "bucket:"
FILES = (
    "generator.safetensors",
    "generator.json",
)  # the JSON last: a version exists once its JSON does


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
        raise SpecError(
            "model", f"no checkpoint at {folder} (expected {meta_path.name} there)"
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecError("model", f"{meta_path} is not valid JSON: {exc.msg}") from None


def _resolved(name: str, meta: dict, uri: str) -> ResolvedModel:
    sha = meta.get("sha256", "")
    return ResolvedModel(
        name=name,
        version=str(meta.get("version") or sha[:12]),
        sha256=sha,
        uri=uri,
        class_names=tuple(meta["class_names"]),
        image_size=int(meta["image_size"]),
        channels=int(meta["channels"]),
    )


def resolve_model(settings: Settings, ref: str, store=None) -> ResolvedModel:
    """'default', a checkpoint folder, or a published 'name' / 'name@version' (needs the store)."""
    if ref == "default":
        return _resolved(
            "default",
            read_checkpoint_meta(settings.default_model.resolve()),
            str(settings.default_model.resolve()),
        )
    folder = Path(ref).expanduser()
    if folder.is_dir():
        return _resolved(folder.name, read_checkpoint_meta(folder.resolve()), str(folder.resolve()))
    name, _, version = ref.partition("@")
    if not NAME_RE.match(name) or (version and not NAME_RE.match(version)):
        raise SpecError(
            "model",
            f"{ref!r} is neither 'default', a checkpoint folder, nor a model name[@version]",
        )
    if store is None:
        store = create_store(settings)
    meta = published_meta(store, name, version or None)
    return _resolved(name, meta, f"{BUCKET_SCHEME}{version_prefix(name, meta['version'])}")


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


def published_meta(store, name: str, version: str | None) -> dict:
    versions = published_versions(store, name).get(name, [])
    if not versions:
        raise SpecError("model", f"no published model {name!r} (see `assetgen models list`)")
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


def publish(store, checkpoint: Path, name: str, version: str | None = None) -> dict:
    """Upload a verified checkpoint as models/<name>/<version>/; versions are immutable."""
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
    store.put_new(
        prefix + FILES[0],
        (folder / FILES[0]).read_bytes(),
        "application/octet-stream",
        {"sha256-weights": meta["sha256"]},
    )
    store.put_new(
        prefix + FILES[1],
        json.dumps(meta, indent=1, sort_keys=True).encode(),
        "application/json",
        {},
    )
    return meta


def fetch_published(store, uri: str, cache_dir: Path) -> Path:
    """Download a published version (bucket:models/<name>/<version>/) into cache_dir once."""
    prefix = uri.removeprefix(BUCKET_SCHEME)
    folder = cache_dir / prefix
    if not (folder / FILES[1]).exists():
        folder.mkdir(parents=True, exist_ok=True)
        # catalogue fill's scorer, when the version has one (lazy: gan imports torch, as above)
        from gan.classifier import CLASSIFIER_FILES

        extra = CLASSIFIER_FILES if store.head(prefix + CLASSIFIER_FILES[1]) is not None else ()
        # generator JSON last, so a half-finished download is never taken for a model
        for fname in (*extra, *FILES):
            tmp = folder / f".{fname}.tmp"
            tmp.write_bytes(store.get(prefix + fname))
            tmp.replace(folder / fname)
    return folder
