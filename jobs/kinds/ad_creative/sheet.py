"""The contact-sheet view of an ad-creative job: every variant in all its formats, at their real
proportions."""

from __future__ import annotations

from jobs.kinds.base import Src, escape


def sheet_title(manifest: dict) -> str:
    spec = manifest["spec"]
    return f'ad creative: {spec.get("category") or spec.get("sku")} - "{spec["copy"]["headline"]}"'


def contact_sheet(manifest: dict, src: Src) -> str:
    variants: dict[int, list[dict]] = {}
    for a in manifest["assets"]:
        variants.setdefault(a.get("variant", 0), []).append(a)
    return "".join(
        f'<div class="variant"><b>variant {v}</b>'
        + "".join(
            f'<figure><img class="ad" src="{src(a["key"])}" alt="{escape(a.get("format"))}">'
            f"<figcaption>{escape(a.get('format'))} {a['width']}x{a['height']}</figcaption>"
            "</figure>"
            for a in assets
        )
        + "</div>"
        for v, assets in sorted(variants.items())
    )
