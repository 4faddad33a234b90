"""arch "dcgan": the classic recipe, the baseline every claim is measured against.

Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs",
as in pytorch/examples' dcgan: transposed-conv G and strided-conv D with batch norm,
N(0, 0.02) init; unconditional (the class label is accepted and ignored, so the trainer and
`sample()` treat it like every other arch). Its recipe (BCE loss, Adam 2e-4 with betas
(0.5, 0.999), batch 128, z of 100, no EMA, no augmentation) is `gan.models.ARCHS["dcgan"]`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan.config import ModelConfig


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for convs, N(1, 0.02) for batch-norm scales (the DCGAN paper)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (N, z_dim) -> image in [-1, 1]; `g_width` is the channels of the last hidden layer."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ups = int(math.log2(cfg.image_size // 4))
        widths = [cfg.g_width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 256, 128, 64
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """Image -> logit (N,); `d_width` is the channels of the first layer."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        downs = int(math.log2(cfg.image_size // 4))
        widths = [cfg.d_width * 2**i for i in range(downs)]  # e.g. 64, 128, 256
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.channels, widths[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [
                nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()  # logits; the sigmoid lives in the BCE loss
