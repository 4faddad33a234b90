"""Configuration of the GAN as frozen dataclasses (saved in every checkpoint and run folder)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

SUPPORTED_SIZES = (32, 64, 128, 256)  # each arch supports a subset (gan.models.ARCHS)
SUPPORTED_CHANNELS = (1, 3)


def known_fields(cls: type, data: dict, what: str) -> dict:
    """`data`, once every key in it is a field of the dataclass `cls` (a saved config read back):
    an unknown one is refused by name, with the allowed ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} config fields {unknown}; allowed {sorted(known)}")
    return data


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the conditional generator/discriminator pair."""

    # The network (a gan.models.ARCHS key). Absent in a checkpoint = "sngan", the network of
    # every checkpoint written before archs existed: they load and sample the same bytes.
    arch: str = "sngan"
    image_size: int = 32  # square side in pixels; one of SUPPORTED_SIZES
    channels: int = 1  # 1 = grayscale, 3 = RGB
    num_classes: int = 10  # number of categories the generator is conditioned on
    z_dim: int = 128  # latent size (SNGAN / BigGAN use 128)
    g_width: int = 32  # generator channels at full resolution; x2 per halving of resolution
    d_width: int = 32  # discriminator channels at full resolution; x2 per halving
    max_width: int = 256  # cap on channels per layer (keeps 64/128 px models CPU-sized)
    # Minibatch standard deviation in D before its head (gan.nets.layers.MinibatchStd), over
    # groups of this many images; 0 = off (every model before it). fastgan only.
    mbstd_group: int = 0
    # Noise injection in G (Karras et al. 2019, StyleGAN; FastGAN's UpBlockComp): one per-pixel
    # noise map per generator conv, read from the latent after its first z_dim entries, so an
    # image stays a pure function of its seed. False = none (every model before it). fastgan only.
    g_noise: bool = False
    # Convs per generator level: 1 (FastGAN's UpBlock) or 2 (its UpBlockComp). fastgan only.
    g_convs: int = 1

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"image_size={self.image_size}: allowed {SUPPORTED_SIZES}")
        if self.channels not in SUPPORTED_CHANNELS:
            raise ValueError(f"channels={self.channels}: allowed {SUPPORTED_CHANNELS}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes={self.num_classes}: must be >= 1")
        for name in ("z_dim", "g_width", "d_width", "max_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.mbstd_group < 0 or self.mbstd_group == 1:
            raise ValueError(f"mbstd_group={self.mbstd_group}: 0 (off) or >= 2")
        if self.g_convs not in (1, 2):
            raise ValueError(f"g_convs={self.g_convs}: allowed 1, 2")
        from gan.models import check_arch  # the registry imports this module

        check_arch(self)

    @property
    def noise_levels(self) -> tuple[int, ...]:
        """Sides of G's noise maps, one per conv of each level 8, 16, ..., image_size."""
        if not self.g_noise:
            return ()
        sides = [8 * 2**i for i in range(self.image_size.bit_length() - 3)]
        return tuple(r for r in sides for _ in range(self.g_convs))

    @property
    def latent_dim(self) -> int:
        """Entries of the latent a generator takes: z_dim, then the noise maps' pixels."""
        return self.z_dim + sum(r * r for r in self.noise_levels)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**known_fields(cls, data, "model"))


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 64
    # TTUR (Heusel et al. 2017, "GANs trained by a two time-scale update rule"): D learns
    # 2x faster than G. Momentum betas of DCGAN (Radford et al. 2016): SAGAN's 1e-4/4e-4 with
    # beta1=0 learned too slowly for a ~1 hour CPU budget (blobs after 1 epoch).
    lr_g: float = 2e-4
    lr_d: float = 4e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # discriminator updates per generator update (TTUR makes 1 enough)
    # Mode-seeking regulariser (Mao et al. 2019, "Mode Seeking GANs for Diverse Image
    # Synthesis", MSGAN): G also minimises 1 / (mean|G(z1,y) - G(z2,y)| / mean|z1 - z2| + eps) for
    # pairs sharing a class, which pushes a conditional G to spread a class over its modes.
    # 0 = off (the G step is then exactly the plain hinge step).
    mode_seeking: float = 0.0
    # EMA of G weights used for all sampling (Yazici et al. 2019, "The unusual effectiveness
    # of averaging in GAN training"; BigGAN). Half-life ~ 0.69/(1-decay) steps.
    ema_decay: float = 0.999
    ema_start: int = 1000  # steps before the EMA starts averaging (before: plain copy)
    # DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
    # Training"): "auto" = on when the dataset has fewer than `augment_below` images.
    augment: str = "auto"  # "auto", "off", or a comma list of color,translation,cutout
    augment_below: int = 10_000
    # Transitional conditioning (Shahbazi et al. ICLR 2022): the class terms of G and D are
    # scaled by 0 until step cond_start, then ramp linearly to 1 over cond_ramp steps.
    # cond_ramp = 0: fully conditional from the first step.
    cond_start: int = 0
    cond_ramp: int = 0
    # Auxiliary classifier (Odena, Olah & Shlens, ICML 2017, "AC-GAN"), beside the projection
    # head: D also learns to classify the real images (cross-entropy) and G is pushed towards
    # images D classifies as the class asked for, both weighted by class_loss x the
    # conditioning strength. Against a conditional G that ignores its class on a small
    # catalogue (rows that all draw the same garment). 0 = off; needs an arch with a class head.
    class_loss: float = 0.0
    # Random horizontal flips of the real batches (products are mirror-symmetric as a class).
    flip: bool = False
    # Class-balanced sampling of the real batches (and so of the classes G is asked for): an
    # image of a class with n images is drawn with weight n ** -class_balance. 0 = every image
    # once per epoch (every run before it); 1 = every class equally often; 0.5 = classes in
    # proportion to sqrt(n) (the repeat-factor middle ground of long-tailed recognition, e.g.
    # Mahajan et al. 2018). For catalogues whose small classes a generator learns last.
    class_balance: float = 0.0
    epochs: float = 10.0  # stop after this many passes over the data (fractions allowed)
    max_minutes: float | None = None  # also stop after this much wall time in this invocation
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # bf16 autocast where fast (CUDA; CPUs with AMX/AVX512-BF16: gan.device)
    num_threads: int | None = None  # torch CPU threads; None = leave torch's default
    sample_every: int = 500  # steps between sample grids / checkpoints
    keep_snapshots: bool = (
        False  # also keep each checkpoint in snapshots/step_XXXXXXX/ (to pick one by evaluation)
    )
    log_every: int = 50  # steps between metrics.jsonl lines
    grid_per_class: int = 10  # images per row (one row per class) in the sample grid

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch_size={self.batch_size}: must be >= 2")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device={self.device!r}: allowed auto, cpu, cuda")
        if self.d_steps < 1:
            raise ValueError(f"d_steps={self.d_steps}: must be >= 1")
        if self.mode_seeking < 0:
            raise ValueError(f"mode_seeking={self.mode_seeking}: must be >= 0")
        if not 0 <= self.class_balance <= 1:
            raise ValueError(f"class_balance={self.class_balance}: must lie in [0, 1]")
        if self.mode_seeking and self.batch_size % 2:
            raise ValueError(
                f"batch_size={self.batch_size}: mode seeking pairs images, so it must be even"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay}: must be in [0, 1)")
        if self.cond_start < 0 or self.cond_ramp < 0:
            raise ValueError(f"cond_start/cond_ramp={self.cond_start}/{self.cond_ramp}: >= 0")
        if self.class_loss < 0:
            raise ValueError(f"class_loss={self.class_loss}: must be >= 0")
        if self.epochs <= 0:
            raise ValueError(f"epochs={self.epochs}: must be > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes={self.max_minutes}: must be > 0")
        parse_augment(self.augment)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def conditioning(self, step: int) -> float:
        """The conditioning strength at `step` (1 = fully class-conditional)."""
        if self.cond_ramp == 0:
            return 0.0 if step < self.cond_start else 1.0
        return min(1.0, max(0.0, (step - self.cond_start) / self.cond_ramp))

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        model = ModelConfig.from_dict(data.pop("model", {}))
        return cls(model=model, **known_fields(cls, data, "train"))


AUGMENT_OPS = ("color", "translation", "cutout")


def parse_augment(policy: str) -> tuple[str, ...] | None:
    """Return the ops of a policy, () for off, None for "auto"."""
    if policy == "auto":
        return None
    if policy in ("off", ""):
        return ()
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    bad = [p for p in ops if p not in AUGMENT_OPS]
    if bad:
        raise ValueError(
            f"augment={policy!r}: unknown ops {bad}; allowed auto, off or {AUGMENT_OPS}"
        )
    return ops
