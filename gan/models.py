"""The registry of networks: an arch name -> its generator, discriminator, loss and recipe.

Every network follows the same small protocols, so the trainer, `sample()` and the
checkpoint code never look at the architecture:

- generator: ``G(z, y) -> images in [-1, 1]`` with ``G.cfg`` its ModelConfig (``z_dim``,
  ``num_classes``, ``image_size``, ``channels``); batch norm in eval mode at sampling.
- discriminator: ``D(x, y) -> scores (N,)``; one that learns an auxiliary task on real images
  also has ``D.forward_with_aux(x, y) -> (scores, aux_loss)`` (FastGAN's decoders).

To add a network: a module under gan/nets/ with Generator and Discriminator classes taking a
ModelConfig, and one `ArchSpec` line in ARCHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from gan.config import ModelConfig
from gan.nets import dcgan, fastgan, sngan


class ConditionalGenerator(Protocol):
    cfg: ModelConfig

    def __call__(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class ArchSpec:
    generator: type[nn.Module]
    discriminator: type[nn.Module]
    sizes: tuple[int, ...]  # image sizes the network is built for
    loss: str  # a gan.losses.LOSSES key
    conditional: bool  # False: the class is ignored (an unconditional baseline)
    summary: str
    # Train/model config defaults of the arch's recipe (the CLI applies them unless overridden).
    recipe: dict = field(default_factory=dict)


ARCHS: dict[str, ArchSpec] = {
    "sngan": ArchSpec(
        sngan.Generator,
        sngan.Discriminator,
        (32, 64, 128),
        "hinge",
        True,
        "SNGAN CNN + projection D (the Fashion-MNIST default; checkpoints without an arch)",
    ),
    "fastgan": ArchSpec(
        fastgan.Generator,
        fastgan.Discriminator,
        (32, 64, 128, 256),
        "hinge",
        True,
        "FastGAN-class: skip-layer excitation, decoder-regularised projection D (photos)",
        # CPU-sized at 64 px (about 40 images/s on 2 cores); FastGAN's lr and betas.
        recipe={
            "batch_size": 32,
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "augment": "color,translation,cutout",
            "cond_start": 1000,
            "cond_ramp": 2000,
            "model.g_width": 24,
            "model.d_width": 16,
        },
    ),
    "dcgan": ArchSpec(
        dcgan.Generator,
        dcgan.Discriminator,
        (32, 64, 128, 256),
        "bce",
        False,
        "the classic DCGAN recipe (Radford et al. 2016), unconditional: the baseline",
        recipe={
            "batch_size": 128,
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "beta1": 0.5,
            "ema_decay": 0.0,
            "augment": "off",
            "model.z_dim": 100,
            "model.g_width": 64,
            "model.d_width": 64,
        },
    ),
}


def arch_spec(name: str) -> ArchSpec:
    if name not in ARCHS:
        raise ValueError(f"arch={name!r}: allowed {sorted(ARCHS)}")
    return ARCHS[name]


def check_arch(cfg: ModelConfig) -> None:
    spec = arch_spec(cfg.arch)
    if cfg.image_size not in spec.sizes:
        raise ValueError(f"arch {cfg.arch!r} is built for sizes {spec.sizes}, not {cfg.image_size}")


def build_generator(cfg: ModelConfig) -> nn.Module:
    check_arch(cfg)
    return ARCHS[cfg.arch].generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    check_arch(cfg)
    return ARCHS[cfg.arch].discriminator(cfg)


def score_real(D: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, auxiliary loss) of real images; the loss is 0 for a D without an auxiliary task."""
    with_aux = getattr(D, "forward_with_aux", None)
    if with_aux is not None:
        return with_aux(x, y)
    return D(x, y), torch.zeros((), device=x.device)
