"""FD on validation against training minutes, for two runs trained side by side for the same
wall time: does the lead over the baseline grow or shrink with the budget?

Reads the reports of scripts/select_snapshot.py (one per run, or one holding both) and each
scored snapshot's training seconds (its generator.json). At every snapshot of the first run it
pairs the baseline as issue 12's protocol would at that budget: the baseline's snapshot with the
lowest FD-geomean among those trained no longer. Writes OUT.json (the pairs and each space's
FD ratio baseline / ours) and OUT.png (FD per space against minutes, both runs).

    python scripts/wall_time_curve.py --ours runs/rgb64r5 --baseline runs/dcgan64b \\
        --reports sel_r5.json sel_dc.json --out docs/wall-time-curve-rgb64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gan.plots import pyplot


def scored_rows(reports: list[Path], run: Path) -> list[dict]:
    """The run's scored snapshots, each with its training minutes, oldest first."""
    rows: dict[str, dict] = {}  # by snapshot: one row each, however many reports score it
    for report in reports:
        runs = json.loads(report.read_text())["runs"]
        for row in runs.get(str(run), {}).get("snapshots", []):
            if row["snapshot"] not in rows:
                meta = json.loads((Path(row["snapshot"]) / "generator.json").read_text())
                rows[row["snapshot"]] = {**row, "minutes": meta["training"]["train_seconds"] / 60}
    if not rows:
        raise SystemExit(f"no scored snapshots of {run} in {[str(r) for r in reports]}")
    return sorted(rows.values(), key=lambda r: r["minutes"])


def pair_at_budget(ours: list[dict], base: list[dict]) -> list[dict]:
    """For each of ours, the baseline picked (lowest geomean) among snapshots within its minutes."""
    pairs = []
    for row in ours:
        within = [b for b in base if b["minutes"] <= row["minutes"]]
        if not within:
            continue
        pick = min(within, key=lambda b: b["fd_over_real_geomean"])
        pairs.append(
            {
                "minutes": row["minutes"],
                "ours": row["snapshot"],
                "baseline": pick["snapshot"],
                "fd_ratio": {n: pick["fd"][n] / row["fd"][n] for n in row["fd"]},
                "geomean_ours": row["fd_over_real_geomean"],
                "geomean_baseline": pick["fd_over_real_geomean"],
            }
        )
    return pairs


def plot(ours: list[dict], base: list[dict], path: Path, labels: tuple[str, str]) -> None:
    plt = pyplot()
    spaces = list(ours[0]["fd"])
    fig, grid = plt.subplots(1, len(spaces), figsize=(4 * len(spaces), 3.4), squeeze=False)
    axes = grid[0]  # one row, one axis per space (also with one space)
    for ax, space in zip(axes, spaces):
        for rows, label, style in ((ours, labels[0], "o-"), (base, labels[1], "s--")):
            minutes, fds = [r["minutes"] for r in rows], [r["fd"][space] for r in rows]
            ax.plot(minutes, fds, style, label=label)
        ax.set_yscale("log")
        ax.set_title(f"{space}: FD on validation")
        ax.set_xlabel("training minutes")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", required=True, type=Path)
    ap.add_argument("--baseline", required=True, type=Path)
    ap.add_argument("--reports", nargs="+", required=True, type=Path)
    ap.add_argument("--labels", nargs=2, default=("FastGAN", "classic DCGAN"))
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args()
    ours, base = scored_rows(a.reports, a.ours), scored_rows(a.reports, a.baseline)
    pairs = pair_at_budget(ours, base)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    plot(ours, base, a.out.with_suffix(".png"), tuple(a.labels))
    keys = ("snapshot", "minutes", "fd", "fd_over_real_geomean")
    report = {
        "ours": [{k: r[k] for k in keys} for r in ours],
        "baseline": [{k: r[k] for k in keys} for r in base],
        "pairs_at_equal_minutes": pairs,
    }
    a.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    for p in pairs:
        ratios = " ".join(f"{n} {v:.2f}" for n, v in p["fd_ratio"].items())
        print(f"{p['minutes']:6.1f} min  baseline/ours FD: {ratios}")


if __name__ == "__main__":
    main()
