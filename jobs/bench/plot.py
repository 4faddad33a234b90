"""The scaling plot: pipeline wall time against images, with a least-squares straight line."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def line_fit(xs: list[float], ys: list[float]) -> dict:
    """y = intercept + slope * x by least squares, with R^2 (None where it is undefined)."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if np.ptp(x) > 0:
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
    else:  # one distinct x: no slope to fit
        slope, intercept = 0.0, float(y.mean())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - intercept - slope * x) ** 2).sum())
    return {
        "slope_s_per_image": slope,
        "intercept_s": intercept,
        "r2": (1 - ss_res / ss_tot) if ss_tot else None,
        "marginal_ips": (1 / slope) if slope > 0 else None,
    }


def plot_scaling(points: list[dict], fit: dict, path: Path, title: str) -> Path:
    """The measured points (red) and the fitted line (blue), written to path as a PNG."""
    from gan.plots import pyplot  # matplotlib on first use, not with the bench

    plt = pyplot()

    xs, ys = [p["images"] for p in points], [p["wall_s"] for p in points]
    fig, ax = plt.subplots(figsize=(7.2, 4.6), dpi=100)
    try:
        x1 = max(xs)
        y0, y1 = fit["intercept_s"], fit["intercept_s"] + fit["slope_s_per_image"] * x1
        ax.plot([0, x1], [max(y0, 0), y1], color="#1f77b4", linewidth=2)
        ax.scatter(xs, ys, s=60, color="#d62728", zorder=3)
        for x, y in zip(xs, ys):
            ax.annotate(
                f"{y:.2f} s", (x, y), textcoords="offset points", xytext=(8, 8), color="#d62728"
            )
        r2 = f"{fit['r2']:.4f}" if fit["r2"] is not None else "n/a"
        ax.set_title(
            f"{title}\nfit: {fit['intercept_s']:.3f} s + "
            f"{fit['slope_s_per_image'] * 1000:.3f} ms/image, R^2 = {r2}",
            fontsize=10,
        )
        ax.set_xlabel("images in the job")
        ax.set_ylabel("wall time, submit to done (s)")
        ax.set_xlim(0, x1 * 1.08)
        ax.set_ylim(0, max(max(ys), y1) * 1.15)
        ax.grid(True, color="#e4e4e4")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
