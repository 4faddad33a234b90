"""arch "fastgan": a class-conditional FastGAN-class network for 500-5,000 images at 32-256 px.

After B. Liu, Y. Zhu, K. Song, A. Elgammal, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis" (ICLR 2021), written here for this project:

- Generator: a 4x4 transposed-conv start, then nearest-upsample + 3x3 conv + norm + GLU
  blocks (the paper's UpBlock), and skip-layer excitation (SLE, the paper's Sec. 3.1): a
  low-resolution feature map gates the channels of one 8-16x larger (4->64, 8->128, 16->256).
  Norms are class-conditional batch norms (de Vries et al. 2017) whose class part is scaled by
  the conditioning strength (Shahbazi et al. ICLR 2022; gan.nets.layers). With `g_convs` 2 a
  level has two convs (the paper's UpBlockComp). With `g_noise` each conv's output gets a
  per-pixel noise map times a learned per-channel weight (zero at the start; StyleGAN's noise
  inputs, Karras et al. CVPR 2019, as in the paper's UpBlockComp). The maps are the latent's
  entries after the first z_dim (ModelConfig.latent_dim), not fresh draws: an image stays a
  pure function of (latent, class), so a seed gives the same image everywhere.
- Discriminator: spectrally normalised (Miyato et al. 2018) residual down blocks (the
  paper's DownBlockComp: a strided 4x4 + 3x3 path averaged with an avg-pool + 1x1 path), and
  the paper's self-supervision: two small decoders reconstruct the real image from the 8x8
  features and a random quarter of it from a quarter of the 16x16 features. The paper uses a
  perceptual (LPIPS) loss; here it is L1 on pixels, so nothing is downloaded.
  The score is a projection head (Miyato & Koyama 2018, "cGANs with Projection
  Discriminator") on globally sum-pooled 4x4 features, trained with the hinge loss. With
  `mbstd_group` the head also sees the batch's minibatch standard deviation (Karras et al.
  2018; gan.nets.layers.MinibatchStd), against a generator that spreads too little.
  A linear class head on the same features (the auxiliary classifier of Odena, Olah & Shlens,
  ICML 2017, "AC-GAN") gives `forward_with_logits`; the trainer uses it when its
  `class_loss` weight is on (gan.train), to keep a small catalogue's classes apart.
Widths follow `g_width` / `d_width` (channels at full resolution, x2 per halving, capped by
`max_width`), so a 64 px model can be made small enough to train on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan.config import ModelConfig
from gan.nets.layers import ConditionalBatchNorm2d, ConditioningStrength, MinibatchStd

DECODER_SIZE = 32  # side of the decoders' reconstructions (the paper: 128 at 256-1024 px)


def ladder(size: int, base: int, cap: int) -> dict[int, int]:
    """Channels at each resolution 4, 8, ..., size: `base` at full size, x2 per halving."""
    return {
        4 * 2**i: min(base * size // (4 * 2**i), cap) for i in range(int(math.log2(size // 4)) + 1)
    }


def sle_pairs(size: int) -> list[tuple[int, int]]:
    """(source, target) resolutions of the skip-layer excitations: 4->32/64, 8->128, 16->256."""
    return [(max(4, r // 16), r) for r in (32, 64, 128, 256) if r <= size]


class SLE(nn.Module):
    """Skip-layer excitation: pool the small map to 4x4, conv 4x4 -> 1x1, SiLU, 1x1, sigmoid;
    the result scales the channels of the large map."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(cin, cout, 4, bias=False),
            nn.SiLU(),
            nn.Conv2d(cout, cout, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        return large * self.net(small)


class Generator(nn.Module):
    """z (N, z_dim) and class y (N,) -> image (N, C, S, S) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.strength = ConditioningStrength()
        w = ladder(cfg.image_size, cfg.g_width, cfg.max_width)
        k = cfg.num_classes
        self.start = nn.ConvTranspose2d(cfg.z_dim, 2 * w[4], 4, 1, 0, bias=False)
        self.start_norm = ConditionalBatchNorm2d(2 * w[4], k, self.strength)
        self.res = sorted(w)[1:]  # 8, 16, ..., size
        self.convs = nn.ModuleList(
            nn.Conv2d(w[r // 2], 2 * w[r], 3, padding=1, bias=False) for r in self.res
        )
        self.norms = nn.ModuleList(
            ConditionalBatchNorm2d(2 * w[r], k, self.strength) for r in self.res
        )
        # The second conv of each level (UpBlockComp); absent with g_convs 1, so the weights of
        # every model before it keep their names.
        second = self.res if cfg.g_convs == 2 else []
        self.convs2 = nn.ModuleList(
            nn.Conv2d(w[r], 2 * w[r], 3, padding=1, bias=False) for r in second
        )
        self.norms2 = nn.ModuleList(
            ConditionalBatchNorm2d(2 * w[r], k, self.strength) for r in second
        )
        self.noise_weights = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 2 * w[r], 1, 1)) for r in cfg.noise_levels
        )
        self.pairs = sle_pairs(cfg.image_size)
        self.sles = nn.ModuleList(SLE(w[s], w[t]) for s, t in self.pairs)
        self.to_img = nn.Conv2d(w[cfg.image_size], cfg.channels, 3, padding=1)

    def _noise_maps(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The latent's entries after z_dim as (N, 1, r, r) maps, one per noisy conv."""
        maps, at = [], self.cfg.z_dim
        for r in self.cfg.noise_levels:
            maps.append(z[:, at : at + r * r].reshape(-1, 1, r, r))
            at += r * r
        return maps

    @staticmethod
    def _conv(
        h: torch.Tensor,
        y: torch.Tensor,
        conv: nn.Module,
        norm: ConditionalBatchNorm2d,
        noise: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """conv, + noise map x per-channel weight (if any), conditional norm, GLU."""
        h = conv(h)
        if noise is not None:
            maps, weight = noise
            h = h + weight * maps.to(h.dtype)
        return F.glu(norm(h, y), dim=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        zv = z[:, : self.cfg.z_dim]
        h = F.glu(self.start_norm(self.start(zv[:, :, None, None]), y), dim=1)
        feats = {4: h}
        noises = iter(zip(self._noise_maps(z), self.noise_weights))  # in conv order
        for i, r in enumerate(self.res):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self._conv(h, y, self.convs[i], self.norms[i], next(noises, None))
            if self.convs2:
                h = self._conv(h, y, self.convs2[i], self.norms2[i], next(noises, None))
            for (s, t), sle in zip(self.pairs, self.sles):
                if t == r:
                    h = sle(feats[s], h)
            feats[r] = h
        return torch.tanh(self.to_img(h))


def _sn_conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, stride, pad, bias=False))


class DownBlock(nn.Module):
    """The paper's DownBlockComp: (4x4/2 conv, BN, LReLU, 3x3 conv, BN, LReLU) averaged with
    (avg-pool 2, 1x1 conv, BN, LReLU)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            _sn_conv(cin, cout, 4, 2, 1),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
            _sn_conv(cout, cout, 3, 1, 1),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2), _sn_conv(cin, cout, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """8x8 features -> a DECODER_SIZE image: (nearest x2, 3x3 conv, BN, GLU) blocks (the
    paper's SimpleDecoder, shortened)."""

    def __init__(self, cin: int, width: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for _ in range(int(math.log2(DECODER_SIZE // 8))):
            layers += [
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                _sn_conv(c, 2 * width, 3, 1, 1),
                nn.BatchNorm2d(2 * width),
                nn.GLU(dim=1),
            ]
            c = width
        layers += [_sn_conv(c, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """Image (N, C, S, S) and class y (N,) -> score (N,); `forward_with_aux` adds the decoders'
    reconstruction loss on real images."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.strength = ConditioningStrength()
        size = cfg.image_size
        w = ladder(size, cfg.d_width, cfg.max_width)
        self.stem = nn.Sequential(_sn_conv(cfg.channels, w[size // 2], 4, 2, 1), nn.LeakyReLU(0.2))
        self.down_res = [r for r in sorted(w, reverse=True) if 8 <= r < size // 2]
        self.downs = nn.ModuleList(DownBlock(w[2 * r], w[r]) for r in self.down_res)
        last = w[8] if size >= 16 else w[4]
        g = cfg.mbstd_group
        self.mbstd = MinibatchStd(g) if g else nn.Identity()
        self.head = nn.Sequential(_sn_conv(last + bool(g), w[4], 4, 2, 1), nn.LeakyReLU(0.2))
        self.linear = spectral_norm(nn.Linear(w[4], 1))
        self.embed = spectral_norm(nn.Embedding(cfg.num_classes, w[4]))
        self.classify = nn.Linear(w[4], cfg.num_classes)
        dec_width = max(8, cfg.d_width)
        self.decode_all = Decoder(w[8], dec_width, cfg.channels)
        self.decode_part = Decoder(w[16] if size >= 32 else w[8], dec_width, cfg.channels)

    def _features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        h = self.stem(x)
        feats = {h.shape[-1]: h}
        for down in self.downs:
            h = down(h)
            feats[h.shape[-1]] = h
        return feats

    def _heads(self, h8: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(projection score, class logits) from the 8x8 features."""
        phi = self.head(self.mbstd(h8)).sum(dim=(2, 3))
        proj = (self.embed(y) * phi).sum(dim=1)
        return self.linear(phi).squeeze(1) + self.strength(proj), self.classify(phi)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._heads(self._features(x)[8], y)[0]

    def forward_with_logits(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(score, class logits (N, num_classes)) in one pass."""
        return self._heads(self._features(x)[8], y)

    def forward_with_aux(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(score, reconstruction L1, class logits) for REAL images: the whole image from the 8x8
        features, and one random quarter (the same for the batch, drawn from torch's RNG) from
        the 16x16."""
        feats = self._features(x)
        small = F.interpolate(x, size=DECODER_SIZE, mode="area")
        loss = F.l1_loss(self.decode_all(feats[8]).float(), small.float())
        f16 = feats.get(16, feats[8])
        q = int(torch.randint(0, 4, ()).item())
        qy, qx = divmod(q, 2)
        fh, xh = f16.shape[-1] // 2, x.shape[-1] // 2
        part = f16[:, :, qy * fh : (qy + 1) * fh, qx * fh : (qx + 1) * fh]
        target = x[:, :, qy * xh : (qy + 1) * xh, qx * xh : (qx + 1) * xh]
        target = F.interpolate(target, size=DECODER_SIZE, mode="area")
        loss = loss + F.l1_loss(self.decode_part(part).float(), target.float())
        score, logits = self._heads(feats[8], y)
        return score, loss, logits
