"""arch "sngan": the class-conditional generator and discriminator for 32/64/128 px, grey or RGB.

The network of every checkpoint without an `arch` field (the Fashion-MNIST model,
models/fashion-mnist-32/).

Generator: the SNGAN "standard CNN" generator (Miyato et al. 2018, "Spectral Normalization
for GANs", Table 3) -- a linear layer to 4x4 then 4x4/stride-2 transposed convolutions --
with class-conditional batch norm. Transposed convs cost 4 taps per output pixel against
9 for upsample+3x3 conv, which keeps CPU training feasible.
Discriminator: spectrally normalised convs with a projection head for the class
(Miyato & Koyama 2018, "cGANs with Projection Discriminator").
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan.config import ModelConfig
from gan.nets.layers import ConditionalBatchNorm2d


def _widths(cfg: ModelConfig, base: int) -> list[int]:
    """Channels at each resolution from 4x4 up to image_size (doubling per halving, capped)."""
    steps = int(math.log2(cfg.image_size // 4))
    return [min(base * 2 ** (steps - i), cfg.max_width) for i in range(steps + 1)]


class Generator(nn.Module):
    """z (N, z_dim) and class index y (N,) -> image (N, C, H, W) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg, cfg.g_width)
        self.fc = nn.Linear(cfg.z_dim, 16 * widths[0], bias=False)  # BN follows: no bias
        self.bn0 = ConditionalBatchNorm2d(widths[0], cfg.num_classes)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)
            for cin, cout in zip(widths[:-1], widths[1:])
        )
        self.bns = nn.ModuleList(ConditionalBatchNorm2d(w, cfg.num_classes) for w in widths[1:])
        self.to_img = nn.Conv2d(widths[-1], cfg.channels, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, 4, 4)
        h = self.act(self.bn0(h, y))
        for up, bn in zip(self.ups, self.bns):
            h = self.act(bn(up(h), y))
        return torch.tanh(self.to_img(h))


class Discriminator(nn.Module):
    """Image (N, C, H, W) and class y (N,) -> unbounded score (N,) for the hinge loss."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg, cfg.d_width)[::-1]  # full resolution first
        self.stem = spectral_norm(nn.Conv2d(cfg.channels, widths[0], 3, padding=1))
        self.downs = nn.ModuleList(
            spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1))
            for cin, cout in zip(widths[:-1], widths[1:])
        )
        self.head_conv = spectral_norm(nn.Conv2d(widths[-1], widths[-1], 3, padding=1))
        self.linear = spectral_norm(nn.Linear(widths[-1], 1))
        # Projection: score += <embed(y), phi(x)> (Miyato & Koyama 2018).
        self.embed = spectral_norm(nn.Embedding(cfg.num_classes, widths[-1]))
        self.act = nn.LeakyReLU(0.1)  # slope 0.1 as in SNGAN's CNN discriminator

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.stem(x))
        for down in self.downs:
            h = self.act(down(h))
        h = self.act(self.head_conv(h))
        return h.sum(dim=(2, 3))  # global sum pooling (SNGAN / projection cGAN)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.features(x)
        out = self.linear(phi).squeeze(1)
        return out + (self.embed(y) * phi).sum(dim=1)
