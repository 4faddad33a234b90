"""`assetgen submit catalogue-fill`, `assetgen catalogue status` and `assetgen catalogue export`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobs.db.tables import Job
from jobs.kinds.base import CliApp
from jobs.kinds.catalogue_fill.export import ALT_TEXTS, EXPORT_FORMATS, export_job
from jobs.kinds.catalogue_fill.platforms import CHOICES, resolve_format
from jobs.kinds.catalogue_fill.platforms.common import as_text
from jobs.kinds.catalogue_fill.rows import (
    MAX_FILE_BYTES,
    MAX_MAPPING_BYTES,
    STATES,
    CatalogueFileError,
    parse_mapping,
)
from jobs.kinds.catalogue_fill.state import sku_rows, state_counts
from jobs.settings import PRIORITIES
from jobs.specs import FORMATS, UPSCALE_MODES
from jobs.storage import create_store


def read_text(path: Path, what: str, limit: int = MAX_MAPPING_BYTES, name: str = "") -> str:
    """A bounded UTF-8 text file, or a click error naming it (and the limit's constant)."""
    if path.stat().st_size > limit:
        raise click.BadParameter(
            f"{path}: {path.stat().st_size} bytes is over the limit of {limit} bytes"
            + (f" ({name})" if name else ""),
            param_hint=what,
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{path}: not UTF-8 text (byte {exc.start})", param_hint=what
        ) from None


def catalogue_spec(
    catalogue: Path, mapping: Path | None, catalogue_format: str = "auto", **options
) -> dict:
    """The catalogue_fill spec for a catalogue file and an optional mapping file.

    The file's text goes into the spec (``catalogue``), read at submit by the same reader as the
    HTTP API's; here only its header is read, to name (``auto``) or refuse its format early."""
    text = as_text(read_text(catalogue, "--catalogue", MAX_FILE_BYTES, "MAX_CATALOGUE_BYTES"))
    try:
        chosen = resolve_format(text, catalogue_format)
    except CatalogueFileError as exc:
        raise click.BadParameter(f"{catalogue}: {exc}", param_hint="--catalogue") from None
    if catalogue_format == "auto":
        click.echo(f"catalogue format: {chosen} (from the header of {catalogue.name})", err=True)
    spec = {
        "kind": "catalogue_fill",
        "catalogue": text,
        "catalogue_format": chosen,
        **{k: v for k, v in options.items() if v is not None},
    }
    if mapping is not None:
        try:
            spec["mapping"] = parse_mapping(read_text(mapping, "--mapping"))
        except CatalogueFileError as exc:
            raise click.BadParameter(f"{mapping}: {exc}", param_hint="--mapping") from None
    return spec


_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("catalogue-fill")
@click.option(
    "--catalogue",
    required=True,
    type=_file,
    help="CSV (header sku,category[,title][,image]), JSON lines, or a Shopify, Magento 2 or "
    "WooCommerce product export.",
)
@click.option(
    "--catalogue-format",
    type=click.Choice(CHOICES),
    default="auto",
    show_default=True,
    help="How to read the file; auto: by its header row (printed on stderr).",
)
@click.option(
    "--mapping",
    type=_file,
    help='Category -> model class: a JSON object {"Sneakers": "shoe"} or CSV; for a platform '
    'export a key may be a path ("Men/Tops/Jackets") or a segment.',
)
@click.option("--size", type=int, help="Square tile side in pixels [800].")
@click.option(
    "--background",
    help="The tile's field: sample (the sample's own border colour) or #RRGGBB, the product cut "
    "out onto that colour (#FFFFFF for marketplaces) [sample].",
)
@click.option(
    "--candidates", type=int, help="Candidates per SKU; the best by quality score is kept [4]."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format [jpeg].")
@click.option(
    "--upscale",
    type=click.Choice(UPSCALE_MODES),
    help="x4 upscaler for the chosen candidate: auto (where the tile is over 2x the sample), off, "
    "x4 [auto].",
)
@click.option(
    "--delete-superseded",
    is_flag=True,
    default=None,
    help="Delete a SKU's synthetic image once a real one has arrived (else only marked).",
)
@click.option(
    "--skus-per-item", type=int, help="SKUs per work item (the unit of parallelism) [64]."
)
@click.option("--model", help="'default', a published name[@version], or a checkpoint folder.")
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--wait", is_flag=True, help="Wait for the job with a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_obj
def catalogue_fill(
    app: CliApp,
    catalogue,
    catalogue_format,
    mapping,
    size,
    background,
    candidates,
    fmt,
    upscale,
    delete_superseded,
    skus_per_item,
    model,
    priority,
    wait,
    as_json,
):
    """A synthetic image for every SKU of a catalogue that has none (see README: Catalogue fill)."""
    spec = catalogue_spec(
        catalogue,
        mapping,
        catalogue_format,
        size=size,
        background=background,
        candidates=candidates,
        format=fmt,
        upscale=upscale,
        delete_superseded=delete_superseded,
        skus_per_item=skus_per_item,
        model=model,
        priority=priority,
    )
    app.submit_spec(spec, wait, as_json)


@click.group("catalogue")
def catalogue():
    """The catalogue state of every SKU catalogue-fill jobs have read."""


@catalogue.command("export")
@click.argument("job_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="The importer's format [the platform the job's catalogue came from; csv for a generic "
    "one].",
)
@click.option(
    "--base-url",
    help="Public URL of the bucket (a CDN in front of it): URL = BASE/KEY. Default: presigned "
    "URLs, valid ASSETGEN_PRESIGN_SECONDS.",
)
@click.option(
    "--language",
    type=click.Choice(tuple(ALT_TEXTS)),
    default="en",
    show_default=True,
    help="Language of the alt text / label saying the image is synthetic.",
)
@click.option("--alt-text", help="The alt text / label itself (instead of --language's).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here [stdout].")
@click.pass_obj
def catalogue_export(app: CliApp, job_id, fmt, base_url, language, alt_text, out):
    """The import file attaching a catalogue-fill job's synthetic images (see README: Catalogue
    fill): one row per generated product; a SKU whose synthetic image was superseded by a real
    photo is left out."""
    sf = app.session_factory()
    with sf() as s:
        job = s.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id!r}")
    try:
        done = export_job(
            sf,
            create_store(app.settings),
            job,
            fmt,
            base_url=base_url,
            language=language,
            alt=alt_text,
            presign_seconds=app.settings.presign_seconds,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        click.echo(done.file.text, nl=False)
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            fh.write(done.file.text)
    where = f" to {out}" if out else ""
    click.echo(f"{done.file.rows} row(s) in {done.file.format} format{where}", err=True)
    for sku, why in done.file.left_out:
        click.echo(f"left out {sku}: {why}", err=True)
    if done.expires_at is not None:
        click.echo(
            f"presigned URLs expire at {done.expires_at.isoformat(timespec='seconds')} "
            f"(in {done.expires_in} s); give --base-url for lasting ones",
            err=True,
        )


@catalogue.command("status")
@click.option("--sku", help="Only this SKU.")
@click.option("--state", type=click.Choice(STATES), help="Only SKUs in this state.")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=100, show_default=True, help="Rows listed."
)
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
        note = (
            " (superseded synthetic" + (", deleted)" if r["synthetic_deleted"] else ")")
            if r["superseded_at"]
            else ""
        )
        click.echo(
            f"{r['sku']:<24} {r['state']:<9} {str(r['model_class'] or '-'):<12}{score}{note}"
            f"{'  ' + r['reason'] if r['reason'] else ''}"
        )


def _row(r) -> dict:
    return {
        "sku": r.sku,
        "state": r.state,
        "category": r.category,
        "model_class": r.model_class,
        "title": r.title,
        "reason": r.reason,
        "synthetic_key": r.synthetic_key,
        "score": r.score,
        "seed": r.seed,
        "model_version": r.model_version,
        "superseded_at": r.superseded_at.isoformat() if r.superseded_at else None,
        "synthetic_deleted": r.synthetic_deleted,
        "job_id": r.job_id,
        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
    }
