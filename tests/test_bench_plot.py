"""The scaling figure of `assetgen bench`: the least-squares line and its PNG."""

from __future__ import annotations

import pytest
from PIL import Image

from jobs.bench.plot import line_fit, plot_scaling


def test_line_fit_recovers_a_straight_line_and_its_marginal_rate():
    fit = line_fit([250, 1000, 4000], [0.5 + 0.002 * x for x in (250, 1000, 4000)])
    assert fit["slope_s_per_image"] == pytest.approx(0.002)
    assert fit["intercept_s"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0) and fit["marginal_ips"] == pytest.approx(500)


def test_line_fit_of_one_distinct_size_has_no_slope():
    fit = line_fit([100, 100], [1.0, 2.0])
    assert fit["slope_s_per_image"] == 0.0 and fit["intercept_s"] == 1.5
    assert fit["marginal_ips"] is None


def test_scaling_plot_is_a_png(tmp_path):
    points = [{"images": 250, "wall_s": 0.45}, {"images": 1000, "wall_s": 1.78}]
    fit = line_fit([p["images"] for p in points], [p["wall_s"] for p in points])
    path = plot_scaling(points, fit, tmp_path / "out" / "scaling.png", "title")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (720, 460)
