"""Distances between feature sets: Frechet distance, KID, precision/recall/density/coverage,
and the nearest-neighbour memorisation check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


def _sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def _cov(a: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance of the rows (as numpy.cov(rowvar=False)), always 2-D."""
    return torch.atleast_2d(torch.cov(a.T))


@dataclass(frozen=True)
class Gaussian:
    """Mean, covariance and covariance square root of a feature set (float64)."""

    mu: torch.Tensor
    cov: torch.Tensor
    root: torch.Tensor


def gaussian(x: torch.Tensor) -> Gaussian:
    a = x.double()
    cov = _cov(a)
    return Gaussian(a.mean(0), cov, _sqrtm_psd(cov))


def frechet_distance(x: torch.Tensor, y: torch.Tensor | Gaussian) -> float:
    """||mu_x - mu_y||^2 + Tr(Sx + Sy - 2 (Sy^1/2 Sx Sy^1/2)^1/2)  (Heusel et al. 2017, FID).

    The trace term uses the symmetric form, so only eigen-decompositions are needed (no scipy);
    in float64 torch, which keeps to torch's thread setting (numpy's BLAS, multi-threaded on a
    busy 2-core machine, was 60x slower here). `y` may be given as its `gaussian(...)`,
    computed once for many x (the reference set).
    """
    ref = y if isinstance(y, Gaussian) else gaussian(y)
    a = x.double()
    mu = a.mean(0) - ref.mu
    sa = _cov(a)
    cross = torch.linalg.eigvalsh(ref.root @ sa @ ref.root).clamp(min=0).sqrt().sum()
    return float(mu @ mu + sa.trace() + ref.cov.trace() - 2.0 * cross)


def _polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kernel_inception_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    scale: float | None = None,
) -> dict:
    """KID (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of the squared
    MMD with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3, averaged over `subsets`
    random subsets of min(subset_size, len(x), len(y)) rows drawn without replacement from each
    set (seeded: the same sets give the same number). Unbiased, so about 0 -- and it can be
    slightly negative -- for two samples of one distribution, whatever their size.

    `scale` divides both sets first (the evaluation passes the root mean square entry of its
    real reference, so that a.b / d is of order 1 in every feature space, as it is for the
    Inception features the kernel was chosen for; the same scale for every set compared with
    one reference keeps their KIDs comparable).
    """
    a, b = x.double(), y.double()
    if scale is not None:
        a, b = a / scale, b / scale
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 rows in each set, got {len(a)} and {len(b)}")
    if m == len(a) == len(b):
        subsets = 1  # every "subset" would be both whole sets: one estimate says it all
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        xs = a[torch.randperm(len(a), generator=gen)[:m]]
        ys = b[torch.randperm(len(b), generator=gen)[:m]]
        kxx, kyy, kxy = (
            _polynomial_kernel(xs, xs),
            _polynomial_kernel(ys, ys),
            _polynomial_kernel(xs, ys),
        )
        within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (
            m * (m - 1)
        )
        values.append(float(within - 2.0 * kxy.mean()))
    t = torch.tensor(values, dtype=torch.float64)
    return {
        "kid": float(t.mean()),
        "kid_std": float(t.std()) if len(values) > 1 else 0.0,
        "kid_subsets": subsets,
        "kid_subset_size": m,
        "kid_feature_scale": scale,
    }


def _by_rows(
    query: torch.Tensor, reference: torch.Tensor, reduce: Callable, chunk: int = 2048
) -> torch.Tensor:
    """reduce(rows, distances) over chunks of query rows, where distances = cdist(query[rows],
    reference): one chunk x len(reference) matrix in memory at a time, not the whole one."""
    out = [
        reduce(slice(i, i + chunk), torch.cdist(query[i : i + chunk], reference))
        for i in range(0, len(query), chunk)
    ]
    return torch.cat(out) if out else torch.zeros(0)


def nearest_distances(
    query: torch.Tensor, reference: torch.Tensor, chunk: int = 512
) -> torch.Tensor:
    """Euclidean distance from each row of `query` to its nearest row of `reference`."""
    return _by_rows(query.float(), reference.float(), lambda _, d: d.min(1).values, chunk)


def memorisation(generated: torch.Tensor, held_out: torch.Tensor, seen: torch.Tensor) -> dict:
    """Median nearest-seen-neighbour distance of generated rows over the same for held-out real
    rows. About 1 when the generator is as far from its training images as new real images are;
    towards 0 when it reproduces training images (copies sit at distance 0)."""
    gen = nearest_distances(generated, seen).median()
    held = nearest_distances(held_out, seen).median()
    return {
        "memorisation_ratio": float(gen / held) if held > 0 else None,
        "median_nn_distance_generated": float(gen),
        "median_nn_distance_held_out": float(held),
    }


PR_K = 5  # neighbours for precision / recall / density / coverage (both papers use 5)


def kth_nn_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    # k + 1: the point itself is at distance 0
    return _by_rows(x, x, lambda _, d: d.kthvalue(k + 1, dim=1).values, chunk)


def _ball_counts(
    query: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048
) -> torch.Tensor:
    """For each query: in how many of the balls (centres, radii) it lies."""
    return _by_rows(query, centres, lambda _, d: (d <= radii[None]).sum(1), chunk)


def _nearest_fake_within(
    real: torch.Tensor, fake: torch.Tensor, radii: torch.Tensor, chunk: int = 2048
) -> torch.Tensor:
    """For each real row: whether its nearest fake row lies within its own radius."""
    return _by_rows(real, fake, lambda rows, d: d.min(1).values <= radii[rows], chunk)


def recalled(real: torch.Tensor, fake: torch.Tensor, k: int = PR_K) -> torch.Tensor:
    """For each real row: whether it lies in the k-NN ball of some fake row (what recall
    averages)."""
    return _ball_counts(real, fake, kth_nn_radius(fake, k)) > 0


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PR_K) -> dict:
    """k-NN manifold metrics.

    precision/recall: Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric";
    density/coverage: Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics" (k=5).
    """
    k = min(k, len(real) - 1, len(fake) - 1)  # tiny sets: fewer neighbours (the k used is kept)
    if k < 1:
        raise ValueError(f"precision/recall need 2+ rows in each set, got {len(real)}, {len(fake)}")
    real, fake = real.float(), fake.float()
    r_real = kth_nn_radius(real, k)
    in_real = _ball_counts(fake, real, r_real)
    return {
        "precision": float((in_real > 0).float().mean()),
        "recall": float(recalled(real, fake, k).float().mean()),
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
