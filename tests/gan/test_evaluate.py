import pytest
import torch
from PIL import Image
from torch import nn

from gan.bench import score_unconditional, side_by_side
from gan.checkpoint import init_generator_checkpoint, load_generator
from gan.classifier import ClassifierConfig, load_or_train
from gan.config import ModelConfig
from gan.data import load_source
from gan.evaluate import evaluate, per_class_subset
from gan.metrics import frechet_distance, precision_recall

QUICK = ClassifierConfig(width=8, feature_dim=32, epochs=2, batch_size=32, lr=4e-3)


class RealImages(nn.Module):
    """Stands in for a perfect generator: returns a real test image of the requested class."""

    def __init__(self, test):
        super().__init__()
        self.cfg = ModelConfig(num_classes=len(test.class_names), z_dim=4)
        self.anchor = nn.Parameter(torch.zeros(1))
        self.by_class = [test.images[test.labels == k] for k in range(len(test.class_names))]

    def forward(self, z, y):
        pick = (z[:, 0].abs() * 1e6).long()
        imgs = [
            self.by_class[k][i % len(self.by_class[k])] for k, i in zip(y.tolist(), pick.tolist())
        ]
        return torch.stack(imgs).float() / 127.5 - 1.0


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("classifier-cache")  # one quick classifier for the module


@pytest.fixture(scope="module")
def split():
    train = per_class_subset(load_source("fashion-mnist", split="train"), 500)
    test = per_class_subset(load_source("fashion-mnist", split="test"), 100)
    return train, test


def test_real_test_images_score_near_the_classifier_accuracy(split, cache):
    meta = {"class_names": split[0].class_names, "image_size": 32, "channels": 1}
    result = evaluate(
        RealImages(split[1]),
        meta,
        per_class=100,
        cache_dir=cache,
        classifier_cfg=QUICK,
        split=split,
    )
    acc = result["classifier"]["test_accuracy"]
    assert acc > 0.6  # a real (if quick) classifier
    gen = result["generated"]
    assert abs(gen["class_consistency"] - acc) < 0.06
    assert gen["frechet_distance"] < 3 * result["real_floor"]["frechet_distance"] + 0.5
    assert gen["precision"] > 0.8 and len(gen["frechet_per_class"]) == 10
    assert sum(map(sum, gen["confusion_matrix"])) == 1000


def test_an_untrained_generator_scores_badly(split, cache, tmp_path):
    g, meta = load_generator(init_generator_checkpoint(tmp_path / "g", split[0].class_names))
    result = evaluate(g, meta, per_class=20, cache_dir=cache, classifier_cfg=QUICK, split=split)
    assert result["generated"]["class_consistency"] < 0.3
    assert result["generated"]["frechet_distance"] > 10 * result["real_floor"]["frechet_distance"]


def test_classifier_is_cached(split, cache):
    _, folder = load_or_train(split[0], cache, QUICK)
    stamp = (folder / "classifier.safetensors").stat().st_mtime_ns
    _, again = load_or_train(split[0], cache, QUICK)
    assert again == folder and (folder / "classifier.safetensors").stat().st_mtime_ns == stamp


def test_frechet_distance_and_precision_recall_sanity():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 8, generator=gen), torch.randn(2000, 8, generator=gen)
    assert frechet_distance(a, b) < 0.1
    assert frechet_distance(a, b + 1.0) == pytest.approx(8.0, rel=0.1)
    pr = precision_recall(a, b)
    assert pr["precision"] > 0.9 and pr["recall"] > 0.9
    far = precision_recall(a, b + 10.0)
    assert far["precision"] == 0.0 and far["coverage"] == 0.0


def test_bench_scores_an_unconditional_model_by_classifier_labels(split, cache):
    clf, _ = load_or_train(split[0], cache, QUICK)
    train, test = split
    as_samples = test.images.permute(0, 2, 3, 1)  # a "model" that outputs the test set itself
    result, preds = score_unconditional(clf, as_samples, train, test, test.class_names)
    assert result["class_consistency"].startswith("n/a")
    assert sum(result["classifier_label_histogram"].values()) == len(test)
    assert result["frechet_distance"] < 1e-6 and result["precision"] == 1.0
    grid = side_by_side(Image.new("RGB", (100, 50)), as_samples.numpy(), preds, test.class_names, 4)
    assert grid.width > 100 and grid.height >= 10 * 32
