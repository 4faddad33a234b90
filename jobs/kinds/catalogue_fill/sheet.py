"""The contact-sheet view of a catalogue-fill job: the tiles, then every row's outcome."""

from __future__ import annotations

from jobs.kinds.base import Src, escape


def sheet_title(manifest: dict) -> str:
    return "catalogue fill"


def contact_sheet(manifest: dict, src: Src) -> str:
    tiles = "".join(
        f'<figure><img class="sku" src="{src(a["key"])}" alt="{escape(a.get("sku"))}">'
        f"<figcaption>{escape(a.get('sku'))} score {a.get('score', 0):.2f}</figcaption></figure>"
        for a in manifest["assets"]
    )
    report = manifest.get("catalogue", {})
    rows = "".join(
        f'<tr class="{escape(r.get("outcome"))}"><td>{escape(r.get("row"))}</td>'
        f"<td>{escape(r.get('sku'))}</td><td>{escape(r.get('outcome'))}</td>"
        f"<td>{escape(r.get('reason') or '')}</td></tr>"
        for r in report.get("rows", [])
    )
    counts = ", ".join(f"{k} {v}" for k, v in report.get("counts", {}).items())
    return (
        f'<div class="meta">rows: {escape(counts)}</div><div class="variant">{tiles}</div>'
        "<table><tr><th>row</th><th>sku</th><th>outcome</th><th>reason</th></tr>"
        f"{rows}</table>"
    )
