"""Measure the generator's CPU settings: threads, batch size, fp32 vs bf16 autocast, channels_last.

Prints the model measured (arch, size, channels, classes: the default model is not always the
same network), one JSON line per setting and the pixel difference bf16 makes (per channel
value). Used to choose the worker's defaults (README, "Performance choices").
Usage: python scripts/measure_generator.py [MODEL]
"""

import json
import sys
import time

import torch

from gan.checkpoint import default_model_path, load_generator
from gan.sampling import latents


def images_per_s(gen, n, batch, precision, channels_last, repeats=3):
    z = latents(list(range(batch)), gen.cfg.latent_dim)
    y = torch.arange(batch) % gen.cfg.num_classes
    if channels_last:
        gen = gen.to(memory_format=torch.channels_last)
    best = 0.0
    with (
        torch.inference_mode(),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"),
    ):
        gen(z, y)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(max(1, n // batch)):
                gen(z, y)
            best = max(best, max(1, n // batch) * batch / (time.perf_counter() - start))
    return best


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else default_model_path()
    gen, meta = load_generator(path)
    print(
        json.dumps(
            {
                "model": str(path),
                "arch": gen.cfg.arch,  # as loaded: a checkpoint without an arch is sngan
                "image_size": meta["image_size"],
                "channels": meta["channels"],
                "classes": len(meta["class_names"]),
                "sha256": meta["sha256"],
            }
        ),
        flush=True,
    )
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (64, 256):
            for precision in ("fp32", "bf16"):
                for cl in (False, True):
                    ips = images_per_s(gen, 1024, batch, precision, cl)
                    print(
                        json.dumps(
                            {
                                "threads": threads,
                                "batch": batch,
                                "precision": precision,
                                "channels_last": cl,
                                "images_per_s": round(ips),
                            }
                        ),
                        flush=True,
                    )
    torch.set_num_threads(1)
    z, y = latents(list(range(256)), gen.cfg.latent_dim), torch.arange(256) % gen.cfg.num_classes
    with torch.inference_mode():
        a = ((gen(z, y) + 1) * 127.5).round().clamp(0, 255)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            b = ((gen(z, y).float() + 1) * 127.5).round().clamp(0, 255)
    diff = (a - b).abs()
    print(
        json.dumps(
            {
                "bf16_vs_fp32_pixels": {
                    "mean_abs": round(diff.mean().item(), 3),
                    "max_abs": diff.max().item(),
                    "share_changed": round((diff > 0).float().mean().item(), 3),
                }
            }
        )
    )


if __name__ == "__main__":
    main()
