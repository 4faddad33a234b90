"""The classic recipe, as the benchmark's baseline: unconditional DCGAN.

Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs":
transposed-conv G and strided-conv D with batch norm, BCE loss, Adam 2e-4 betas (0.5, 0.999),
N(0, 0.02) init, batch 128. Trained for the same number of epochs on the same data as the
model it is compared with, and scored by the same evaluator.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from gan.data import ImageDataset
from gan.sampling import to_uint8_hwc

Z_DIM = 100  # the DCGAN paper's latent size
BATCH = 128  # the DCGAN paper's batch size


class DCGANGenerator(nn.Module):
    def __init__(self, channels: int, size: int = 32, width: int = 64) -> None:
        super().__init__()
        ups = int(math.log2(size // 4))
        widths = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 256, 128, 64
        layers = [
            nn.ConvTranspose2d(Z_DIM, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [
                nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int = 32, width: int = 64) -> None:
        super().__init__()
        downs = int(math.log2(size // 4))
        widths = [width * 2**i for i in range(downs)]  # e.g. 64, 128, 256
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [
                nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()  # logits; the sigmoid lives in the BCE loss


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for convs, N(1, 0.02) for batch-norm scales (the DCGAN paper)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def train_dcgan(
    data: ImageDataset,
    epochs: float,
    seed: int = 0,
    on_progress=None,
    device: str | torch.device = "cpu",
) -> tuple[DCGANGenerator, dict]:
    """Train the baseline for `epochs` passes over `data` in fp32 on `device`; returns G (on the
    CPU) and run info. Initialisation and the data order come from the CPU RNG on every device."""
    device = torch.device(device)
    torch.manual_seed(seed)
    G, D = (
        DCGANGenerator(data.channels, data.image_size),
        DCGANDiscriminator(data.channels, data.image_size),
    )
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    G, D = G.to(device), D.to(device)
    images = data.images.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = len(data)
    steps = max(1, math.ceil(epochs * n / BATCH))
    gen = torch.Generator().manual_seed(seed)
    order, start = torch.randperm(n, generator=gen), time.monotonic()
    for step in range(steps):
        pos = (step * BATCH) % (n - n % BATCH or n)
        if step and pos == 0:
            order = torch.randperm(n, generator=gen)
        real = images[order[pos : pos + BATCH].to(device)].float().div(127.5).sub(1.0)
        fake = G(torch.randn(len(real), Z_DIM).to(device))
        ones, zeros = torch.ones(len(real), device=device), torch.zeros(len(real), device=device)
        loss_d = F.binary_cross_entropy_with_logits(
            D(real), ones
        ) + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)  # non-saturating G loss
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if on_progress is not None:
            on_progress(
                {
                    "step": step + 1,
                    "total_steps": steps,
                    "loss_d": loss_d.item(),
                    "loss_g": loss_g.item(),
                }
            )
    info = {
        "steps": steps,
        "batch_size": BATCH,
        "epochs": steps * BATCH / n,
        "train_seconds": time.monotonic() - start,
        "device": device.type,
    }
    return G.cpu(), info


@torch.no_grad()
def sample_dcgan(G: DCGANGenerator, count: int, seed: int = 0, batch: int = BATCH) -> torch.Tensor:
    """uint8 (N, H, W, C). Batch norm uses batch statistics, as in the reference DCGAN code."""
    G.train()
    gen = torch.Generator().manual_seed(seed)
    out = [
        to_uint8_hwc(G(torch.randn(min(batch, count - i), Z_DIM, generator=gen)))
        for i in range(0, count, batch)
    ]
    return torch.cat(out)
