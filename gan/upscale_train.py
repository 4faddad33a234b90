"""Training the upscaler: L1 (plus an optional small adversarial term) on streamed photo pairs.

`train_upscaler(config, data_folder, out_dir, on_progress=None, should_stop=None, resume=True)`
writes into out_dir: config.json, metrics.jsonl (loss, validation PSNR-Y, images/s), loss.png,
samples/step_XXXXXXX.png and samples.png (rows of low-res / Lanczos / ours / truth), the EMA
upscaler as upscaler.{safetensors,json}, and train_state.{safetensors,json} to resume after a
kill exactly (the batches are a pure function of seed and step). The recipe (L1, Adam, EMA of
the weights, the degradation model) follows Real-ESRGAN (Wang et al., ICCV Workshops 2021).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan.checkpoint import CheckpointError, atomic_write_json
from gan.device import resolve_device
from gan.plots import grid_image, loss_plot
from gan.sr_metrics import psnr_y
from gan.train import drop_metrics_after
from gan.trainstate import has_train_state, load_train_state, save_train_state
from gan.upscale_checkpoint import save_upscaler
from gan.upscale_data import (
    PairSpec,
    PhotoCache,
    fingerprint,
    list_photos,
    make_batch,
    photo_sizes,
    split_train_val,
    validation_pairs,
)
from gan.upscaler import UpscalerConfig, build_upscaler

# Fields that may differ between the run that wrote a train state and the one resuming it.
RESUMABLE_CHANGES = {"steps", "max_minutes", "device", "num_threads", "log_every", "save_every"}


@dataclass(frozen=True)
class UpscaleTrainConfig:
    """Hyper-parameters of one upscaler training run (saved in the run folder)."""

    model: UpscalerConfig = field(default_factory=UpscalerConfig)
    crop: int = 96  # high-resolution crop side (the network sees crop/4), a multiple of 4
    batch_size: int = 16
    steps: int = 20_000  # stop after this many steps (or at max_minutes, whichever first)
    max_minutes: float | None = None  # wall-clock limit of this invocation
    lr: float = 1e-3  # Adam learning rate, constant (betas 0.9, 0.99 as Real-ESRGAN)
    ema_decay: float = 0.999  # the saved network is this EMA of the trained weights
    degraded_fraction: float = 0.25  # share of pairs through the second-order degradation
    generator_fraction: float = 0.15  # share of whole photos at the generator's native size
    generator_size: int = 32  # that native size (the default generator's: 32 px)
    adv_weight: float = 0.0  # weight of the adversarial (hinge) term; 0 = L1 only
    val_images: int = 32  # validation photos carved from the TRAIN split (never trained on)
    val_crop: int = 128  # side of their centre crops (high resolution), a multiple of 4
    cache_images: int = 1024  # decoded photos kept in memory (each about 150 KB at 256 px)
    seed: int = 0
    num_threads: int | None = None  # torch CPU threads (None: torch's default)
    device: str = "auto"  # auto | cpu | cuda
    log_every: int = 50  # steps between metrics.jsonl rows (each with validation PSNR)
    save_every: int = 1000  # steps between checkpoints + train state + sample strips

    def __post_init__(self) -> None:
        for name in ("crop", "val_crop"):
            if getattr(self, name) % 4 or getattr(self, name) < 16:
                raise ValueError(f"{name}={getattr(self, name)}: a multiple of 4, at least 16")
        if self.crop // 4 > self.generator_size:
            raise ValueError(f"crop={self.crop}: crop/4 must fit generator_size")
        if not 0 <= self.degraded_fraction + self.generator_fraction <= 1:
            raise ValueError("degraded_fraction + generator_fraction must be within [0, 1]")
        for name in ("batch_size", "steps", "val_images", "log_every", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 1")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> UpscaleTrainConfig:
        data = dict(data)
        data["model"] = UpscalerConfig.from_dict(data.get("model", {}))
        return cls(**data)

    def pair_spec(self) -> PairSpec:
        return PairSpec(
            self.crop, self.degraded_fraction, self.generator_fraction, self.generator_size
        )


class PatchDiscriminator(nn.Module):
    """A tiny spectral-norm patch critic (4 convs, 64 channels at most) for the adversarial
    term: one score per overlapping patch of the high-resolution image."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        self.net = nn.Sequential(
            sn(nn.Conv2d(3, width, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * width, 2 * width, 3, 1, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * width, 1, 3, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


@dataclass
class Run:
    """Everything the loop mutates."""

    cfg: UpscaleTrainConfig
    net: nn.Module
    ema: nn.Module
    opt: torch.optim.Optimizer
    disc: nn.Module | None
    opt_d: torch.optim.Optimizer | None
    device: torch.device
    step: int = 0

    def modules(self) -> dict:
        return {"net": self.net, "ema": self.ema, **({"disc": self.disc} if self.disc else {})}

    def optimizers(self) -> dict:
        return {"opt": self.opt, **({"opt_d": self.opt_d} if self.opt_d else {})}


def build_run(cfg: UpscaleTrainConfig, device: torch.device) -> Run:
    torch.manual_seed(cfg.seed)
    net = build_upscaler(cfg.model).to(device)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    disc = opt_d = None
    if cfg.adv_weight:
        disc = PatchDiscriminator().to(device)
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    return Run(cfg, net, ema, opt, disc, opt_d, device)


def train_step(run: Run, lo: torch.Tensor, hi: torch.Tensor) -> dict:
    out = run.net(lo)
    l1 = F.l1_loss(out, hi)
    loss, stats = l1, {"loss": l1.item()}
    if run.disc is not None:
        run.disc.requires_grad_(False)
        adv = -run.disc(out).mean()
        run.disc.requires_grad_(True)
        loss = loss + run.cfg.adv_weight * adv
        stats["loss_adv"] = adv.item()
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    if run.disc is not None:  # hinge loss (Lim & Ye 2017) for the patch critic
        d_loss = F.relu(1 - run.disc(hi)).mean() + F.relu(1 + run.disc(out.detach())).mean()
        run.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        run.opt_d.step()
        stats["loss_d"] = d_loss.item()
    with torch.no_grad():
        for p_ema, p in zip(run.ema.parameters(), run.net.parameters()):
            p_ema.lerp_(p, 1.0 - run.cfg.ema_decay)
    return stats


@torch.no_grad()
def validate(net: nn.Module, val: tuple[torch.Tensor, torch.Tensor], device) -> float:
    lo, hi = val
    out = torch.cat([net(lo[i : i + 8].to(device)).cpu() for i in range(0, len(lo), 8)])
    return float(psnr_y(out, hi).mean())


def lanczos_x4(lo: torch.Tensor) -> torch.Tensor:
    """Float (N, 3, h, w) -> Lanczos x4 (PIL), the baseline the worker uses today."""
    outs = []
    for img in lo:
        arr = img.mul(255).round().byte().permute(1, 2, 0).numpy()
        big = Image.fromarray(arr).resize((arr.shape[1] * 4, arr.shape[0] * 4), Image.LANCZOS)
        outs.append(torch.from_numpy(np.array(big)).permute(2, 0, 1).float() / 255)
    return torch.stack(outs)


def sample_strip(net: nn.Module, val, device, rows: int = 4) -> Image.Image:
    """Rows of (low-res nearest x4, Lanczos x4, ours, truth) for the first validation photos."""
    lo, hi = val[0][:rows], val[1][:rows]
    with torch.no_grad():
        ours = net(lo.to(device)).cpu().clamp(0, 1)
    nearest = F.interpolate(lo, scale_factor=4, mode="nearest")
    cols = [nearest, lanczos_x4(lo), ours, hi]
    tiles = torch.stack(cols, dim=1).flatten(0, 1)  # row-major: photo, then kind
    arr = tiles.mul(255).round().byte().permute(0, 2, 3, 1).numpy()
    return grid_image(arr, rows, 4)


def write_outputs(run: Run, out_dir: Path, val, data_fp: dict, extra: dict) -> None:
    strip = sample_strip(run.ema, val, run.device)
    (out_dir / "samples").mkdir(exist_ok=True)
    strip.save(out_dir / "samples" / f"step_{run.step:07d}.png")
    strip.save(out_dir / "samples.png")
    training = {
        "steps": run.step,
        "images_seen": run.step * run.cfg.batch_size,
        "config": run.cfg.to_dict(),
        "dataset": data_fp,
        **extra,
    }
    save_upscaler(out_dir, copy.deepcopy(run.ema).cpu(), {"training": training})
    loss_plot(out_dir / "metrics.jsonl", out_dir / "loss.png", keys=("loss",))
    state = {"step": run.step, "config": run.cfg.to_dict(), "dataset": data_fp, **extra}
    save_train_state(out_dir, run.modules(), run.optimizers(), state)


def check_resumable(saved: dict, cfg: UpscaleTrainConfig, data_fp: dict, out_dir: Path) -> None:
    old = UpscaleTrainConfig.from_dict(saved["config"]).to_dict()
    new = cfg.to_dict()
    diff = sorted(k for k in (set(old) | set(new)) - RESUMABLE_CHANGES if old.get(k) != new.get(k))
    if diff:
        raise CheckpointError(
            f"{out_dir}: cannot resume, the config differs in {diff}; "
            "use --no-resume or another --out"
        )
    if saved["dataset"]["sha256"] != data_fp["sha256"]:
        raise CheckpointError(f"{out_dir}: cannot resume, the training photos changed")


def prepare(cfg: UpscaleTrainConfig, data_folder, out_dir: Path, resume: bool):
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    paths = list_photos(data_folder, "train")
    photos = PhotoCache(paths, cfg.cache_images)
    usable, val_idx = split_train_val(
        photo_sizes(paths), cfg.crop, cfg.val_images, cfg.val_crop, cfg.seed
    )
    data_fp = {**fingerprint(paths), "folder": str(data_folder), "split": "train"}
    out_dir.mkdir(parents=True, exist_ok=True)
    run = build_run(cfg, torch.device(resolve_device(cfg.device)))
    if resume and has_train_state(out_dir):
        saved = json.loads((out_dir / "train_state.json").read_text())
        check_resumable(saved, cfg, data_fp, out_dir)
        load_train_state(out_dir, run.modules(), run.optimizers())
        run.step = int(saved["step"])
        drop_metrics_after(out_dir / "metrics.jsonl", run.step)
    else:
        (out_dir / "metrics.jsonl").write_text("")
    val = validation_pairs(photos, val_idx, cfg.val_crop)
    atomic_write_json(
        out_dir / "config.json",
        {
            "config": cfg.to_dict(),
            "dataset": data_fp,
            "val_photos": [str(paths[i]) for i in val_idx],
        },
    )
    return run, photos, usable, val, data_fp


def train_upscaler(
    config: UpscaleTrainConfig,
    data_folder,
    out_dir,
    on_progress: Callable | None = None,
    should_stop: Callable | None = None,
    resume: bool = True,
) -> Path:
    """Train (or resume) until config.steps or config.max_minutes; returns out_dir."""
    out_dir = Path(out_dir)
    cfg = config
    run, photos, usable, val, data_fp = prepare(cfg, data_folder, out_dir, resume)
    spec = cfg.pair_spec()
    baseline = float(psnr_y(lanczos_x4(val[0]), val[1]).mean())
    start = since = time.monotonic()
    window: list[dict] = []
    stopped = "steps"
    while run.step < cfg.steps:
        if cfg.max_minutes is not None and time.monotonic() - start > cfg.max_minutes * 60:
            stopped = "max_minutes"
            break
        if should_stop is not None and should_stop():
            stopped = "should_stop"
            break
        lo, hi = make_batch(photos, usable, spec, cfg.seed, run.step, cfg.batch_size)
        stats = train_step(run, lo.to(run.device), hi.to(run.device))
        window.append(stats)
        run.step += 1
        if run.step % cfg.log_every == 0 or run.step == cfg.steps:
            since = log_metrics(run, window, since, val, baseline, out_dir)
            window = []
        if on_progress is not None:
            on_progress(
                {"step": run.step, "total_steps": cfg.steps, "images": cfg.batch_size, **stats}
            )
        if run.step % cfg.save_every == 0:
            write_outputs(run, out_dir, val, data_fp, {"stopped": "running"})
    minutes = (time.monotonic() - start) / 60
    write_outputs(run, out_dir, val, data_fp, {"stopped": stopped, "last_minutes": minutes})
    return out_dir


def log_metrics(run: Run, window, since: float, val, baseline: float, out_dir: Path) -> float:
    now = time.monotonic()
    row = {k: sum(s[k] for s in window) / len(window) for k in window[0]}
    row.update(
        step=run.step,
        images_per_s=len(window) * run.cfg.batch_size / max(now - since, 1e-9),
        val_psnr_y=validate(run.ema, val, run.device),
        val_psnr_y_lanczos=baseline,
        time=time.time(),
    )
    with open(out_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
    return time.monotonic()
