"""In-process measurements: the bare generator, a bare generate-encode-store loop, the upscaler and
the catalogue workload with and without it (no queue, no SQL)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from gan.sampling import sample
from gan.upscaler import macs, upscale
from jobs import service
from jobs.encode import CONTENT_TYPES, EXTENSIONS, encode, to_pil
from jobs.kinds.catalogue_fill.render import encode_tile, tile_enlargement
from jobs.kinds.catalogue_fill.spec import CatalogueFillSpec
from jobs.kinds.planning import upscale_passes
from jobs.quality import Scorer, choose_best
from jobs.seeds import sku_seeds


def _labels_seeds(n: int, num_classes: int, start: int = 0) -> tuple[list[int], list[int]]:
    return [(start + i) % num_classes for i in range(n)], list(range(start, start + n))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _ips(generator, device: str, bs: int, min_seconds: float, precision: str) -> float:
    """Images/s of gan.sample at one batch size: one warm-up call, then whole calls for >=
    min_seconds."""
    labels, seeds = _labels_seeds(bs, generator.cfg.num_classes)
    sample(
        generator, labels, seeds, batch_size=bs, precision=precision
    )  # warm-up (allocator, cuDNN autotune)
    _sync(device)
    calls, started = 0, time.perf_counter()
    while True:
        sample(
            generator, labels, seeds, batch_size=bs, precision=precision
        )  # CPU uint8 out: includes the copy
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds and calls >= 2:
            return round(calls * bs / elapsed, 1)


def generator_ips(generator, device: str, batch_sizes, min_seconds: float, precision: str) -> dict:
    """Per batch size at the workers' precision; plus fp32 at the best batch size when that
    differs."""
    per_batch = {str(bs): _ips(generator, device, bs, min_seconds, precision) for bs in batch_sizes}
    best = max(per_batch, key=per_batch.get)
    out = {
        "precision": precision,
        "per_batch_size": per_batch,
        "best_batch_size": int(best),
        "best_ips": per_batch[best],
    }
    if precision != "fp32":
        out["fp32_at_best_batch_ips"] = _ips(generator, device, int(best), min_seconds, "fp32")
    return out


def bare_loop(
    generator, store, prefix: str, count: int, batch_size: int, label: int, fmt: str, precision: str
) -> dict:
    """The same work as a worker, in a plain loop: sample a batch, encode each image, put it in the
    store."""
    started = time.perf_counter()
    spent = {"generate_s": 0.0, "encode_s": 0.0, "store_s": 0.0}
    stored = 0
    for start in range(0, count, batch_size):
        n = min(batch_size, count - start)
        t0 = time.perf_counter()
        pixels = sample(
            generator,
            [label] * n,
            list(range(start, start + n)),
            batch_size=batch_size,
            precision=precision,
        ).numpy()
        t1 = time.perf_counter()
        spent["generate_s"] += t1 - t0
        for i, img in enumerate(pixels):
            t1 = time.perf_counter()
            data = encode(to_pil(img), fmt)
            t2 = time.perf_counter()
            store.put_new(
                f"{prefix}{start + i:05d}.{EXTENSIONS[fmt]}",
                data,
                CONTENT_TYPES[fmt],
                {"synthetic": "true", "bench": "bare_loop"},
            )
            spent["encode_s"] += t2 - t1
            spent["store_s"] += time.perf_counter() - t2
            stored += 1
    wall = time.perf_counter() - started
    return {
        "images": count,
        "stored": stored,
        "batch_size": batch_size,
        "precision": precision,
        "wall_s": round(wall, 3),
        "ips": round(count / wall, 1),
        **{k: round(v, 3) for k, v in spent.items()},
    }


def cuda_memory_mb() -> dict | None:
    if not torch.cuda.is_initialized():
        return None
    return {
        "max_allocated_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "max_reserved_mb": round(torch.cuda.max_memory_reserved() / 2**20, 1),
        "device_name": torch.cuda.get_device_name(),
    }


SHOPIFY_HEADER = (
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,"
    "Option1 Value,Variant SKU,Variant Price,Image Src,Image Position,Image Alt Text,Variant Image,"
    "Status"
)


def shopify_export(products: int, category: str) -> str:
    """A Shopify product export of PRODUCTS products (one record each, a two-line HTML body, the
    category a taxonomy path ending in the model class), none naming an image."""
    lines = [SHOPIFY_HEADER]
    for i in range(products):
        lines.append(
            f'bench-p-{i:06d},"Product {i}, blue","<p>Soft; light.</p>\r\n<p>Size {i % 7}</p>",'
            f"Acme,Apparel & Accessories > Clothing > {category},,,TRUE,Title,Default Title,"
            f"BP-{i:06d},19.00,,,,,active"
        )
    return "\r\n".join(lines) + "\r\n"


def fill_catalogue_bucket(store, products: int, objects: int) -> dict:
    """OBJECTS objects under catalogue/ (the first one in five products of the export gets a real
    photo, the rest belong to SKUs outside it); keys are fixed, so a rerun adds only what is
    missing."""
    photos = [f"catalogue/bench-p-{i:06d}/photo.jpg" for i in range(0, products, 5)][:objects]
    others = [f"catalogue/bench-other-{j:06d}/photo.jpg" for j in range(objects - len(photos))]
    missing = sorted(set(photos + others) - set(store.list("catalogue/bench-")))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put_new(k, b"real photo", "image/jpeg", {}), missing))
    return {"bucket_objects": len(photos) + len(others), "real_photos": len(photos)}


def catalogue_submit(sf, settings, store, rows: int, objects: int, category: str) -> dict:
    """Time service.submit of a ROWS-product Shopify export (its text in the spec: read, checked
    against one listing of a bucket holding OBJECTS catalogue objects, planned, and one transaction
    with every row), then cancel it. The bucket is filled before the clock starts."""
    bucket = fill_catalogue_bucket(store, rows, objects)
    spec = {
        "kind": "catalogue_fill",
        "priority": "bulk",
        "catalogue": shopify_export(rows, category),
        "catalogue_format": "auto",
    }
    started = time.perf_counter()
    job = service.submit(sf, settings, spec)
    wall = time.perf_counter() - started
    service.cancel_job(sf, job.id)  # timed, not run: its items never reach a worker
    return {
        "rows": rows,
        "format": job.spec["catalogue_format"],
        "file_bytes": len(spec["catalogue"].encode()),
        **bucket,
        "wall_s": round(wall, 3),
        "work_items": job.total_items,
        "skus_to_generate": job.total_images,
    }


def catalogue_bare_loop(
    generator,
    store,
    prefix: str,
    model,
    category: str,
    tiles: int,
    batch_size: int,
    precision: str,
    upscale_mode: str = "off",
    upscaler=None,
    pass_batch: int = 1,
) -> dict:
    """The catalogue workload in a plain loop: per SKU, K seeded candidates (batched), the best kept
    by its classifier score, with upscale_mode (auto: x4 passes as the worker plans them, only
    the chosen candidate, ``pass_batch`` images per pass), an 800 px JPEG tile, stored. Same spec
    defaults and code as the catalogue-fill kind."""
    spec = CatalogueFillSpec(
        kind="catalogue_fill", rows=[{"sku": "X", "category": category}], upscale=upscale_mode
    )
    passes = upscale_passes(spec.upscale, tile_enlargement(spec.size, model.image_size), model)
    if passes and upscaler is None:
        raise ValueError(f"upscale {upscale_mode}: the loop needs the model's upscaler")
    k, label, scorer = spec.candidates, model.class_names.index(category), Scorer()
    per_batch = max(1, batch_size // k)  # SKUs per forward pass
    started, stored, upscale_s = time.perf_counter(), 0, 0.0
    for start in range(0, tiles, per_batch):
        skus = [f"BARE-{i:06d}" for i in range(start, min(tiles, start + per_batch))]
        seeds = [s for sku in skus for s in sku_seeds(sku, model.version, k)]
        pixels = sample(
            generator, [label] * len(seeds), seeds, batch_size=batch_size, precision=precision
        ).numpy()
        choices = [
            choose_best(scorer, model.uri, pixels[j * k : (j + 1) * k], category)
            for j in range(len(skus))
        ]
        chosen = np.stack([pixels[j * k + c.best] for j, c in enumerate(choices)])
        if passes:
            t0 = time.perf_counter()
            device = next(upscaler.parameters()).device
            chosen = upscale(upscaler, chosen, passes, device, pass_batch)
            upscale_s += time.perf_counter() - t0
        for j, sku in enumerate(skus):
            tile = encode_tile(chosen[j], spec.size, spec.format, spec.background)
            store.put_new(
                f"{prefix}{sku}.{EXTENSIONS[spec.format]}",
                tile.data,
                CONTENT_TYPES[spec.format],
                {"synthetic": "true", "bench": "catalogue_bare"},
            )
            stored += 1
    wall = time.perf_counter() - started
    return {
        "tiles": tiles,
        "stored": stored,
        "candidates": k,
        "size": spec.size,
        "format": spec.format,
        "upscale": upscale_mode,
        "upscale_passes": passes,
        "upscale_s": round(upscale_s, 3),
        "wall_s": round(wall, 3),
        "ips": round(tiles / wall, 1),
    }


def _timed_ips(run, images: int, device: str, min_seconds: float) -> float:
    """Images/s of run() (one warm-up call, then whole calls for >= min_seconds)."""
    run()
    _sync(device)
    calls, started = 0, time.perf_counter()
    while True:
        run()
        _sync(device)
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds and calls >= 2:
            return round(calls * images / elapsed, 2)


def upscaler_speed(
    net, meta: dict, generator, model, device: str, images: int, pass_batch: int, min_seconds: float
) -> dict:
    """The upscale stage's cost: MACs per x4 pass of a 128 px sample (from the layer shapes),
    x4 passes/s of 128 px samples, and upscaled catalogue tiles/s (800 px tiles: the generator's
    native samples through the passes the worker plans for them, before the final resize)."""
    label = 0
    native = sample(generator, [label] * images, range(images)).numpy()
    size = CatalogueFillSpec.model_fields["size"].default
    passes = upscale_passes("x4", tile_enlargement(size, model.image_size), model)
    channels = native.shape[-1]
    mode = "L" if channels == 1 else "RGB"
    big = np.stack(
        [
            np.asarray(
                Image.fromarray(p[..., 0] if channels == 1 else p, mode).resize(
                    (128, 128), Image.Resampling.LANCZOS
                )
            ).reshape(128, 128, channels)
            for p in native
        ]
    )
    return {
        "name": model.upscaler.name,
        "version": model.upscaler.version,
        "sha256": model.upscaler.sha256,
        "config": meta["config"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "macs_per_128px_sample": macs(net.cfg, 128, 128),
        "gmac_per_128px_sample": round(macs(net.cfg, 128, 128) / 1e9, 3),
        "device": device,
        "pass_batch_size": pass_batch,
        "x4_128px_ips": _timed_ips(
            lambda: upscale(net, big, 1, device, pass_batch), images, device, min_seconds
        ),
        "tile_size": size,
        "native_size": model.image_size,
        "tile_passes": passes,
        "upscaled_tiles_ips": _timed_ips(
            lambda: upscale(net, native, passes, device, pass_batch), images, device, min_seconds
        ),
    }
