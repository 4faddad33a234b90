"""Distances between feature sets: Frechet distance and precision/recall/density/coverage."""

from __future__ import annotations

import numpy as np
import torch


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """||mu_x - mu_y||^2 + Tr(Sx + Sy - 2 (Sx^1/2 Sy Sx^1/2)^1/2)  (Heusel et al. 2017, FID).

    The trace term uses the symmetric form, so only eigen-decompositions are needed (no scipy).
    """
    a, b = x.double().numpy(), y.double().numpy()
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = _sqrtm_psd(sa)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ sb @ root), 0, None)).sum()
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross)


def _kth_nn_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i : i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(out)


def _ball_counts(
    query: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048
) -> torch.Tensor:
    """For each query: in how many of the balls (centres, radii) it lies."""
    out = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i : i + chunk], centres)
        out.append((d <= radii[None]).sum(1))
    return torch.cat(out)


def _nearest_fake_within(
    real: torch.Tensor, fake: torch.Tensor, radii: torch.Tensor, chunk: int = 2048
) -> torch.Tensor:
    out = []
    for i in range(0, len(real), chunk):
        d = torch.cdist(real[i : i + chunk], fake).min(1).values
        out.append(d <= radii[i : i + chunk])
    return torch.cat(out)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict:
    """k-NN manifold metrics.

    precision/recall: Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric";
    density/coverage: Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics" (k=5).
    """
    real, fake = real.float(), fake.float()
    r_real, r_fake = _kth_nn_radius(real, k), _kth_nn_radius(fake, k)
    in_real = _ball_counts(fake, real, r_real)
    return {
        "precision": float((in_real > 0).float().mean()),
        "recall": float((_ball_counts(real, fake, r_fake) > 0).float().mean()),
        "density": float(in_real.float().mean() / k),
        "coverage": float(_nearest_fake_within(real, fake, r_real).float().mean()),
        "k": k,
    }


def confusion_matrix(
    requested: torch.Tensor, predicted: torch.Tensor, num_classes: int
) -> list[list[int]]:
    """rows: requested (or true) class, columns: classifier's prediction."""
    flat = requested.long() * num_classes + predicted.long()
    return (
        torch.bincount(flat, minlength=num_classes * num_classes)
        .view(num_classes, num_classes)
        .tolist()
    )
