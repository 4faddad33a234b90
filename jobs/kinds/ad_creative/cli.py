"""`assetgen submit ad-creative`: the spec from flags, optionally starting from a spec file."""

from __future__ import annotations

import json

import click

from jobs.kinds.base import CliApp
from jobs.layout.formats import FORMATS
from jobs.settings import PRIORITIES
from jobs.specs import FORMATS as FILE_FORMATS
from jobs.specs import UPSCALE_MODES

_COLOUR = "a #RRGGBB colour"


def base_spec(spec_file) -> dict:
    """The spec file's JSON object (or an empty one), as an ad_creative spec."""
    if spec_file is None:
        return {"kind": "ad_creative"}
    try:
        spec = json.loads(spec_file.read())
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON: {exc.msg} at line {exc.lineno}", param_hint="--spec"
        ) from None
    if not isinstance(spec, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--spec")
    return {**spec, "kind": "ad_creative"}


def merge(spec: dict, section: str | None, values: dict) -> None:
    """Set the given (not None) values at the top level or in a nested section (copy, brand)."""
    given = {k: v for k, v in values.items() if v is not None}
    if section is None:
        spec.update(given)
    elif given:
        spec[section] = {**(spec.get(section) or {}), **given}


@click.command("ad-creative")
@click.option(
    "--spec",
    "spec_file",
    type=click.File("rb"),
    help="Spec JSON to start from ('-': stdin); flags override it.",
)
@click.option("--category", help="Class of the model (e.g. shoe).")
@click.option(
    "--sku", help="Instead of --category: a SKU whose category a catalogue-fill job recorded."
)
@click.option("--variants", type=int, help="Products, each rendered in every format [1].")
@click.option(
    "--candidates",
    type=int,
    help="Generator samples per variant; the best by quality score (the model's classifier) is "
    "drawn [4].",
)
@click.option("--formats", help=f"Comma-separated: {', '.join(FORMATS)} or WxH (e.g. 640x480).")
@click.option("--headline", help="The headline (required, wrapped and sized per format).")
@click.option("--subline", help="An optional second line.")
@click.option("--cta", help="The call-to-action button text (required).")
@click.option("--badge", help='An optional price or badge ("$49", "-30%").')
@click.option("--background", help=f"Brand background, {_COLOUR} [#FFFFFF].")
@click.option("--text-colour", help=f"Headline and subline colour, {_COLOUR} [#1A1A1A].")
@click.option("--accent", help=f"Button and badge colour, {_COLOUR} [#1F4E99].")
@click.option("--accent-text", help=f"Button and badge text colour, {_COLOUR} [#FFFFFF].")
@click.option(
    "--logo", help="Bucket key of the brand logo (PNG/JPEG/WebP), e.g. brand/acme/logo.png."
)
@click.option("--file-format", type=click.Choice(FILE_FORMATS), help="Output encoding [jpeg].")
@click.option(
    "--upscale",
    type=click.Choice(UPSCALE_MODES),
    help="x4 upscaler before the layout: auto (where a product slot is over 2x the sample), off, "
    "x4 [auto].",
)
@click.option("--model", help="'default', a published name[@version], or a checkpoint folder.")
@click.option(
    "--seed", type=int, help="Seed base of the variants (default: the job id, i.e. fresh products)."
)
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--wait", is_flag=True, help="Wait for the job with a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.pass_obj
def ad_creative(
    app: CliApp,
    spec_file,
    formats,
    headline,
    subline,
    cta,
    badge,
    background,
    text_colour,
    accent,
    accent_text,
    logo,
    wait,
    as_json,
    **top,
):
    """Ad creatives: VARIANTS products of a category, each in every format, with copy and a brand
    kit (see README: Ad creatives). Every check (copy fit per format, WCAG contrast) runs before
    submit."""
    spec = base_spec(spec_file)
    merge(spec, None, {**top, "formats": formats.split(",") if formats else None})
    merge(spec, "copy", {"headline": headline, "subline": subline, "cta": cta, "badge": badge})
    merge(
        spec,
        "brand",
        {
            "background": background,
            "text": text_colour,
            "accent": accent,
            "accent_text": accent_text,
            "logo": logo,
        },
    )
    app.submit_spec(spec, wait, as_json)
