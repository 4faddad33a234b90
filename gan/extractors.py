"""Feature extractors of the evaluation: the spaces in which FD, KID, precision/recall/density/
coverage and the memorisation check are measured.

A claim such as "lower FD than the baseline" must hold whichever network looks at the images,
so the evaluation uses several of different kinds:

- `smallcnn`: the SmallCNN of gan/classifier.py (plain conv blocks, 32 px), seed 0, trained on
  the fit split (train minus validation);
- `resnet`: a small residual network (He et al. 2016, "Deep Residual Learning for Image
  Recognition"; BasicBlocks, 32 px for 1-channel data, 64 px otherwise), seed 1, trained on the
  same split with translation augmentation;
- `random`: a randomly initialised conv net, never trained (seed 2): its pooled activations
  keep the low-level statistics (colour, texture, layout) that a trained classifier is free to
  discard. Random-weight features for evaluating generative models: Naeem et al. 2020
  ("Reliable Fidelity and Diversity Metrics for Generative Models", randomly initialised VGG
  embeddings) and Lee, Kim & Lee, AAAI 2023 ("Demystifying Randomly Initialized Networks for
  Evaluating Generative Models"), who find them usable alongside trained features.

The classifiers' penultimate features play the role Inception's pool features play in FID
(Heusel et al. 2017), with domain networks instead of an ImageNet download. Each extractor is
cached as safetensors with its sha256 in a JSON beside it (never a pickle), and is
deterministic: the same uint8 images give bit-identical features on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import save as st_save_bytes
from torch import nn

from gan.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    atomic_write_json,
    read_verified_weights,
    sha256_bytes,
)
from gan.classifier import (
    ClassifierConfig,
    SmallCNN,
    _to_input,
    default_cache_dir,
    load_classifier,
    train_classifier,
)
from gan.data import ImageDataset

EXTRACTOR_FORMAT = "assetgen-extractor/1"
KINDS = ("smallcnn", "resnet", "random")


@dataclass(frozen=True)
class ExtractorSpec:
    """How one extractor is built (and, for the classifiers, trained). Part of its cache key."""

    arch: str  # smallcnn | resnet | random
    seed: int  # weight initialisation and data order
    width: int = 16  # channels of the first stage; doubled at each further stage
    feature_dim: int = 128  # classifiers: penultimate feature size (random: set by the stages)
    epochs: int = 3  # passes over the fit split, raised until training makes >= min_steps steps
    min_steps: int = 1200  # small photo sets need more passes than Fashion-MNIST's 54,000 images
    batch_size: int = 128
    lr: float = 2e-3
    shift: float = 0.0  # random translation of up to this fraction of the side (augmentation)
    size: int = 0  # working size in px; 0 = 32 for 1-channel data, else 64 (smallcnn: always 32)


DEFAULT_SPECS: dict[str, ExtractorSpec] = {
    "smallcnn": ExtractorSpec("smallcnn", seed=0),
    "resnet": ExtractorSpec("resnet", seed=1, shift=0.125),
    "random": ExtractorSpec("random", seed=2, width=32),
}


def working_size(spec: ExtractorSpec, channels: int) -> int:
    if spec.size:
        return spec.size
    return 32 if spec.arch == "smallcnn" or channels == 1 else 64


# ---------------------------------------------------------------- networks


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.short = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class SmallResNet(nn.Module):
    """Stem (stride 2 above 32 px), four BasicBlock stages, global pooling, feature layer, head."""

    def __init__(self, channels: int, num_classes: int, spec: ExtractorSpec, size: int) -> None:
        super().__init__()
        w = spec.width
        stem_stride = max(1, size // 32)
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            BasicBlock(w, w, 1),
            BasicBlock(w, 2 * w, 2),
            BasicBlock(2 * w, 4 * w, 2),
            BasicBlock(4 * w, 8 * w, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.feature = nn.Sequential(nn.Linear(8 * w, spec.feature_dim), nn.ReLU())
        self.head = nn.Linear(spec.feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.feature(self.body(x))
        return self.head(f), f


class RandomConvNet(nn.Module):
    """Four stages of (2x2 average pool but for the first, 3x3 conv, ReLU), He-initialised and
    never trained; the features are every stage's spatial mean, concatenated
    (width * (1 + 2 + 4 + 8) values): colour and texture statistics at four scales."""

    def __init__(self, channels: int, spec: ExtractorSpec) -> None:
        super().__init__()
        widths = [spec.width * 2**i for i in range(4)]
        stages, cin = [], channels
        for w in widths:
            stages.append(nn.Sequential(nn.Conv2d(cin, w, 3, 1, 1), nn.ReLU()))
            cin = w
        self.stages = nn.ModuleList(stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = []
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else nn.functional.avg_pool2d(x, 2))
            pooled.append(x.mean((2, 3)))
        return torch.cat(pooled, 1)


def _build(spec: ExtractorSpec, channels: int, num_classes: int, size: int) -> nn.Module:
    if spec.arch == "smallcnn":
        return SmallCNN(channels, num_classes, _classifier_cfg(spec, spec.epochs))
    if spec.arch == "resnet":
        return SmallResNet(channels, num_classes, spec, size)
    if spec.arch == "random":
        return RandomConvNet(channels, spec)
    raise ValueError(f"arch={spec.arch!r}: allowed {', '.join(KINDS)}")


def _classifier_cfg(spec: ExtractorSpec, epochs: int, batch_size: int = 0) -> ClassifierConfig:
    return ClassifierConfig(
        width=spec.width,
        feature_dim=spec.feature_dim,
        epochs=epochs,
        batch_size=batch_size or spec.batch_size,
        lr=spec.lr,
        seed=spec.seed,
    )


def training_plan(spec: ExtractorSpec, num_images: int) -> tuple[int, int]:
    """(epochs, batch size): at least spec.epochs passes and spec.min_steps steps; the batch
    never larger than the data (a tiny folder still trains)."""
    batch = max(1, min(spec.batch_size, num_images))
    per_epoch = num_images // batch
    return max(spec.epochs, math.ceil(spec.min_steps / per_epoch)), batch


# ---------------------------------------------------------------- the extractor


@dataclass
class Extractor:
    name: str
    spec: ExtractorSpec
    net: nn.Module
    channels: int
    size: int  # working size: inputs of any size are resized to it (area down, bilinear up)
    class_names: list[str] | None  # a classifier's classes; None for the random network
    record: dict  # the cached JSON (format, sha256, spec, training, dataset)
    folder: Path

    @property
    def is_classifier(self) -> bool:
        return self.class_names is not None

    @torch.no_grad()
    def embed(
        self, images: torch.Tensor, batch: int = 500
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """uint8 (N, C, H, W) -> (predicted data-class labels or None, float64 features)."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != self.channels:
            raise ValueError(
                f"{self.name}: expected uint8 (N, {self.channels}, H, W) images, "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        preds, feats = [], []
        for i in range(0, len(images), batch):
            out = self.net(_to_input(images[i : i + batch], self.size))
            if self.is_classifier:
                preds.append(out[0].argmax(1))
                out = out[1]
            feats.append(out.double())
        f = torch.cat(feats) if feats else torch.zeros(0, 0, dtype=torch.float64)
        return (torch.cat(preds) if preds else None), f

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)[1]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": "classifier" if self.is_classifier else "random network",
            "arch": self.spec.arch,
            "seed": self.spec.seed,
            "working_size": self.size,
            "feature_dim": int(self.record["feature_dim"]),
            "sha256": self.record["sha256"],
            "cache": str(self.folder),
            "training": self.record.get("training"),
        }


def cache_key(spec: ExtractorSpec, data: ImageDataset) -> str:
    """Classifiers: spec + the exact train data; the random network: spec + channels only."""
    ident = {"format": EXTRACTOR_FORMAT, "spec": asdict(spec), "channels": data.channels}
    if spec.arch != "random":
        ident["data"] = data.fingerprint()["sha256"]
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def load_or_build(
    spec: ExtractorSpec, data: ImageDataset, cache_dir=None, name: str | None = None
) -> Extractor:
    """The extractor of `spec` for this train data, from the cache (sha256-verified) or built
    (and, for a classifier, trained on `data`) and cached."""
    name = name or spec.arch
    size = working_size(spec, data.channels)
    classes = None if spec.arch == "random" else list(data.class_names)
    folder = Path(cache_dir or default_cache_dir()) / "extractors" / cache_key(spec, data)
    meta_path, weights = folder / "extractor.json", folder / "extractor.safetensors"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        net = _build(spec, data.channels, len(data.class_names), size)
    if meta_path.is_file():
        record = json.loads(meta_path.read_text())
        if record.get("format") != EXTRACTOR_FORMAT:
            raise CheckpointError(
                f"{meta_path}: format {record.get('format')!r}, expected {EXTRACTOR_FORMAT!r}"
            )
        net.load_state_dict(read_verified_weights(weights, record["sha256"]))
    else:
        training = None
        if classes is not None:
            epochs, batch = training_plan(spec, len(data))
            cfg = _classifier_cfg(spec, epochs, batch)
            net = train_classifier(data, cfg, net, size, spec.shift)
            training = {
                "epochs": epochs,
                "batch_size": batch,
                "steps": epochs * (len(data) // batch),
            }
        net.eval()
        with torch.no_grad():
            dim = _feature_dim(net, data.channels, size, classes is not None)
        blob = st_save_bytes({k: v.contiguous() for k, v in net.state_dict().items()})
        record = {
            "format": EXTRACTOR_FORMAT,
            "sha256": sha256_bytes(blob),
            "spec": asdict(spec),
            "working_size": size,
            "feature_dim": dim,
            "channels": data.channels,
            "class_names": classes,
            "dataset": data.fingerprint() if classes is not None else None,
            "training": training,
        }
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(weights, blob)
        atomic_write_json(meta_path, record)  # last: a JSON always means complete weights
    net = net.eval().requires_grad_(False)
    return Extractor(name, spec, net, data.channels, size, classes, record, folder)


def _feature_dim(net: nn.Module, channels: int, size: int, classifier: bool) -> int:
    out = net(torch.zeros(1, channels, size, size))
    return int((out[1] if classifier else out).shape[1])


def build_extractors(
    names: Iterable[str],
    fit: ImageDataset,
    cache_dir=None,
    specs: dict[str, ExtractorSpec] | None = None,
) -> list[Extractor]:
    """The named extractors (keys of `specs`, default DEFAULT_SPECS), built for `fit`."""
    table = specs or DEFAULT_SPECS
    out = []
    for name in names:
        if name not in table:
            raise ValueError(f"extractor {name!r}: allowed {', '.join(table)}")
        out.append(load_or_build(table[name], fit, cache_dir, name))
    return out


def from_shipped_classifier(model_dir, name: str = "shipped") -> Extractor | None:
    """The classifier shipped beside a generator (classifier.safetensors + .json, sha256
    verified) as an extractor; None if the folder has none. It was trained on the whole train
    split (validation included): score the test split with it, never the validation split."""
    loaded = load_classifier(model_dir)
    if loaded is None:
        return None
    net, meta = loaded
    cfg = meta["config"]
    spec = ExtractorSpec("smallcnn", **{k: cfg[k] for k in ("seed", "width", "feature_dim")})
    record = {**meta, "feature_dim": cfg["feature_dim"], "training": {"epochs": cfg["epochs"]}}
    channels = int(meta["dataset"]["channels"])
    return Extractor(
        name, spec, net, channels, 32, list(meta["class_names"]), record, Path(model_dir)
    )


def quick_specs(**overrides) -> dict[str, ExtractorSpec]:
    """DEFAULT_SPECS with fields replaced in every spec (tests: tiny widths, few steps)."""
    return {k: replace(v, **overrides) for k, v in DEFAULT_SPECS.items()}
