"""A browsable index.html of finished jobs, built from their manifests in a local bucket.

Each job kind gets the view a person wants: a grid of generated images, every ad-creative
variant in all its formats at their real proportions, catalogue tiles with each row's outcome.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>assetgen results</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;background:#fafafa;color:#222}}
section{{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin-bottom:1em}}
h2{{font-size:15px;margin:0 0 .5em}} .meta{{color:#666;font-size:12px;margin-bottom:.5em}}
img{{margin:2px;border:1px solid #eee;background:#fff;vertical-align:top}}
img.tile{{width:96px;height:96px;image-rendering:pixelated}}
.variant{{display:flex;flex-wrap:wrap;align-items:flex-start;gap:8px;margin:.5em 0}}
figure{{margin:0;font-size:11px;color:#555}} figure img.ad{{max-height:200px;max-width:260px}}
figure img.sku{{width:128px;height:128px}}
table{{border-collapse:collapse;font-size:12px;margin-top:.5em}} td,th{{border:1px solid #ddd;padding:2px 6px}}
.failed,.rejected{{color:#b00}} .skipped{{color:#666}}</style></head>
<body><h1>assetgen results</h1>{sections}</body></html>"""


def _e(value) -> str:
    return html.escape(str(value))


def _src(bucket: Path, key: str, out_dir: Path) -> str:
    return _e(os.path.relpath(bucket / key, out_dir))


def _generated(manifest: dict, bucket: Path, out_dir: Path) -> str:
    return "".join(f'<img class="tile" src="{_src(bucket, a["key"], out_dir)}" title="{_e(a["key"])} seed '
                   f'{a["seed"]}" alt="{_e(a["category"])}">' for a in manifest["assets"])


def _ad_creatives(manifest: dict, bucket: Path, out_dir: Path) -> str:
    variants: dict[int, list[dict]] = {}
    for a in manifest["assets"]:
        variants.setdefault(a.get("variant", 0), []).append(a)
    return "".join(
        f'<div class="variant"><b>variant {v}</b>' + "".join(
            f'<figure><img class="ad" src="{_src(bucket, a["key"], out_dir)}" alt="{_e(a.get("format"))}">'
            f'<figcaption>{_e(a.get("format"))} {a["width"]}x{a["height"]}</figcaption></figure>' for a in assets)
        + "</div>" for v, assets in sorted(variants.items()))


def _catalogue(manifest: dict, bucket: Path, out_dir: Path) -> str:
    tiles = "".join(
        f'<figure><img class="sku" src="{_src(bucket, a["key"], out_dir)}" alt="{_e(a.get("sku"))}">'
        f'<figcaption>{_e(a.get("sku"))} score {a.get("score", 0):.2f}</figcaption></figure>'
        for a in manifest["assets"])
    report = manifest.get("catalogue", {})
    rows = "".join(f'<tr class="{_e(r.get("outcome"))}"><td>{_e(r.get("row"))}</td><td>{_e(r.get("sku"))}</td>'
                   f'<td>{_e(r.get("outcome"))}</td><td>{_e(r.get("reason") or "")}</td></tr>'
                   for r in report.get("rows", []))
    counts = ", ".join(f"{k} {v}" for k, v in report.get("counts", {}).items())
    return (f'<div class="meta">rows: {_e(counts)}</div><div class="variant">{tiles}</div>'
            f"<table><tr><th>row</th><th>sku</th><th>outcome</th><th>reason</th></tr>{rows}</table>")


VIEWS = {"generate": _generated, "ad_creative": _ad_creatives, "catalogue_fill": _catalogue}


def _title(manifest: dict) -> str:
    spec = manifest["spec"]
    if manifest["kind"] == "ad_creative":
        return f'ad creative: {spec.get("category") or spec.get("sku")} - "{spec["copy"]["headline"]}"'
    if manifest["kind"] == "catalogue_fill":
        return "catalogue fill"
    return spec.get("category", manifest["kind"])


def _section(manifest: dict, bucket: Path, out_dir: Path) -> str:
    model = manifest["model"]
    body = VIEWS.get(manifest["kind"], _generated)(manifest, bucket, out_dir)
    failed = "".join(f'<p class="failed">item {f["index"]}: {_e(f["error_code"] or "")} '
                     f'{_e(f["error_message"] or "")}</p>' for f in manifest["failed_items"])
    manifest_href = _src(bucket, f'jobs/{manifest["job_id"]}/manifest.json', out_dir)
    return (f'<section><h2>{_e(_title(manifest))} - {_e(manifest["status"])}</h2>'
            f'<div class="meta">{_e(manifest["kind"])} job {_e(manifest["job_id"])} | {len(manifest["assets"])} '
            f'objects | model {_e(model["name"])}@{_e(model["version"])} | '
            f'<a href="{manifest_href}">manifest.json</a></div>{body}{failed}</section>')


def write_contact_sheet(bucket: Path, job_ids: list[str], out_dir: Path) -> Path:
    """Write out_dir/index.html with one section per job (in the order given)."""
    sections = []
    for job_id in job_ids:
        path = bucket / "jobs" / job_id / "manifest.json"
        if path.exists():
            sections.append(_section(json.loads(path.read_text()), bucket, out_dir))
        else:
            sections.append(f"<section><h2>job {_e(job_id)}</h2><p class=failed>no manifest: not finished</p></section>")
    index = out_dir / "index.html"
    index.write_text(PAGE.format(sections="".join(sections)))
    return index
