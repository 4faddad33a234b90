"""Choose a run's snapshot on the VALIDATION split, never the test split.

Every `snapshots/step_XXXXXXX/` of each run folder is scored by one evaluation context
(gan.evaluate.prepare: the fit-trained extractors, the validation images) in every feature
space; the pick minimises the geometric mean over extractors of FD / the real reference's FD,
so no single extractor decides. Writes OUT (JSON: every snapshot's numbers and the picks).

With --baseline-report (this script's report of the baseline run, e.g. the classic DCGAN) the
pick follows a target that asks for FD *and* recall against that baseline: among the snapshots
with lower FD than the baseline's pick in every space, the one whose smallest recall margin over
it (across the spaces) is largest (docs/gan.md, *Ninth try*).

    python scripts/select_snapshot.py --data ../shared/data/products-rgb \\
        --runs runs/rgb64 runs/dcgan64 --per-class 50 --out docs/rgb64-selection.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from gan.checkpoint import load_generator
from gan.evaluate import CLASS_MIXES, evaluate, evaluate_baseline, prepare_for, real_reference


def snapshots(run: Path, every: int, last: int = 0) -> list[Path]:
    snaps = sorted((run / "snapshots").glob("step_*/generator.json"))
    picked = [p.parent for p in snaps][::-1][::every][::-1]  # the newest always included
    return picked[-last:] if last else picked


def fd_score(blocks: dict) -> float:
    """Geometric mean over extractors of FD(generated) / FD(real reference)."""
    logs = [
        math.log(
            max(b["generated"]["frechet_distance"], 1e-12)
            / max(b["real"]["frechet_distance"], 1e-12)
        )
        for b in blocks.values()
    ]
    return math.exp(sum(logs) / len(logs))


def recall_margin(row: dict, baseline: dict) -> float:
    """The row's smallest recall lead over the baseline row across the feature spaces."""
    return min(row["recall"][n] - baseline["recall"][n] for n in baseline["recall"])


def recall_margin_pick(rows: list[dict], baseline: dict) -> dict | None:
    """Among rows with lower FD than the baseline row in every space, the one whose smallest
    recall margin over it is largest (None when no row has lower FD everywhere)."""
    eligible = [r for r in rows if all(r["fd"][n] < baseline["fd"][n] for n in baseline["fd"])]
    return max(eligible, key=lambda r: recall_margin(r, baseline)) if eligible else None


def baseline_row(report: Path) -> dict:
    """The picked snapshot's row of a report of this script (the baseline run's)."""
    runs = json.loads(report.read_text())["runs"]
    picks = [r for v in runs.values() for r in v["snapshots"] if r["snapshot"] == v["pick"]]
    if len(picks) != 1:
        raise SystemExit(f"{report}: expected one run with a pick, found {len(picks)}")
    return picks[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", nargs="+", required=True, type=Path)
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument(
        "--class-mix",
        choices=CLASS_MIXES,
        default="held-out",
        help="how the generated set is shared out among the classes (gan.evaluate)",
    )
    ap.add_argument("--every", type=int, default=1, help="score every n-th snapshot")
    ap.add_argument("--last", type=int, default=0, help="score only the newest n (after --every)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument(
        "--baseline-report",
        type=Path,
        help="this script's report of the baseline run: pick by recall margin over its pick "
        "among snapshots with lower FD in every space (default: lowest FD geomean)",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="keep the rows of snapshots OUT already scored (same data, per-class, mix): rerun "
        "while a run trains, to score only its new snapshots",
    )
    a = ap.parse_args()
    if a.every < 1 or a.last < 0:
        ap.error("--every must be >= 1 and --last >= 0")
    base = baseline_row(a.baseline_report) if a.baseline_report else None
    torch.set_num_threads(1)
    ctx = None
    report: dict = {
        "data": a.data,
        "split": "val",
        "per_class": a.per_class,
        "class_mix": a.class_mix,
        "rule": "recall margin over " + base["snapshot"] if base else "lowest FD geomean",
        "runs": {},
    }
    done: dict[str, dict] = {}
    if a.reuse and a.out.is_file():
        old = json.loads(a.out.read_text())
        # Reports from before class mixes existed scored every class alike ("uniform").
        key = (old["data"], old["per_class"], old.get("class_mix", "uniform"))
        if key == (a.data, a.per_class, a.class_mix):
            done = {r["snapshot"]: r for v in old["runs"].values() for r in v["snapshots"]}
    for run in a.runs:
        rows = []
        for snap in snapshots(run, a.every, a.last):
            if str(snap) in done:
                rows.append(done[str(snap)])
                continue
            g, meta = load_generator(snap)
            if ctx is None:
                ctx = prepare_for(
                    meta, a.data, "val", a.per_class, cache_dir=a.cache_dir, class_mix=a.class_mix
                )
            if meta["model"].get("arch") == "dcgan":  # unconditional: no classes to request
                blocks = evaluate_baseline(g, ctx)["extractors"]
                real = real_reference(ctx)
                per = {n: {"generated": b, "real": real[n]} for n, b in blocks.items()}
            else:
                per = evaluate(g, meta, ctx=ctx)["extractors"]
            row = {
                "snapshot": str(snap),
                "step": meta["training"]["steps"],
                "images_seen": meta["training"].get("images_seen"),
                "fd_over_real_geomean": fd_score(per),
                "fd": {n: b["generated"]["frechet_distance"] for n, b in per.items()},
                "kid": {n: b["generated"]["kid"] for n, b in per.items()},
                "coverage": {n: b["generated"]["coverage"] for n, b in per.items()},
                "recall": {n: b["generated"]["recall"] for n, b in per.items()},
                "class_consistency": {
                    n: b["generated"].get("class_consistency") for n, b in per.items()
                },
            }
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("snapshot", "fd_over_real_geomean", "fd")}))
        if base is not None:
            for row in rows:  # reused rows too: the margin is over this baseline
                row["recall_margin"] = recall_margin(row, base)
            best = recall_margin_pick(rows, base)
        else:
            best = min(rows, key=lambda r: r["fd_over_real_geomean"]) if rows else None
        report["runs"][str(run)] = {"snapshots": rows, "pick": best and best["snapshot"]}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({r: v["pick"] for r, v in report["runs"].items()}, indent=2))


if __name__ == "__main__":
    main()
