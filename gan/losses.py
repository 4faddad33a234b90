"""GAN objectives, by name: what an arch's `loss` field selects.

- "hinge": Lim & Ye 2017, "Geometric GAN"; used by SNGAN, SAGAN, BigGAN and FastGAN.
  D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z)).
- "bce": the original GAN loss (Goodfellow et al. 2014) with the non-saturating G loss, as in
  the DCGAN recipe. D: softplus(-D(x)) + softplus(D(G(z))); G: softplus(-D(G(z))).
Scores are unbounded logits; the returned losses are batch means in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _hinge_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def _bce_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _bce_g(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()


LOSSES = {"hinge": (_hinge_d, _hinge_g), "bce": (_bce_d, _bce_g)}


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return LOSSES[kind][0](real.float(), fake.float())


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    return LOSSES[kind][1](fake.float())
