"""The registry of networks: an arch name -> its generator, discriminator, loss and recipe.

Every network follows the same small protocols, so the trainer, `sample()` and the
checkpoint code never look at the architecture:

- generator: ``G(z, y) -> images in [-1, 1]`` with ``G.cfg`` its ModelConfig (``latent_dim``,
  ``num_classes``, ``image_size``, ``channels``); batch norm in eval mode at sampling.
- discriminator: ``D(x, y) -> scores (N,)``; one that learns an auxiliary task on real images
  also has ``D.forward_with_aux(x, y) -> (scores, aux_loss, logits | None)`` (FastGAN's
  decoders), and one with a class head ``D.forward_with_logits(x, y) -> (scores, logits)``
  (the auxiliary classifier the trainer's `class_loss` trains: `score_real` / `score_fake`).

To add a network: a module under gan/nets/ with Generator and Discriminator classes taking a
ModelConfig, and one `ArchSpec` line in ARCHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
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
        "SNGAN CNN + projection D (the fashion-mnist-32 model; checkpoints without an arch)",
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
            # DiffAugment's full policy below 10,000 images (every catalogue so far), off above:
            # on Fashion-MNIST's 54,000 translation + cutout lowered recall (docs/gan.md: the
            # fashion-mnist-32 candidates), and FastGAN without it kept more of the spread.
            "augment": "auto",
            # The first CPU run (docs/gan-rgb64-cpu.json: class only from step 1000, at full
            # strength from 3000 of 4,800, no class head) drew the same garments in every row
            # (class consistency 0.23x real): the class now comes in over the first 1000 steps,
            # with the auxiliary classifier.
            "cond_start": 0,
            "cond_ramp": 1000,
            # The shipped default model's (run 3, chosen on validation over run 2's 1.0); 0 for a
            # large data set, where the projection head alone keeps the classes apart.
            "class_loss": 2.0,
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
    if cfg.mbstd_group and cfg.arch != "fastgan":
        raise ValueError(f"mbstd_group={cfg.mbstd_group}: only arch 'fastgan' has it")
    if (cfg.g_noise or cfg.g_convs != 1) and cfg.arch != "fastgan":
        raise ValueError("g_noise and g_convs: only arch 'fastgan' has them")


def build_generator(cfg: ModelConfig) -> nn.Module:
    check_arch(cfg)
    return ARCHS[cfg.arch].generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    check_arch(cfg)
    return ARCHS[cfg.arch].discriminator(cfg)


def classifies(D: nn.Module) -> bool:
    """Whether D has a class head (what a `class_loss` weight needs)."""
    return hasattr(D, "forward_with_logits")


def score_real(
    D: nn.Module, x: torch.Tensor, y: torch.Tensor, class_weight: float = 0.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(scores, D's auxiliary losses on real images): "recon" for a D with an auxiliary task,
    "class" (class_weight x cross-entropy of its class head) when class_weight > 0."""
    losses: dict[str, torch.Tensor] = {}
    logits = None
    with_aux = getattr(D, "forward_with_aux", None)
    if with_aux is not None:
        scores, losses["recon"], logits = with_aux(x, y)
    elif class_weight:
        scores, logits = D.forward_with_logits(x, y)
    else:
        scores = D(x, y)
    if class_weight:
        if logits is None:
            raise ValueError(f"{type(D).__name__} has no class head for class_loss")
        losses["class"] = class_weight * F.cross_entropy(logits.float(), y)
    return scores, losses


def score_fake(
    D: nn.Module, x: torch.Tensor, y: torch.Tensor, class_weight: float = 0.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(scores, G's auxiliary losses): with class_weight > 0, "class" = class_weight x the
    cross-entropy of D's class head on the generated images against the classes asked for."""
    if not class_weight:
        return D(x, y), {}
    scores, logits = D.forward_with_logits(x, y)
    return scores, {"class": class_weight * F.cross_entropy(logits.float(), y)}
