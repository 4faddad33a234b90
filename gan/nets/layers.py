"""Layers shared by the networks: class-conditional batch norm with a conditioning strength,
and the minibatch standard deviation of a discriminator."""

from __future__ import annotations

import math

import torch
from torch import nn


class ConditioningStrength(nn.Module):
    """A scalar in [0, 1] that scales every class-dependent term of a network.

    "Transitional conditioning" (Shahbazi, Danelljan, Paudel, Van Gool, ICLR 2022, "Collapse
    by Conditioning: Training Class-conditional GANs with Limited Data"): training starts
    unconditional (0) and brings the class in gradually (to 1), which avoids the mode
    collapse of conditional GANs on small classes. Stored as a buffer, so a checkpoint records
    the strength its weights were trained with; 1 = fully conditional (the default).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("value", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.value


def set_conditioning(module: nn.Module, strength: float) -> None:
    """Set every ConditioningStrength inside `module` (networks without one are unaffected)."""
    for m in module.modules():
        if isinstance(m, ConditioningStrength):
            m.value.fill_(float(strength))


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class.

    Source: de Vries et al. 2017, "Modulating early visual processing by language";
    used in the projection-cGAN generator (Miyato & Koyama 2018) and BigGAN.
    Statistics are shared across classes; only the affine part is conditional. With a
    `strength` the class part is scaled: gamma = 1 + s * (gamma_y - 1), beta = s * beta_y.
    """

    def __init__(
        self, num_features: int, num_classes: int, strength: ConditioningStrength | None = None
    ) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gamma.weight)  # start as plain BN (identity affine)
        nn.init.zeros_(self.beta.weight)
        # Not a child module when shared: the network owns it (one buffer in the state dict).
        self._strength = [strength] if strength is not None else []

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.bn(x)
        gamma = self.gamma(y)[:, :, None, None]
        beta = self.beta(y)[:, :, None, None]
        if self._strength:
            s = self._strength[0].value
            gamma, beta = 1.0 + s * (gamma - 1.0), s * beta
        return out * gamma + beta


class MinibatchStd(nn.Module):
    """Appends one feature map: the standard deviation of the features across a group of
    images, averaged over channels and positions.

    "Minibatch standard deviation" (Karras, Aila, Laine, Lehtinen, ICLR 2018, "Progressive
    Growing of GANs for Improved Quality, Stability, and Variation", Sec. 3): a discriminator
    that sees how much a batch varies can tell a generator's too-similar batch from a real
    one, which pushes the generator to spread out. Image i is grouped with the images
    i + k * N/G (G = gcd(N, group): every batch size works; G = 1 gives a zero map).
    """

    def __init__(self, group: int) -> None:
        super().__init__()
        if group < 2:
            raise ValueError(f"group={group}: must be >= 2")
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        g = math.gcd(n, self.group)
        xs = x.float().reshape(g, n // g, *x.shape[1:])
        if g > 1:  # one value per group: (N/G,)
            feat = (xs.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
        else:
            feat = xs.new_zeros(n)
        feat = feat[:, None, None, None].repeat(g, 1, h, w).to(x.dtype)
        return torch.cat([x, feat], dim=1)
