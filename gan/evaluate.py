"""`assetgen evaluate`: a generator scored in several feature spaces, against real images.

Per feature extractor (gan/extractors.py: two trained classifiers of different architectures
and seeds, and a random network):
- Frechet distance (Heusel et al. 2017) and KID (Binkowski et al. 2018);
- precision / recall (Kynkaanniemi et al. 2019), density / coverage (Naeem et al. 2020);
- class consistency (classifiers only): how often the classifier names the requested class;
- the memorisation ratio: median nearest-neighbour distance of generated images to the real
  images a generator may have trained on, over the same for held-out real images (about 1: no
  closer than new real photos; towards 0: copies), in the same extractor's feature space.

Every number comes with the real images' own score, so "at least 0.8x real" can be read: a
real train subset with the generated set's class counts scored like the generated set (its
class consistency is the classifier's accuracy on the held-out images themselves).

`split="val"` (the default) scores against the validation split carved from train: use it
for every choice of snapshot or recipe. `split="test"` is for the report, once. The
extractors are trained on the fit split (train minus validation) and never see either.

A baseline (e.g. the classic DCGAN of gan/classic.py, unconditional) is scored in the same
spaces against the same images, so "model vs classic" ratios come out per extractor.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from gan.data import ImageDataset
from gan.extractors import Extractor, ExtractorSpec, build_extractors
from gan.metrics import (
    Gaussian,
    confusion_matrix,
    frechet_distance,
    gaussian,
    kernel_inception_distance,
    memorisation,
    precision_recall,
)
from gan.sampling import sample
from gan.splits import Splits, check_split, concat, load_splits

EVAL_SEED_BASE = 10_000_000  # generated image i (in class order) uses seed BASE + i
DEFAULT_EXTRACTORS = ("smallcnn", "resnet", "random")
REAL_SUBSET_SEED = 0  # which train images form the real reference
# How the generated set (and the real reference) shares its images among the classes:
# "held-out": in the held-out split's class proportions, so that FD, KID and PRDC compare two
# sets with one class mix (a class-balanced set scored against an imbalanced split measures the
# mix as much as the images; the default); "fit": in the fit split's proportions (the mix an
# unconditional baseline learned, the fair setting against one where the splits' mixes differ);
# "uniform": the same count for every class (the evaluation before 2026-12-07). On a balanced
# source (Fashion-MNIST) all three give the same counts.
CLASS_MIXES = ("held-out", "fit", "uniform")
SPLIT_NOTE = {
    "val": "validation split carved from train: for choosing snapshots and recipes",
    "test": "test split: for the report only; never choose anything by it",
}


def split_data(
    source: str, image_size: int, channels: int, holdout_seed: int = 0
) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) as declared by the source (gan.splits); train includes validation."""
    s = load_splits(source, image_size, channels, seed=holdout_seed)
    return concat(s.fit, s.val), s.test


def per_class_subset(data: ImageDataset, per_class: int) -> ImageDataset:
    """The first `per_class` images of each class (fewer where a class has fewer)."""
    return data.subset(_first_per_class(data.labels, [per_class] * len(data.class_names)))


def class_counts(per_class: int, mix: str, held: Sequence[int], fit: Sequence[int]) -> list[int]:
    """Images per class for an evaluation: `per_class` x the number of classes in all, shared
    out by `mix` (CLASS_MIXES) over the classes' `held` (held-out) or `fit` counts, by largest
    remainder (ties to the lower class index), each capped by the class's fit images (the real
    reference is drawn from them)."""
    if mix not in CLASS_MIXES:
        raise ValueError(f"class mix {mix!r}: expected one of {', '.join(CLASS_MIXES)}")
    if mix == "uniform":
        wanted = [per_class] * len(fit)
    else:
        weights = held if mix == "held-out" else fit
        total, share = per_class * len(fit), sum(weights)
        if not share:
            raise ValueError(f"class mix {mix!r}: that split has no images of the model's classes")
        exact = [total * w / share for w in weights]
        wanted = [int(x) for x in exact]
        by_remainder = sorted(range(len(exact)), key=lambda k: (wanted[k] - exact[k], k))
        for k in by_remainder[: total - sum(wanted)]:
            wanted[k] += 1
    return [min(w, n) for w, n in zip(wanted, fit)]


def _first_per_class(labels: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    idx = [torch.nonzero(labels == k).flatten()[:n] for k, n in enumerate(counts)]
    return torch.cat(idx) if idx else torch.zeros(0, dtype=torch.long)


def name_map(from_names: Sequence[str], model_names: Sequence[str]) -> torch.Tensor:
    """index in from_names -> index of the same name in model_names (-1 where the model has no
    such class)."""
    names = list(model_names)
    return torch.tensor([names.index(n) if n in names else -1 for n in from_names])


def map_classes(model_names: list[str], data_names: list[str]) -> list[int]:
    """Data class index for each model class (by name); every model class must be in the data."""
    missing = [c for c in model_names if c not in data_names]
    if missing:
        raise ValueError(
            f"model classes {missing} are not in the evaluation data's classes {data_names}"
        )
    return [data_names.index(c) for c in model_names]


def generate_eval_set(
    generator,
    counts: Sequence[int] | int,
    per_class: int | None = None,
    truncation=None,
    latent_scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, C, H, W) and model labels (N,): counts[k] images of class k.

    `generate_eval_set(g, num_classes, per_class)` (the old form) still works."""
    if isinstance(counts, int):
        counts = [int(per_class or 0)] * counts
    labels = [k for k, n in enumerate(counts) for _ in range(n)]
    seeds = [EVAL_SEED_BASE + i for i in range(len(labels))]
    images = (
        sample(generator, labels, seeds, truncation=truncation, latent_scale=latent_scale)
        .permute(0, 3, 1, 2)
        .contiguous()
    )
    return images, torch.tensor(labels, dtype=torch.long)


# ---------------------------------------------------------------- the reference, computed once


@dataclass
class Reference:
    """One extractor's view of the real images of an evaluation."""

    extractor: Extractor
    held: torch.Tensor  # features of the held-out images (val or test)
    held_pred: torch.Tensor | None  # classifier's labels of them, as model indices (-1: other)
    real: torch.Tensor  # features of the real reference subset of the train split
    seen: torch.Tensor  # features of every image a generator may have trained on
    held_labels: torch.Tensor  # model class of each held-out image
    to_model: torch.Tensor | None  # classifier class index -> model class index (-1: other)

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(the classifier's labels as model class indices, or None; features) of uint8 images."""
        preds, feats = self.extractor.embed(images)
        if preds is None or self.to_model is None:
            return None, feats
        return self.to_model[preds], feats

    @cached_property
    def kid_scale(self) -> float:
        """Root mean square entry of the held-out features: KID's feature scale (gan.metrics)."""
        return float(self.held.pow(2).mean().sqrt()) or 1.0

    @cached_property
    def held_gaussian(self) -> Gaussian:
        return gaussian(self.held)

    @cached_property
    def held_gaussian_per_class(self) -> list[Gaussian | None]:
        return [
            gaussian(self.held[self.held_labels == k])
            if (self.held_labels == k).sum() > 1
            else None
            for k in range(int(self.held_labels.max()) + 1 if len(self.held_labels) else 0)
        ]


@dataclass
class EvalContext:
    source: str
    split: str
    splits: Splits
    class_names: list[str]  # the model's
    counts: list[int]  # generated (and real reference) images per model class
    held_labels: torch.Tensor  # model indices
    real_labels: torch.Tensor
    num_seen: int
    to_model: torch.Tensor  # data class index -> model class index (-1 where not a model class)
    refs: list[Reference]
    kid_subset_size: int = 1000
    class_mix: str = "held-out"

    @property
    def num_generated(self) -> int:
        return int(sum(self.counts))


def _restrict(data: ImageDataset, to_model: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, model labels) of the images whose class is one of the model's."""
    labels = to_model[data.labels]
    keep = labels >= 0
    return data.images[keep], labels[keep]


def prepare(
    source: str,
    image_size: int,
    channels: int,
    class_names: list[str],
    split: str = "val",
    per_class: int = 1000,
    extractors: Sequence[str | Extractor] = DEFAULT_EXTRACTORS,
    cache_dir=None,
    specs: dict[str, ExtractorSpec] | None = None,
    splits: Splits | None = None,
    kid_subset_size: int = 1000,
    class_mix: str = "held-out",
) -> EvalContext:
    """Load the splits (unless given), build the extractors on the fit split and embed the real
    images once; a model and any baselines are then scored against this context.

    `per_class` x the number of classes images are generated (and drawn from the fit split for
    the real reference), shared out among the classes by `class_mix` (CLASS_MIXES).

    `extractors`: names (built from `specs`, default gan.extractors.DEFAULT_SPECS, and cached)
    or ready Extractor objects (e.g. gan.extractors.from_shipped_classifier), in table order."""
    check_split(split)
    splits = splits or load_splits(source, image_size, channels)
    data_names = splits.class_names
    mapping = map_classes(list(class_names), data_names)
    to_model = name_map(data_names, class_names)
    held_images, held_labels = _restrict(splits.held_out(split), to_model)
    fit_images, fit_labels = _restrict(splits.fit, to_model)
    available = torch.bincount(fit_labels, minlength=len(mapping)).tolist()
    held_counts = torch.bincount(held_labels, minlength=len(mapping)).tolist()
    counts = class_counts(per_class, class_mix, held_counts, available)
    order = torch.randperm(
        len(fit_labels), generator=torch.Generator().manual_seed(REAL_SUBSET_SEED)
    )
    pick = order[_first_per_class(fit_labels[order], counts)]
    real_images, real_labels = fit_images[pick], fit_labels[pick]
    seen = splits.seen(split)
    refs = []
    built = iter(
        build_extractors(
            [e for e in extractors if isinstance(e, str)], splits.fit, cache_dir, specs
        )
    )
    for item in extractors:
        ex = next(built) if isinstance(item, str) else item
        clf_map = None if ex.class_names is None else name_map(ex.class_names, class_names)
        preds, held = ex.embed(held_images)
        held_pred = None if preds is None or clf_map is None else clf_map[preds]
        real, seen_feats = ex.features(real_images), ex.features(seen.images)
        refs.append(Reference(ex, held, held_pred, real, seen_feats, held_labels, clf_map))
    return EvalContext(
        source,
        split,
        splits,
        list(class_names),
        counts,
        held_labels,
        real_labels,
        len(seen),
        to_model,
        refs,
        kid_subset_size,
        class_mix,
    )


# ---------------------------------------------------------------- scores


def prepare_for(
    meta: dict, source: str, split: str = "val", per_class: int = 1000, **kw
) -> EvalContext:
    """`prepare` for the image size, channels and classes of a generator's metadata."""
    return prepare(
        source, meta["image_size"], meta["channels"], meta["class_names"], split, per_class, **kw
    )


def _distribution(ref: Reference, feats: torch.Tensor, kid_subset_size: int) -> dict:
    return {
        "frechet_distance": frechet_distance(feats, ref.held_gaussian),
        **kernel_inception_distance(
            feats, ref.held, subset_size=kid_subset_size, scale=ref.kid_scale
        ),
        **precision_recall(ref.held, feats),
    }


def _per_class_fd(feats, labels, ref: Reference, names) -> dict:
    """Each class's FD against the held-out images of that class (classifier spaces only: the
    random network's 480-d space needs more images per class than a val split has)."""
    per_class = {}
    refs = ref.held_gaussian_per_class
    for k, name in enumerate(names):
        mine, other = feats[labels == k], refs[k] if k < len(refs) else None
        per_class[name] = (
            frechet_distance(mine, other) if len(mine) > 1 and other is not None else None
        )
    fds = [v for v in per_class.values() if v is not None]
    return {
        "frechet_per_class": per_class,
        "frechet_per_class_max_over_median": max(fds) / statistics.median(fds) if fds else None,
    }


def _consistency(preds: torch.Tensor, labels: torch.Tensor, names: list[str]) -> dict:
    """How often the classifier names the requested (or true) class; -1 counts as wrong."""
    shown = torch.where(preds >= 0, preds, torch.full_like(preds, len(names)))
    matrix = confusion_matrix(labels, shown, len(names) + 1)
    return {
        "class_consistency": float((preds == labels).float().mean()),
        "per_class_consistency": {
            n: float((preds[labels == k] == k).float().mean()) if (labels == k).any() else None
            for k, n in enumerate(names)
        },
        # rows: requested (or true) class; columns: the classifier's label, plus "(other)" last
        # where it named a data class the model does not have
        "confusion_matrix": matrix[: len(names)]
        if (preds < 0).any()
        else [row[: len(names)] for row in matrix[: len(names)]],
    }


def score_generated(ctx: EvalContext, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Per extractor: the generated set's numbers and the real reference's, side by side."""
    out = {}
    for ref in ctx.refs:
        preds, feats = ref.predict(images)
        gen = {
            **_distribution(ref, feats, ctx.kid_subset_size),
            **memorisation(feats, ref.held, ref.seen),
        }
        real = {
            **_distribution(ref, ref.real, ctx.kid_subset_size),
            "memorisation_ratio": None,  # held-out real images are the ratio's unit
        }
        if preds is not None and ref.held_pred is not None:
            gen.update(_consistency(preds, labels, ctx.class_names))
            gen.update(_per_class_fd(feats, labels, ref, ctx.class_names))
            real.update(_consistency(ref.held_pred, ctx.held_labels, ctx.class_names))
            real.update(_per_class_fd(ref.real, ctx.real_labels, ref, ctx.class_names))
        out[ref.extractor.name] = {
            "extractor": ref.extractor.describe(),
            "generated": gen,
            "real": real,
            "vs_real": _vs_real(gen, real),
        }
    return out


def real_reference(ctx: EvalContext) -> dict:
    """Per extractor: the real reference's FD, KID and PRDC against the held-out images."""
    return {
        ref.extractor.name: _distribution(ref, ref.real, ctx.kid_subset_size) for ref in ctx.refs
    }


def _ratio(a, b):
    return None if a is None or b is None or b <= 0 else float(a) / float(b)


def _vs_real(gen: dict, real: dict) -> dict:
    return {
        "class_consistency": _ratio(gen.get("class_consistency"), real.get("class_consistency")),
        "coverage": _ratio(gen["coverage"], real["coverage"]),
        "recall": _ratio(gen["recall"], real["recall"]),
    }


def _context_info(ctx: EvalContext) -> dict:
    return {
        "data": ctx.source,
        "split": ctx.split,
        "split_note": SPLIT_NOTE[ctx.split],
        "splits": ctx.splits.info,
        "num_generated": ctx.num_generated,
        "class_mix": ctx.class_mix,
        "per_class_counts": dict(zip(ctx.class_names, ctx.counts)),
        "num_held_out": int(len(ctx.held_labels)),
        "num_real_reference": int(len(ctx.real_labels)),
        "num_seen": ctx.num_seen,
        "num_fit": len(ctx.splits.fit),
        "memorisation_space": "each extractor's own features (Euclidean)",
    }


def evaluate(
    generator,
    meta: dict,
    source: str = "fashion-mnist",
    per_class: int = 1000,
    cache_dir=None,
    truncation=None,
    split: str = "val",
    extractors: Sequence[str | Extractor] = DEFAULT_EXTRACTORS,
    specs: dict[str, ExtractorSpec] | None = None,
    splits: Splits | None = None,
    ctx: EvalContext | None = None,
    baseline=None,
    baseline_name: str = "classic_dcgan",
    class_mix: str = "held-out",
    latent_scale: float = 1.0,
) -> dict:
    """Score a generator (JSON-able dict), sampled with `truncation` and `latent_scale`
    (gan.sampling.latent_for_seed). `per_class` x the number of classes images, generated
    and real reference alike, shared out by `class_mix` (see prepare). `baseline`: a
    generator (any arch; an unconditional one ignores the class) or uint8 (N, C, H, W) images
    of it, scored alongside.
    `ctx` (from prepare) reuses loaded splits, extractors and real features."""
    ctx = ctx or prepare_for(
        meta,
        source,
        split,
        per_class,
        extractors=extractors,
        cache_dir=cache_dir,
        specs=specs,
        splits=splits,
        class_mix=class_mix,
    )
    fake, fake_labels = generate_eval_set(
        generator, ctx.counts, truncation=truncation, latent_scale=latent_scale
    )
    per_extractor = score_generated(ctx, fake, fake_labels)
    result = {
        **_context_info(ctx),
        "truncation": truncation,
        "latent_scale": latent_scale,
        "extractors": per_extractor,
    }
    result.update(_compat(per_extractor))
    if baseline is not None:
        result["baseline"] = evaluate_baseline(baseline, ctx, baseline_name)
        result["model_vs_baseline"] = compare_to_baseline(result, result["baseline"])
    return result


def _compat(per_extractor: dict) -> dict:
    """The first classifier's numbers under the keys of the single-classifier evaluation."""
    for block in per_extractor.values():
        if block["extractor"]["kind"] == "classifier":
            return {
                "primary_extractor": block["extractor"]["name"],
                "generated": block["generated"],
                "real_floor": block["real"],
                "classifier": {
                    "test_accuracy": block["real"]["class_consistency"],  # on the held-out split
                    **block["extractor"],
                },
            }
    return {}


# ---------------------------------------------------------------- a baseline


def evaluate_baseline(baseline, ctx: EvalContext, name: str = "classic_dcgan", seed: int = 0):
    """An unconditional model's numbers in every extractor's space: FD, KID, PRDC over the whole
    set, the memorisation ratio, and the classifiers' label histograms (no class consistency:
    no class can be requested). `baseline`: a generator (its eval-set seeds, the class ignored
    by an unconditional one; `seed` is unused then) or its uint8 (N, C, H, W) images."""
    if isinstance(baseline, torch.nn.Module):
        images = generate_eval_set(baseline, [ctx.num_generated])[0]  # class 0: ignored
    else:
        images = baseline
    out = {}
    for ref in ctx.refs:
        preds, feats = ref.predict(images)
        row = {
            **_distribution(ref, feats, ctx.kid_subset_size),
            **memorisation(feats, ref.held, ref.seen),
            "class_consistency": None,  # unconditional
        }
        if preds is not None:
            hist = torch.bincount(preds + 1, minlength=len(ctx.class_names) + 1).tolist()
            row["classifier_label_histogram"] = dict(zip(["(other)", *ctx.class_names], hist))
        out[ref.extractor.name] = row
    return {"name": name, "num_generated": int(len(images)), "extractors": out}


def compare_to_baseline(result: dict, baseline: dict) -> dict:
    """Per extractor: baseline/model ratios of FD and KID (> 1: the model is better) and
    whether the model is lower, and 3x lower, on each."""
    out = {}
    for name, block in result["extractors"].items():
        g, b = block["generated"], baseline["extractors"][name]
        row = {}
        for key, short in (("frechet_distance", "fd"), ("kid", "kid")):
            row[f"{short}_baseline_over_model"] = _ratio(b[key], g[key])
            row[f"model_lower_{short}"] = g[key] < b[key]
            row[f"model_3x_lower_{short}"] = 3 * g[key] <= b[key]
        for key in ("recall", "coverage"):
            row[f"model_{key}_not_below_baseline"] = g[key] >= b[key]
        out[name] = row
    return out


# ---------------------------------------------------------------- the summary


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and 0 < abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4f}"


ROWS = (
    "frechet_distance",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
    "class_consistency",
    "frechet_per_class_max_over_median",
    "memorisation_ratio",
)


def headline(result: dict) -> list[str]:
    """Human-readable summary: one table per extractor (generated, real, baseline)."""
    base = result.get("baseline")
    lines = [
        f"split: {result['split']} -- {result['split_note']}",
        f"generated {result['num_generated']}, held-out real {result['num_held_out']}, "
        f"real reference {result['num_real_reference']}, "
        f"memorisation reference {result['num_seen']}",
        # results recorded before class mixes existed gave every class the same count
        f"class mix: {result.get('class_mix', 'uniform')} "
        f"({', '.join(f'{k} {n}' for k, n in result['per_class_counts'].items())})",
    ]
    if result.get("latent_scale", 1.0) != 1.0 or result.get("truncation") is not None:
        lines.append(
            f"sampling: latent scale {result.get('latent_scale', 1.0)}, "
            f"truncation {result.get('truncation')}"
        )
    for name, block in result["extractors"].items():
        ex = block["extractor"]
        acc = block["real"].get("class_consistency")
        lines.append(
            f"[{name}] {ex['kind']}, {ex['arch']} seed {ex['seed']}, {ex['working_size']} px, "
            f"{ex['feature_dim']}-d" + (f", held-out accuracy {acc:.4f}" if acc is not None else "")
        )
        head = f"  {'metric':<34}{'generated':>12}{'real':>12}{'gen/real':>10}"
        lines.append(head + (f"{base['name']:>16}" if base else ""))
        for key in ROWS:
            g, r = block["generated"].get(key), block["real"].get(key)
            if g is None and r is None:
                continue
            ratio = _ratio(g, r) if key in ("class_consistency", "coverage", "recall") else None
            shown = "" if ratio is None else _fmt(ratio)
            line = f"  {key:<34}{_fmt(g):>12}{_fmt(r):>12}{shown:>10}"
            if base:
                line += f"{_fmt(base['extractors'][name].get(key)):>16}"
            lines.append(line)
        if base:
            cmp = result["model_vs_baseline"][name]
            lines.append(
                f"  baseline/model: FD {_fmt(cmp['fd_baseline_over_model'])}, "
                f"KID {_fmt(cmp['kid_baseline_over_model'])}"
            )
    return lines
