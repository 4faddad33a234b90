"""`assetgen models publish|list|show|classifier|tone`: generators published to the bucket under
models/<name>/<version>/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gan.checkpoint import CheckpointError
from gan.cli import classifier_command
from gan.tone_cli import tone_command
from jobs.cli.context import AppContext
from jobs.model_registry import (
    builtin_names,
    fetch_published,
    publish,
    published_meta,
    published_versions,
    resolve_model,
    upscaler_to_publish,
)
from jobs.specs import SpecError
from jobs.storage import Store, create_store


def _store(app: AppContext) -> Store:
    return create_store(app.settings)


def published_resolver(app: AppContext):
    """For `generate` / `evaluate` / `bench gan`: a published name[@version] -> a verified local
    folder."""

    def resolve(ref: str) -> Path:
        try:
            model = resolve_model(app.settings, ref, _store(app))
        except SpecError as exc:
            raise click.BadParameter(exc.message, param_hint="--model") from None
        if not model.uri.startswith("bucket:"):
            return Path(model.uri)
        return fetch_published(_store(app), model.uri, app.settings.resolved_home() / "model-cache")

    return resolve


def resolve_published(ref: str) -> Path:
    """published_resolver of the running command's context (the gan commands take this)."""
    return published_resolver(click.get_current_context().ensure_object(AppContext))(ref)


@click.group()
def models():
    """Publish generators to the bucket and list them (jobs name them as name or name@version)."""


@models.command("publish")
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.option("--name", required=True, help="Model name (a-z, 0-9, . _ -).")
@click.option("--version", help="Version label (default: v<N+1>). Versions are immutable.")
@click.option(
    "--upscaler",
    type=click.Path(exists=True, path_type=Path),
    help="The x4 upscaler published with it (a folder or its upscaler.json) [the one beside "
    "CHECKPOINT, else the default upscaler].",
)
@click.pass_obj
def models_publish(app, checkpoint: Path, name: str, version: str | None, upscaler: Path | None):
    """Verify CHECKPOINT (sha256) and upload it as models/<name>/<version>/, with its upscaler."""
    if name == "default" or name in builtin_names(app.settings):
        raise click.ClickException(
            f"{name!r} names the default or a built-in model, which jobs would take instead; "
            "publish under another name"
        )
    carried = upscaler_to_publish(app.settings, checkpoint, upscaler)
    try:
        meta = publish(_store(app), checkpoint, name, version, carried)
    except (SpecError, CheckpointError) as exc:
        raise click.ClickException(str(exc)) from None
    up = meta.get("upscaler")
    click.echo(
        f"published {name}@{meta['version']} (sha256 {meta['sha256'][:12]}"
        + (f"; upscaler sha256 {up['sha256'][:12]}" if up else "; no upscaler")
        + ")"
    )


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_list(app, as_json: bool):
    """Published models, their versions and evaluation numbers."""
    found = published_versions(_store(app))
    if as_json:
        click.echo(json.dumps({n: [_summary(m) for m in v] for n, v in found.items()}, indent=1))
        return
    if not found:
        click.echo("no published models (assetgen models publish CHECKPOINT --name NAME)")
    for name, versions in found.items():
        for m in versions:
            s = _summary(m)
            click.echo(
                f"{name}@{s['version']:<10} {s['image_size']}px x{s['channels']} "
                f"{s['classes']:>3} classes  "
                f"{s['published_at'][:19]}  {json.dumps(s['metrics'])[:80]}"
            )


def _summary(meta: dict) -> dict:
    metrics = meta.get("metrics") or {}
    return {
        "version": meta["version"],
        "sha256": meta["sha256"],
        "image_size": meta["image_size"],
        "channels": meta["channels"],
        "classes": len(meta["class_names"]),
        "published_at": meta["published_at"],
        "upscaler": (meta.get("upscaler") or {}).get("sha256"),
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))},
    }


@models.command("show")
@click.argument("ref")
@click.pass_obj
def models_show(app, ref: str):
    """The full metadata of NAME or NAME@VERSION (the latest version by default)."""
    name, _, version = ref.partition("@")
    try:
        click.echo(
            json.dumps(published_meta(_store(app), name, version or None), indent=1, sort_keys=True)
        )
    except SpecError as exc:
        raise click.ClickException(exc.message) from None


models.add_command(classifier_command, "classifier")
models.add_command(tone_command, "tone")
