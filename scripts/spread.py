"""How spread out a generator's images are, against the held-out real images, per feature space.

Recall (Kynkaanniemi et al. 2019) counts a real image as covered when it falls inside the
k-nearest-neighbour ball of some generated image, so it rises with the size of those balls: a
generator whose images sit closer together than the real ones (a less diverse one) loses recall,
and one that scatters odd images (a garbled one) gains it. This prints the median and 99th
percentile k-NN radius (k = 5, as recall uses) of each model's images and of the held-out split's,
at equal set sizes (the generated set is sized to the held-out one), and their ratio: below 1 the
generator is more concentrated than the data, above 1 more scattered. It also prints each model's
recall per held-out class (which real images its balls miss, by class), and three pixel
statistics of the held-out images it misses against those it covers (median and 90th percentile
of brightness, contrast and detail), to tell what kind of image a generator leaves out.

    python scripts/spread.py --data fashion-mnist --split val \\
        --models runs/fm_g24ms/snapshots/step_0016870 runs/fm_dcgan/snapshots/step_0004210
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gan.checkpoint import load_generator
from gan.evaluate import DEFAULT_EXTRACTORS, generate_eval_set
from gan.extractors import build_extractors
from gan.metrics import PR_K, kth_nn_radius, recalled
from gan.splits import load_splits
from gan.sr_metrics import laplacian4


def radii(features: torch.Tensor) -> dict:
    r = kth_nn_radius(features.float(), PR_K)
    q50, q99 = r.quantile(torch.tensor([0.5, 0.99])).tolist()
    return {"median": q50, "p99": q99}


def pixel_stats(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image of (N, C, H, W) uint8: mean (brightness), standard deviation (contrast) and mean
    absolute 4-neighbour Laplacian (detail: prints, seams, texture)."""
    x = images.float()
    return {
        "brightness": x.mean((1, 2, 3)),
        "contrast": x.std((1, 2, 3)),
        "detail": laplacian4(x).abs().mean((1, 2, 3)),
    }


def missed_vs_recalled(stats: dict[str, torch.Tensor], hit: torch.Tensor) -> dict:
    q = torch.tensor([0.5, 0.9])
    return {
        name: {
            group: [round(v, 2) for v in values[mask].quantile(q).tolist()] if mask.any() else None
            for group, mask in (("missed", ~hit), ("recalled", hit))
        }
        for name, values in stats.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--models", nargs="+", required=True, type=Path)
    ap.add_argument("--out", type=Path, help="also write the numbers here (JSON)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    loaded = [load_generator(m) for m in a.models]
    meta = loaded[0][1]
    splits = load_splits(a.data, meta["image_size"], meta["channels"])
    if any(m["class_names"] != splits.class_names for _, m in loaded):
        ap.error("every model must have the data's classes, in the data's order")
    held = splits.held_out(a.split)
    counts = torch.bincount(held.labels[held.labels >= 0], minlength=len(splits.class_names))
    held_stats = pixel_stats(held.images)
    extractors = build_extractors(list(DEFAULT_EXTRACTORS), splits.fit, None, None)
    images = {
        str(m): generate_eval_set(g, counts.tolist())[0] for m, (g, _) in zip(a.models, loaded)
    }
    report: dict = {
        "data": a.data,
        "split": a.split,
        "k": PR_K,
        "num_images": len(held),
        "spaces": {},
    }
    for ex in extractors:
        real_feats = ex.features(held.images)
        real = radii(real_feats)
        space = {"held_out": real}
        for name, imgs in images.items():
            feats = ex.features(imgs)
            gen = radii(feats)
            hit = recalled(real_feats.float(), feats.float())
            rate = hit.float()
            per_class = {  # classes the split holds no image of are left out
                c: round(rate[held.labels == i].mean().item(), 4)
                for i, c in enumerate(splits.class_names)
                if counts[i] > 0
            }
            space[name] = {
                **gen,
                "median_over_real": gen["median"] / real["median"],
                "recall": rate.mean().item(),
                "recall_per_class": per_class,
                "missed_vs_recalled_median_p90": missed_vs_recalled(held_stats, hit),
            }
        report["spaces"][ex.name] = space
        print(ex.name, json.dumps(space))
    if a.out:
        a.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
