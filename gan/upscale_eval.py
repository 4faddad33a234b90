"""How well an upscaler restores the test photos: ours vs bicubic vs Lanczos.

Each test photo (the `test` rows of the folder's splits.csv) is cropped to a multiple of 4,
down-scaled x4 with bicubic (Pillow, antialiased), and restored x4 by each method; PSNR on Y
(BT.601) and SSIM (Wang et al. 2004) against the photo are averaged over images
(gan/sr_metrics.py). Sharpness is the variance of the Laplacian of the restored images, beside
that of the real photos of the same size; closer to the photos' is better.

`evaluate_generated` asks the same of what the upscaler is for, generator samples, which have
no ground truth: N samples per class (fixed seeds) are enlarged x4 (one pass) and x16 (two
passes) by ours and by Lanczos, and the variance of the Laplacian of each is set beside that
of real test photos of the same size (REAL_PHOTOS_AT_SIZE says how those are made).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from gan.data import fit_square
from gan.sampling import sample
from gan.sr_metrics import laplacian_variance, psnr_y, ssim
from gan.upscale_data import list_photos, photo_sizes
from gan.upscaler import upscale

BASELINES = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}


def x4_pair(path) -> tuple[np.ndarray, np.ndarray]:
    """(low-res uint8 HWC, truth uint8 HWC): the photo cropped to a multiple of 4 and x4 down."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    w, h = rgb.width // 4 * 4, rgb.height // 4 * 4
    truth = rgb.crop((0, 0, w, h))
    lo = truth.resize((w // 4, h // 4), Image.Resampling.BICUBIC)
    return np.asarray(lo), np.asarray(truth)


def restore(method: str, net: nn.Module, lo: np.ndarray) -> np.ndarray:
    if method == "ours":
        return upscale(net, lo[None], 1, next(net.parameters()).device)[0]
    size = (lo.shape[1] * 4, lo.shape[0] * 4)
    return np.asarray(Image.fromarray(lo).resize(size, BASELINES[method]))


def _float(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255


def evaluate_upscaler(net: nn.Module, data_folder, split="test", limit=None) -> dict:
    """{"images", "methods": {name: {psnr_y, ssim, sharpness}}, "real_sharpness", ...}."""
    paths = list_photos(data_folder, split)[:limit]
    rows: dict[str, list] = {m: [] for m in ("ours", *BASELINES)}
    real = []
    for path in paths:
        lo, truth = x4_pair(path)
        real.append(laplacian_variance(truth))
        t = _float(truth)
        for method, acc in rows.items():
            out = restore(method, net, lo)
            o = _float(out)
            acc.append((float(psnr_y(o, t)[0]), float(ssim(o, t)[0]), laplacian_variance(out)))
    methods = {
        m: dict(zip(("psnr_y", "ssim", "sharpness"), np.mean(np.array(v), axis=0).tolist()))
        for m, v in rows.items()
    }
    gain = {k: methods["ours"][k] - methods["lanczos"][k] for k in ("psnr_y", "ssim", "sharpness")}
    return {
        "images": len(paths),
        "split": split,
        "degradation": "crop to a multiple of 4, bicubic x4 down (Pillow)",
        "methods": methods,
        "real_sharpness": float(np.mean(real)),
        "ours_minus_lanczos": gain,
    }


# ---------------------------------------------------------------- generated samples

REAL_PHOTOS_AT_SIZE = (
    "each test photo (splits.csv) read from its original file by gan.data.fit_square: longest "
    "side resized to S with Lanczos (Pillow; a down-scale or identity, never an enlargement, "
    "because S is at most the smallest original's longest side), centred on a square of the "
    "photo's border colour; grey ('L') for a 1-channel generator, RGB otherwise"
)
ABOVE_PHOTO_SIZE = (
    "where the enlarged side exceeds the smallest original's longest side there are no real "
    "photos that large: the enlarged samples (ours and Lanczos alike) are Lanczos-shrunk to "
    "that side and compared there (measured_at); *_full_size is their sharpness unshrunk"
)
SCALES = {"x4": 1, "x16": 2}  # name -> passes of our x4 net; Lanczos is one resize of x4^passes


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


def _hwc(img: Image.Image) -> np.ndarray:
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def lanczos_resize(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 (N, H, W, C) square images -> (N, side, side, C) by one Pillow Lanczos resize."""
    return np.stack(
        [_hwc(_pil(im).resize((side, side), Image.Resampling.LANCZOS)) for im in images]
    )


def sharpness_stats(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "median": float(np.median(v))}


def gap_closed(ours: float, lanczos: float, real: float) -> float | None:
    """(ours - lanczos) / (real - lanczos): 0 is Lanczos, 1 is the real photos' sharpness, above
    1 overshoots them; None where Lanczos already matches the photos."""
    gap = real - lanczos
    return None if abs(gap) < 1e-9 else float((ours - lanczos) / gap)


def real_photos_at(paths, sides, channels: int) -> dict[int, np.ndarray]:
    """{side: uint8 (N, side, side, C)}: every photo through fit_square at each side asked."""
    out: dict[int, list] = {side: [] for side in sides}
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                for side in sides:
                    out[side].append(_hwc(fit_square(img, side, channels)))
    return {side: np.stack(v) for side, v in out.items()}


def generated_samples(generator, per_class: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """uint8 (classes * per_class, S, S, C), class-major; sample i of every class uses seed
    seed + i, so a larger per_class keeps the first samples."""
    labels = [c for c in range(generator.cfg.num_classes) for _ in range(per_class)]
    seeds = [seed + i for _ in range(generator.cfg.num_classes) for i in range(per_class)]
    return sample(generator, labels, seeds).numpy(), labels


def enlarge(net: nn.Module, images: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """{"ours": ..., "lanczos": ...} of uint8 (N, S, S, C) enlarged by the scale `name`."""
    passes = SCALES[name]
    side = images.shape[1] * net.cfg.scale**passes
    device = next(net.parameters()).device
    return {
        "ours": upscale(net, images, passes, device),
        "lanczos": lanczos_resize(images, side),
    }


def evaluate_generated(
    net: nn.Module,
    generator,
    data_folder,
    per_class: int = 10,
    seed: int = 0,
    split: str = "test",
    real_limit: int | None = None,
    chunk: int = 8,
) -> dict:
    """Sharpness (variance of the Laplacian, mean over images) of generator samples enlarged
    x4 and x16 by ours and by Lanczos, beside real photos of the same size (see the module doc,
    REAL_PHOTOS_AT_SIZE and ABOVE_PHOTO_SIZE)."""
    if per_class < 1:
        raise ValueError(f"per_class={per_class}: must be >= 1")
    cfg = generator.cfg
    native, channels = cfg.image_size, cfg.channels
    samples, _ = generated_samples(generator, per_class, seed)
    sizes = {name: native * net.cfg.scale**p for name, p in SCALES.items()}
    paths = list_photos(data_folder, split)[:real_limit]
    longest = [max(wh) for wh in photo_sizes(paths)]
    measured_at = {name: min(side, min(longest)) for name, side in sizes.items()}
    real = real_photos_at(paths, sorted({native, *measured_at.values()}), channels)
    real_sharp = {s: [laplacian_variance(im) for im in real[s]] for s in measured_at.values()}

    acc = {n: {m: {"at": [], "full": []} for m in ("ours", "lanczos")} for n in SCALES}
    for start in range(0, len(samples), chunk):  # x16 of a 64 px batch is 1024 px: stream it
        part = samples[start : start + chunk]
        for name in SCALES:
            for method, big in enlarge(net, part, name).items():
                acc[name][method]["full"] += [laplacian_variance(im) for im in big]
                if measured_at[name] < sizes[name]:
                    big = lanczos_resize(big, measured_at[name])
                acc[name][method]["at"] += [laplacian_variance(im) for im in big]

    scales = {}
    for name, side in sizes.items():
        at = measured_at[name]
        ours, lz = (sharpness_stats(acc[name][m]["at"]) for m in ("ours", "lanczos"))
        rl = sharpness_stats(real_sharp[at])
        row = {
            "size": side,
            "passes": SCALES[name],
            "measured_at": at,
            "ours": ours["mean"],
            "lanczos": lz["mean"],
            "real": rl["mean"],
            "gap_closed": gap_closed(ours["mean"], lz["mean"], rl["mean"]),
            "closer_to_real": abs(ours["mean"] - rl["mean"]) < abs(lz["mean"] - rl["mean"]),
            "median": {"ours": ours["median"], "lanczos": lz["median"], "real": rl["median"]},
        }
        if at < side:
            for m in ("ours", "lanczos"):
                row[f"{m}_full_size"] = sharpness_stats(acc[name][m]["full"])["mean"]
        scales[name] = row
    return {
        "measure": "variance of the 4-neighbour Laplacian of the grey image (0..255), mean over "
        "images (gan.sr_metrics.laplacian_variance); gap_closed = (ours - lanczos) / "
        "(real - lanczos)",
        "native_size": native,
        "channels": channels,
        "classes": cfg.num_classes,
        "per_class": per_class,
        "samples": len(samples),
        "seeds": f"sample i of every class uses seed {seed} + i (gan.sampling.sample, fp32)",
        "lanczos": "one Pillow Lanczos resize from the native sample to the enlarged side",
        "ours": "our x4 net, one pass for x4 and two for x16 (gan.upscaler.upscale)",
        "real": {
            "folder": str(data_folder),
            "split": split,
            "images": len(paths),
            "original_longest_side": {"min": int(min(longest)), "max": int(max(longest))},
            "how": REAL_PHOTOS_AT_SIZE,
            "above_photo_size": ABOVE_PHOTO_SIZE,
        },
        "native": {
            "generated": sharpness_stats([laplacian_variance(im) for im in samples])["mean"],
            "real": sharpness_stats([laplacian_variance(im) for im in real[native]])["mean"],
        },
        "scales": scales,
    }


FIGURE_COLUMNS = ("native", "Lanczos x4", "ours x4", "Lanczos x16", "ours x16")


def _tile(image: np.ndarray, tile: int) -> Image.Image:
    """The whole image nearest-enlarged by an integer factor to at most `tile` (centred), or,
    when larger than `tile`, its centre crop at 1:1."""
    img = _pil(image).convert("RGB")
    side = img.width
    if side > tile:
        off = (side - tile) // 2
        return img.crop((off, off, off + tile, off + tile))
    k = max(1, tile // side)
    img = img.resize((side * k, side * k), Image.Resampling.NEAREST)
    if img.width == tile:
        return img
    canvas = Image.new("RGB", (tile, tile), "white")
    canvas.paste(img, ((tile - img.width) // 2, (tile - img.height) // 2))
    return canvas


def column_titles(native: int, tile: int, scale: int = 4) -> list[str]:
    """How each figure column is shown: nearest-enlarged whole, or a 1:1 centre crop."""
    titles = []
    for title, side in zip(FIGURE_COLUMNS, (native, *(native * scale**p for p in (1, 1, 2, 2)))):
        if side > tile:
            titles.append(f"{title} ({side} px, centre {tile} px 1:1)")
        else:
            titles.append(f"{title} ({side} px, nearest x{max(1, tile // side)})")
    return titles


def generated_figure(
    net: nn.Module, generator, class_names, per_class: int = 2, seed: int = 0, tile: int = 256
) -> Image.Image:
    """Rows: `per_class` samples of every class (seeds as evaluate_generated's); columns:
    FIGURE_COLUMNS, each tile `tile` px (see _tile for how each is shown)."""
    samples, labels = generated_samples(generator, per_class, seed)
    x4, x16 = enlarge(net, samples, "x4"), enlarge(net, samples, "x16")
    columns = [samples, x4["lanczos"], x4["ours"], x16["lanczos"], x16["ours"]]
    pad, margin, head = 2, 78, 16
    rows = len(samples)
    canvas = Image.new(
        "RGB",
        (margin + len(columns) * (tile + pad) + pad, head + rows * (tile + pad) + pad),
        "white",
    )
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    titles = column_titles(samples.shape[1], tile, net.cfg.scale)
    for j, title in enumerate(titles):
        draw.text((margin + pad + j * (tile + pad), 2), title, fill="black", font=font)
    for i in range(rows):
        y = head + pad + i * (tile + pad)
        draw.text((4, y + tile // 2 - 6), str(class_names[labels[i]])[:12], fill="black", font=font)
        for j, images in enumerate(columns):
            canvas.paste(_tile(images[i], tile), (margin + pad + j * (tile + pad), y))
    return canvas
