"""A browsable index.html of finished jobs, built from their manifests in a local bucket.

Each job kind brings the view a person wants (``JobKind.contact_sheet``): a grid of generated
images, every ad-creative variant in all its formats at their real proportions, catalogue tiles
with each row's outcome. This module is the page around them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from jobs.kinds.base import Src, category_title, escape, image_grid
from jobs.kinds.registry import get_kind, kind_names

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>assetgen results</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;background:#fafafa;color:#222}}
section{{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin-bottom:1em}}
h2{{font-size:15px;margin:0 0 .5em}} .meta{{color:#666;font-size:12px;margin-bottom:.5em}}
img{{margin:2px;border:1px solid #eee;background:#fff;vertical-align:top}}
img.tile{{width:96px;height:96px;image-rendering:pixelated}}
.variant{{display:flex;flex-wrap:wrap;align-items:flex-start;gap:8px;margin:.5em 0}}
figure{{margin:0;font-size:11px;color:#555}} figure img.ad{{max-height:200px;max-width:260px}}
figure img.sku{{width:128px;height:128px}}
table{{border-collapse:collapse;font-size:12px;margin-top:.5em}} \
td,th{{border:1px solid #ddd;padding:2px 6px}}
.failed,.rejected{{color:#b00}} .skipped{{color:#666}}</style></head>
<body><h1>assetgen results</h1>{sections}</body></html>"""


def _src(bucket: Path, key: str, out_dir: Path) -> str:
    return escape(os.path.relpath(bucket / key, out_dir))


def _view(kind: str) -> tuple[Callable[[dict], str], Callable[[dict, Src], str]]:
    """The kind's section title and body (a kind no longer registered: a grid of its images)."""
    if kind not in kind_names():
        return category_title, image_grid
    job_kind = get_kind(kind)
    return job_kind.sheet_title, job_kind.contact_sheet


def _section(manifest: dict, bucket: Path, out_dir: Path) -> str:
    model = manifest["model"]
    title, view = _view(manifest["kind"])
    body = view(manifest, lambda key: _src(bucket, key, out_dir))
    failed = "".join(
        f'<p class="failed">item {f["index"]}: {escape(f["error_code"] or "")} '
        f"{escape(f['error_message'] or '')}</p>"
        for f in manifest["failed_items"]
    )
    manifest_href = _src(bucket, f"jobs/{manifest['job_id']}/manifest.json", out_dir)
    return (
        f"<section><h2>{escape(title(manifest))} - {escape(manifest['status'])}</h2>"
        f'<div class="meta">{escape(manifest["kind"])} job {escape(manifest["job_id"])} | '
        f"{len(manifest['assets'])} "
        f"objects | model {escape(model['name'])}@{escape(model['version'])} | "
        f'<a href="{manifest_href}">manifest.json</a></div>{body}{failed}</section>'
    )


def write_contact_sheet(bucket: Path, job_ids: list[str], out_dir: Path) -> Path:
    """Write out_dir/index.html with one section per job (in the order given)."""
    sections = []
    for job_id in job_ids:
        path = bucket / "jobs" / job_id / "manifest.json"
        if path.exists():
            sections.append(_section(json.loads(path.read_text()), bucket, out_dir))
        else:
            sections.append(
                f"<section><h2>job {escape(job_id)}</h2>"
                "<p class=failed>no manifest: not finished</p></section>"
            )
    index = out_dir / "index.html"
    index.write_text(PAGE.format(sections="".join(sections)))
    return index
