"""A browsable index.html of finished jobs, built from their manifests in a local bucket."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>assetgen results</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;background:#fafafa;color:#222}}
section{{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin-bottom:1em}}
h2{{font-size:15px;margin:0 0 .5em}} .meta{{color:#666;font-size:12px}}
img{{width:96px;height:96px;image-rendering:pixelated;margin:2px;border:1px solid #eee;background:#fff}}
.failed{{color:#b00}}</style></head><body><h1>assetgen results</h1>{sections}</body></html>"""


def _section(manifest: dict, bucket: Path, out_dir: Path) -> str:
    model = manifest["model"]
    images = "".join(
        f'<img src="{html.escape(os.path.relpath(bucket / a["key"], out_dir))}" '
        f'title="{html.escape(a["key"])} seed {a["seed"]}" alt="{html.escape(a["category"])}">'
        for a in manifest["assets"])
    failed = "".join(f'<p class="failed">item {f["index"]}: {html.escape(f["error_code"] or "")} '
                     f'{html.escape(f["error_message"] or "")}</p>' for f in manifest["failed_items"])
    spec = manifest["spec"]
    manifest_href = os.path.relpath(bucket / "jobs" / manifest["job_id"] / "manifest.json", out_dir)
    return (f'<section><h2>{html.escape(spec.get("category", manifest["kind"]))} - {manifest["status"]}</h2>'
            f'<div class="meta">job {manifest["job_id"]} | {len(manifest["assets"])} images | model '
            f'{html.escape(model["name"])}@{html.escape(model["version"])} | '
            f'<a href="{html.escape(manifest_href)}">manifest.json</a></div>{images}{failed}</section>')


def write_contact_sheet(bucket: Path, job_ids: list[str], out_dir: Path) -> Path:
    """Write out_dir/index.html with one section per job (in the order given)."""
    sections = []
    for job_id in job_ids:
        path = bucket / "jobs" / job_id / "manifest.json"
        if path.exists():
            sections.append(_section(json.loads(path.read_text()), bucket, out_dir))
        else:
            sections.append(f"<section><h2>job {job_id}</h2><p class=failed>no manifest: not finished</p></section>")
    index = out_dir / "index.html"
    index.write_text(PAGE.format(sections="".join(sections)))
    return index
