"""The training loop, for every registered arch: its loss, TTUR, EMA generator, DiffAugment,
transitional conditioning, an optional auxiliary-classifier term, batches streamed from memory or
files.

The loop knows no architecture: networks come from gan.models.ARCHS through the model
config's `arch`, the objective from the arch's `loss` (gan.losses), and a discriminator's
auxiliary loss on real images (FastGAN's reconstructions) through `gan.models.score_real`.

`train(config, data, out_dir, on_progress=None, should_stop=None)` writes into out_dir:
config.json, metrics.jsonl, loss.png, samples/step_XXXXXXX.png, generator.{safetensors,json}
(the EMA generator) and train_state.{safetensors,json} (to resume after a kill).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from gan.augment import diff_augment
from gan.checkpoint import CheckpointError, atomic_write_json, save_generator
from gan.config import TrainConfig, parse_augment
from gan.device import bf16_fast, resolve_device
from gan.losses import d_loss, g_loss
from gan.models import (
    arch_spec,
    build_discriminator,
    build_generator,
    classifies,
    score_fake,
    score_real,
)
from gan.nets.layers import set_conditioning
from gan.plots import class_grid, loss_plot
from gan.stream import BatchStream, ImageSource
from gan.trainstate import has_train_state, load_train_state, save_train_state

# Fields that may differ between the run that wrote a train state and the one resuming it.
RESUMABLE_CHANGES = {
    "epochs",
    "max_minutes",
    "device",
    "amp",
    "num_threads",
    "sample_every",
    "log_every",
    "keep_snapshots",
}


def augment_ops(cfg: TrainConfig, num_images: int) -> tuple[str, ...]:
    ops = parse_augment(cfg.augment)
    if ops is None:  # auto: DiffAugment's full policy for small catalogues only
        return ("color", "translation", "cutout") if num_images < cfg.augment_below else ()
    return ops


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(127.5).sub_(1.0)


@dataclass
class Run:
    """Everything the loop mutates, in one place."""

    cfg: TrainConfig
    G: torch.nn.Module
    G_ema: torch.nn.Module
    D: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    device: torch.device
    loss: str  # gan.losses kind of the arch
    step: int = 0
    seconds: float = 0.0  # training wall time over every invocation (resumes included)

    def modules(self) -> dict:
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D}

    def optimizers(self) -> dict:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}


def build_run(cfg: TrainConfig, device: torch.device) -> Run:
    torch.manual_seed(cfg.seed)
    G = build_generator(cfg.model).to(device)
    D = build_discriminator(cfg.model).to(device)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    return Run(cfg, G, G_ema, D, opt_g, opt_d, device, arch_spec(cfg.model.arch).loss)


def d_step(run: Run, real: torch.Tensor, y: torch.Tensor, ops, amp, class_w: float) -> dict:
    """The arch's D loss, plus its auxiliary losses on the real images (if it has any)."""
    z = torch.randn(real.shape[0], run.cfg.model.latent_dim, device=run.device)
    with amp():
        with torch.no_grad():
            fake = run.G(z, y)
        d_real, aux = score_real(run.D, diff_augment(real, ops), y, class_w)
        d_fake = run.D(diff_augment(fake, ops), y)
        adv = d_loss(run.loss, d_real, d_fake)
        loss = adv + sum(v.float() for v in aux.values())
    run.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_d.step()
    return {
        "loss_d": adv.item(),
        "d_real": d_real.float().mean().item(),
        "d_fake": d_fake.float().mean().item(),
        **{("class_d" if k == "class" else k): v.item() for k, v in aux.items()},
    }


def mode_seeking_term(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's term for pairs (first half, second half) of a batch that share their classes:
    1 / (mean|x1 - x2| / mean|z1 - z2| + eps); small when different latents give different
    images."""
    h = fake.shape[0] // 2
    ratio = (fake[:h] - fake[h : 2 * h]).abs().mean() / (z[:h] - z[h : 2 * h]).abs().mean()
    return 1.0 / (ratio + eps)


def g_step(run: Run, y: torch.Tensor, ops, amp, class_w: float) -> dict:
    lam = run.cfg.mode_seeking
    if lam:  # pair image i with image i + B/2 under the same class
        h = y.shape[0] // 2
        y = torch.cat([y[:h], y[:h]])
    z = torch.randn(y.shape[0], run.cfg.model.latent_dim, device=run.device)
    run.D.requires_grad_(False)  # no weight gradients for D here: saves a third of its backward
    with amp():
        fake = run.G(z, y)
        scores, aux = score_fake(run.D, diff_augment(fake, ops), y, class_w)
        loss = g_loss(run.loss, scores)
        loss = loss + sum(v.float() for v in aux.values())
        stats = {("class_g" if k == "class" else k): v.item() for k, v in aux.items()}
        if lam:
            ms = mode_seeking_term(fake.float(), z)
            loss = loss + lam * ms
    run.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_g.step()
    run.D.requires_grad_(True)
    return {"loss_g": loss.item(), **stats, **({"mode_seeking": ms.item()} if lam else {})}


@torch.no_grad()
def update_ema(run: Run) -> None:
    """G_ema <- decay*G_ema + (1-decay)*G after ema_start steps (a plain copy before)."""
    decay = run.cfg.ema_decay if run.step >= run.cfg.ema_start else 0.0
    for p_ema, p in zip(run.G_ema.parameters(), run.G.parameters()):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(run.G_ema.buffers(), run.G.buffers()):
        b_ema.copy_(b)


@torch.no_grad()
def standing_stats(
    G: torch.nn.Module, num_classes: int, batches: int = 8, batch: int = 256
) -> torch.nn.Module:
    """A copy of G whose batch-norm statistics are re-estimated for its own (EMA) weights.

    "Standing statistics" (Brock et al. 2019, BigGAN): the running statistics of the trained G
    do not match the averaged weights; a fixed-seed pass (global RNG untouched) fixes that.
    """
    G = copy.deepcopy(G).train()
    bns = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(12345)
    with torch.no_grad():  # train mode still updates the statistics; no graph kept
        for _ in range(batches):
            z = torch.randn(batch, G.cfg.latent_dim, generator=gen).to(device)
            y = torch.randint(0, num_classes, (batch,), generator=gen).to(device)
            G(z, y)
    for bn in bns:
        bn.momentum = 0.1
    return G.eval().requires_grad_(False)


def write_outputs(run: Run, data: ImageSource, out_dir: Path, extra: dict) -> None:
    """Sample grid, generator checkpoint (EMA + standing stats), loss plot, train state."""
    G_eval = standing_stats(run.G_ema, run.cfg.model.num_classes)
    grid = class_grid(G_eval, data.class_names, run.cfg.grid_per_class, scale=2)
    (out_dir / "samples").mkdir(exist_ok=True)
    grid.save(out_dir / "samples" / f"step_{run.step:07d}.png")
    grid.save(out_dir / "samples.png")
    n = len(data)
    seen = run.step * run.cfg.batch_size * run.cfg.d_steps
    meta = {
        "class_names": list(data.class_names),
        "dataset": data.fingerprint(),
        "training": {
            "steps": run.step,
            "epochs": seen / n,
            "images_seen": seen,
            "train_seconds": round(run.seconds, 1),
            "device": run.device.type,
            "config": run.cfg.to_dict(),
            **extra,
        },
    }
    save_generator(out_dir, G_eval.cpu(), meta)
    if run.cfg.keep_snapshots:  # generator.json is written last: a snapshot with it is complete
        save_generator(out_dir / "snapshots" / f"step_{run.step:07d}", G_eval.cpu(), meta)
    loss_plot(out_dir / "metrics.jsonl", out_dir / "loss.png")
    save_train_state(
        out_dir,
        run.modules(),
        run.optimizers(),
        {
            "step": run.step,
            "train_seconds": run.seconds,
            "config": run.cfg.to_dict(),
            "dataset": data.fingerprint(),
            **extra,
        },
    )


def check_resumable(saved: dict, cfg: TrainConfig, fingerprint: dict, out_dir: Path) -> None:
    # Through from_dict: a field added since the run started takes its default (its old behaviour).
    old = {
        k: v
        for k, v in TrainConfig.from_dict(saved["config"]).to_dict().items()
        if k not in RESUMABLE_CHANGES
    }
    new = {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE_CHANGES}
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise CheckpointError(
            f"{out_dir}: cannot resume, the config differs in {diff}; "
            "use --no-resume or another --out"
        )
    if saved["dataset"]["sha256"] != fingerprint["sha256"]:
        raise CheckpointError(
            f"{out_dir}: cannot resume, the training data changed; use --no-resume or another --out"
        )


def drop_metrics_after(path: Path, step: int) -> None:
    """After a kill, forget the metrics logged past the train state being resumed."""
    if path.is_file():
        keep = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step
        ]
        path.write_text("".join(line + "\n" for line in keep))


def prepare(
    cfg: TrainConfig, data: ImageSource, out_dir: Path, resume: bool
) -> tuple[Run, ImageSource]:
    if (data.image_size, data.channels, len(data.class_names)) != (
        cfg.model.image_size,
        cfg.model.channels,
        cfg.model.num_classes,
    ):
        raise ValueError(
            f"data is {data.image_size}px x{data.channels} with {len(data.class_names)} classes "
            f"but the model config wants {cfg.model.image_size}px x{cfg.model.channels} "
            f"with {cfg.model.num_classes}"
        )
    if len(data) < cfg.batch_size:
        raise ValueError(f"{len(data)} images is fewer than batch_size={cfg.batch_size}")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = build_run(cfg, torch.device(resolve_device(cfg.device)))
    if cfg.class_loss and not classifies(run.D):
        raise ValueError(f"class_loss={cfg.class_loss}: arch {cfg.model.arch!r} has no class head")
    if resume and has_train_state(out_dir):
        saved = json.loads((out_dir / "train_state.json").read_text())
        check_resumable(saved, cfg, data.fingerprint(), out_dir)
        load_train_state(out_dir, run.modules(), run.optimizers())
        run.step = int(saved["step"])
        run.seconds = float(saved.get("train_seconds", 0.0))
        drop_metrics_after(out_dir / "metrics.jsonl", run.step)
    else:
        (out_dir / "metrics.jsonl").write_text("")
    atomic_write_json(
        out_dir / "config.json",
        {"config": cfg.to_dict(), "dataset": data.fingerprint(), "skipped_images": data.skipped},
    )
    return run, data


def train(
    config: TrainConfig,
    data: ImageSource,
    out_dir,
    on_progress: Callable | None = None,
    should_stop: Callable | None = None,
    resume: bool = True,
) -> Path:
    """Train (or resume) until config.epochs or config.max_minutes; returns out_dir."""
    out_dir = Path(out_dir)
    run, data = prepare(config, data, out_dir, resume)
    cfg, n = config, len(data)
    total_steps = math.ceil(cfg.epochs * (n // cfg.batch_size) / cfg.d_steps)
    ops = augment_ops(cfg, n)
    # bf16 autocast (no loss scaling needed) where it is fast; weights and losses stay fp32
    use_amp = cfg.amp and bf16_fast(run.device)
    kind = run.device.type
    amp = (lambda: torch.autocast(kind, dtype=torch.bfloat16)) if use_amp else nullcontext
    stream = BatchStream(
        data, cfg.batch_size, cfg.seed, run.step * cfg.d_steps, cfg.flip, cfg.class_balance
    )
    try:
        stopped = loop(run, data, stream, total_steps, ops, amp, out_dir, on_progress, should_stop)
    finally:
        stream.close()
    write_outputs(run, data, out_dir, {"stopped": stopped, "augment": list(ops)})
    return out_dir


def loop(run, data, stream, total_steps, ops, amp, out_dir, on_progress, should_stop) -> str:
    """Steps until the end, the wall-time limit or should_stop(); returns why it stopped."""
    cfg, n = run.cfg, len(data)
    start = last_log = time.monotonic()
    window: list[dict] = []
    while run.step < total_steps:
        if cfg.max_minutes is not None and time.monotonic() - start > cfg.max_minutes * 60:
            return "max_minutes"
        if should_stop is not None and should_stop():
            return "should_stop"
        tick = time.monotonic()
        strength = cfg.conditioning(run.step)
        set_conditioning(run.G, strength)
        set_conditioning(run.D, strength)
        class_w = cfg.class_loss * strength
        stats = {}
        for _ in range(cfg.d_steps):
            x, y = next(stream)
            y = y.to(run.device)
            stats.update(d_step(run, to_float(x.to(run.device)), y, ops, amp, class_w))
        stats.update(g_step(run, y, ops, amp, class_w))
        if cfg.cond_ramp or cfg.cond_start:
            stats["conditioning"] = strength
        run.step += 1
        update_ema(run)
        run.seconds += time.monotonic() - tick
        window.append(stats)
        if run.step % cfg.log_every == 0 or run.step == total_steps:
            last_log = log_metrics(run, window, last_log, n, out_dir)
            window = []
        if on_progress is not None:
            on_progress(
                {
                    "step": run.step,
                    "total_steps": total_steps,
                    "images": cfg.batch_size * cfg.d_steps,
                    **stats,
                }
            )
        if run.step % cfg.sample_every == 0:
            write_outputs(run, data, out_dir, {"stopped": "running", "augment": list(ops)})
    return "epochs"


def log_metrics(run: Run, window: list[dict], since: float, n: int, out_dir: Path) -> float:
    now = time.monotonic()
    row = {k: sum(s[k] for s in window) / len(window) for k in window[0]}
    imgs = len(window) * run.cfg.batch_size * run.cfg.d_steps
    row.update(
        step=run.step,
        epoch=run.step * run.cfg.batch_size * run.cfg.d_steps / n,
        images_per_s=imgs / max(now - since, 1e-9),
        time=time.time(),
    )
    with open(out_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
    return now
