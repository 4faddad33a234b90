"""Seeded sampling: image i depends only on (model, label_i, seed_i, truncation, latent scale)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

MAX_SEED = 2**63 - 1


def latent_for_seed(
    seed: int, z_dim: int, truncation: float | None = None, scale: float = 1.0
) -> torch.Tensor:
    """The latent of one image, from its own torch.Generator (CPU, so identical everywhere).

    Truncation trick (Brock et al. 2019, BigGAN): entries with |z| > t are resampled from
    the same seeded stream until all lie within t. `scale` then multiplies the latent: the
    sampling temperature of Kingma & Dhariwal 2018 (Glow), as a standard deviation. Below 1
    it narrows the samples towards the typical (like truncation), above 1 it spreads them
    wider, trading precision for recall; 1 = the distribution the generator was trained on.
    """
    if not 0 < scale <= 4:
        raise ValueError(f"latent scale={scale}: must lie in (0, 4]")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed={seed}: must be an int in [0, 2**63-1]")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    z = torch.randn(z_dim, generator=gen)
    if truncation is not None:
        if truncation <= 0:
            raise ValueError(f"truncation={truncation}: must be > 0")
        outside = z.abs() > truncation
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=gen)
            outside = z.abs() > truncation
    return z * scale  # x 1.0 leaves every bit as it was


def latents(
    seeds: Sequence[int], z_dim: int, truncation: float | None = None, scale: float = 1.0
) -> torch.Tensor:
    return (
        torch.stack([latent_for_seed(s, z_dim, truncation, scale) for s in seeds])
        if len(seeds)
        else torch.zeros(0, z_dim)
    )


def to_uint8_hwc(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats (N, C, H, W) -> uint8 (N, H, W, C) on the CPU."""
    x = ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().cpu()


def _check_labels(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    y = torch.as_tensor(list(labels), dtype=torch.long)
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
    return y


def autocast_for(device: torch.device, precision: str):
    """fp32, or bf16 autocast (measured faster on CPUs with bf16 support and on CUDA;
    see README)."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision={precision!r}: allowed 'fp32', 'bf16'")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def sample(
    generator, labels, seeds, truncation=None, batch_size=256, precision="fp32", latent_scale=1.0
) -> torch.Tensor:
    """Generate one image per (label, seed): uint8 tensor [N, H, W, C] on the CPU.
    `truncation`, `latent_scale`: see latent_for_seed."""
    labels, seeds = list(labels), list(seeds)
    if len(labels) != len(seeds):
        raise ValueError(f"{len(labels)} labels but {len(seeds)} seeds: need one seed per image")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    cfg = generator.cfg
    y = _check_labels(labels, cfg.num_classes)
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()  # batch norm uses its stored statistics: images are batch-independent
    out = []
    try:
        with torch.inference_mode(), autocast_for(device, precision):
            for start in range(0, len(seeds), batch_size):
                part = seeds[start : start + batch_size]
                z = latents(part, cfg.latent_dim, truncation, latent_scale).to(device)
                out.append(to_uint8_hwc(generator(z, y[start : start + batch_size].to(device))))
    finally:
        generator.train(was_training)
    if not out:
        return torch.zeros(0, cfg.image_size, cfg.image_size, cfg.channels, dtype=torch.uint8)
    return torch.cat(out)
