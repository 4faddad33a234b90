"""The scaling plot: pipeline wall time against images, with a least-squares straight line (Pillow only)."""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 460, 80, 30, 50, 60


def line_fit(xs: list[float], ys: list[float]) -> dict:
    """y = intercept + slope * x by least squares, with R^2 (None where it is undefined)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    return {"slope_s_per_image": slope, "intercept_s": intercept,
            "r2": (1 - ss_res / ss_tot) if ss_tot else None,
            "marginal_ips": (1 / slope) if slope > 0 else None}


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def plot_scaling(points: list[dict], fit: dict, path: Path, title: str) -> Path:
    xs, ys = [p["images"] for p in points], [p["wall_s"] for p in points]
    xmax, ymax = max(xs) * 1.08, max(max(ys), fit["intercept_s"] + fit["slope_s_per_image"] * max(xs)) * 1.15
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()

    def px(x: float, y: float) -> tuple[float, float]:
        return (LEFT + x / xmax * (W - LEFT - RIGHT), H - BOTTOM - y / ymax * (H - TOP - BOTTOM))

    for tick in _ticks(xmax):
        x, y = px(tick, 0)
        d.line([x, y, x, TOP], fill="#e4e4e4")
        d.text((x, y + 6), f"{tick:g}", fill="black", font=font, anchor="mt")
    for tick in _ticks(ymax):
        x, y = px(0, tick)
        d.line([x, y, W - RIGHT, y], fill="#e4e4e4")
        d.text((x - 6, y), f"{tick:g}", fill="black", font=font, anchor="rm")
    d.line([px(0, 0), (LEFT, TOP)], fill="black")
    d.line([px(0, 0), (W - RIGHT, H - BOTTOM)], fill="black")
    x0, x1 = 0, max(xs)
    d.line([px(x0, max(fit["intercept_s"], 0)), px(x1, fit["intercept_s"] + fit["slope_s_per_image"] * x1)],
           fill="#1f77b4", width=2)
    for x, y in zip(xs, ys):
        cx, cy = px(x, y)
        d.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill="#d62728")
        d.text((cx + 8, cy - 8), f"{y:.2f} s", fill="#d62728", font=font, anchor="ld")
    r2 = f"{fit['r2']:.4f}" if fit["r2"] is not None else "n/a"
    d.text((W / 2, 14), title, fill="black", font=font, anchor="mt")
    d.text((W / 2, 30), f"fit: {fit['intercept_s']:.3f} s + {fit['slope_s_per_image'] * 1000:.3f} ms/image, "
                        f"R^2 = {r2}", fill="#1f77b4", font=font, anchor="mt")
    d.text((W / 2, H - 18), "images in the job", fill="black", font=font, anchor="mm")
    d.text((12, TOP - 14), "wall time, submit to done (s)", fill="black", font=font, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _ticks(limit: float) -> list[float]:
    step = _nice_step(limit)
    return [i * step for i in range(int(limit / step) + 1)]
