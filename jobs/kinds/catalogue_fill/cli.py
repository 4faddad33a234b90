"""`assetgen submit catalogue-fill` and `assetgen catalogue status`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from jobs.kinds.base import CliApp
from jobs.kinds.catalogue_fill.rows import (MAX_FILE_BYTES, STATES, CatalogueFileError, parse_catalogue,
                                            parse_mapping)
from jobs.kinds.catalogue_fill.state import sku_rows, state_counts
from jobs.settings import PRIORITIES
from jobs.specs import FORMATS


def read_text(path: Path, what: str) -> str:
    """A bounded UTF-8 text file, or a click error naming it."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise click.BadParameter(f"{path}: {path.stat().st_size} bytes is over the limit of {MAX_FILE_BYTES}",
                                 param_hint=what)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path}: not UTF-8 text (byte {exc.start})", param_hint=what) from None


def catalogue_spec(catalogue: Path, mapping: Path | None, **options) -> dict:
    """The catalogue_fill spec for a catalogue file (CSV or JSON lines) and an optional mapping file."""
    try:
        rows = parse_catalogue(read_text(catalogue, "--catalogue"))
    except CatalogueFileError as exc:
        raise click.BadParameter(f"{catalogue}: {exc}", param_hint="--catalogue") from None
    spec = {"kind": "catalogue_fill", "rows": rows, **{k: v for k, v in options.items() if v is not None}}
    if mapping is not None:
        try:
            spec["mapping"] = parse_mapping(read_text(mapping, "--mapping"))
        except CatalogueFileError as exc:
            raise click.BadParameter(f"{mapping}: {exc}", param_hint="--mapping") from None
    return spec


_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("catalogue-fill")
@click.option("--catalogue", required=True, type=_file, help="CSV (header sku,category[,title][,image]) or JSON lines.")
@click.option("--mapping", type=_file, help='Category -> model class: a JSON object {"Sneakers": "sneaker"} or CSV.')
@click.option("--size", type=int, help="Square tile side in pixels [800].")
@click.option("--candidates", type=int, help="Candidates per SKU; the best by quality score is kept [4].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format [jpeg].")
@click.option("--delete-superseded", is_flag=True, default=None,
              help="Delete a SKU's synthetic image once a real one has arrived (else only marked).")
@click.option("--skus-per-item", type=int, help="SKUs per work item (the unit of parallelism) [64].")
@click.option("--model", help="'default', a published name[@version], or a checkpoint folder.")
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--wait", is_flag=True, help="Wait for the job with a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_obj
def catalogue_fill(app: CliApp, catalogue, mapping, size, candidates, fmt, delete_superseded, skus_per_item, model,
                   priority, wait, as_json):
    """A synthetic image for every SKU of a catalogue that has none (see README: Catalogue fill)."""
    spec = catalogue_spec(catalogue, mapping, size=size, candidates=candidates, format=fmt,
                          delete_superseded=delete_superseded, skus_per_item=skus_per_item, model=model,
                          priority=priority)
    app.submit_spec(spec, wait, as_json)


@click.group("catalogue")
def catalogue():
    """The catalogue state of every SKU catalogue-fill jobs have read."""


@catalogue.command("status")
@click.option("--sku", help="Only this SKU.")
@click.option("--state", type=click.Choice(STATES), help="Only SKUs in this state.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True, help="Rows listed.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def catalogue_status(app: CliApp, sku, state, limit, as_json):
    """Counts per state (missing, synthetic, real, rejected) and the SKUs, sorted by SKU."""
    sf = app.session_factory()
    rows = [_row(r) for r in sku_rows(sf, sku, state, limit)]
    counts = state_counts(sf)
    if as_json:
        click.echo(json.dumps({"counts": counts, "skus": rows}, indent=1))
        return
    click.echo("  ".join(f"{k}: {v}" for k, v in counts.items()))
    for r in rows:
        score = "" if r["score"] is None else f" score {r['score']:.3f}"
        note = " (superseded synthetic" + (", deleted)" if r["synthetic_deleted"] else ")") \
            if r["superseded_at"] else ""
        click.echo(f"{r['sku']:<24} {r['state']:<9} {str(r['model_class'] or '-'):<12}{score}{note}"
                   f"{'  ' + r['reason'] if r['reason'] else ''}")


def _row(r) -> dict:
    return {"sku": r.sku, "state": r.state, "category": r.category, "model_class": r.model_class,
            "title": r.title, "reason": r.reason, "synthetic_key": r.synthetic_key, "score": r.score,
            "seed": r.seed, "model_version": r.model_version,
            "superseded_at": r.superseded_at.isoformat() if r.superseded_at else None,
            "synthetic_deleted": r.synthetic_deleted, "job_id": r.job_id,
            "updated_at": r.updated_at.isoformat() if r.updated_at else None}
