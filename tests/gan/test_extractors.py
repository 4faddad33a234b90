import json

import pytest
import torch
import torch.nn.functional as F

from gan.builtin_models import BUILTIN_MODELS
from gan.checkpoint import CheckpointError
from gan.classifier import ClassifierConfig, config_for, load_or_train
from gan.data import ImageDataset, load_source
from gan.extractors import (
    DEFAULT_SPECS,
    build_extractors,
    cache_key,
    from_shipped_classifier,
    load_or_build,
    quick_specs,
)

QUICK = quick_specs(width=4, feature_dim=16, min_steps=40, batch_size=16, lr=4e-3)


def toy_data(channels: int, size: int, n_per_class: int = 24, seed: int = 0) -> ImageDataset:
    """Two easy classes: a bright bar at the top vs at the bottom, on noise (the classifiers
    train with mirror flips, so left/right would be unlearnable)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 60, (2 * n_per_class, channels, size, size), generator=gen)
    half = size // 2
    x[:n_per_class, :, : half - 1, half // 2 : half + half // 2] = 230
    x[n_per_class:, :, half + 1 :, half // 2 : half + half // 2] = 230
    labels = torch.tensor([0] * n_per_class + [1] * n_per_class)
    return ImageDataset(x.to(torch.uint8), labels, ["top", "bottom"], f"toy{channels}x{size}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("extractor-cache")


@pytest.fixture(scope="module")
def rgb64(cache):
    data = toy_data(3, 64)
    return data, build_extractors(("smallcnn", "resnet", "random"), data, cache, QUICK)


def test_every_extractor_is_deterministic_and_reloads_bit_identical(rgb64, cache):
    data, extractors = rgb64
    probe = toy_data(3, 64, 8, seed=1).images
    for ex in extractors:
        a, b = ex.features(probe), ex.features(probe)
        assert a.dtype == torch.float64 and torch.equal(a, b), ex.name
        again = load_or_build(QUICK[ex.name], data, cache, ex.name)  # from the cache this time
        assert again.record["sha256"] == ex.record["sha256"]
        assert torch.equal(again.features(probe), a), ex.name


def test_extractors_are_cached_as_verified_safetensors(rgb64):
    _, extractors = rgb64
    for ex in extractors:
        weights = (ex.folder / "extractor.safetensors").read_bytes()
        record = json.loads((ex.folder / "extractor.json").read_text())
        assert not weights.startswith(b"\x80") and not weights.startswith(b"PK")  # no pickle
        assert record["format"] == "assetgen-extractor/1" and record["spec"]["seed"] == ex.spec.seed


def test_a_tampered_cache_is_refused(tmp_path):
    cache = tmp_path  # its own cache: the corrupted file must not reach other tests
    data = toy_data(1, 32, 4)
    ex = load_or_build(QUICK["random"], data, cache)
    path = ex.folder / "extractor.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256"):
        load_or_build(QUICK["random"], data, cache)


def test_the_classifiers_learn_and_the_three_spaces_differ(rgb64):
    data, extractors = rgb64
    held = toy_data(3, 64, 16, seed=7)
    names = [ex.name for ex in extractors]
    assert names == ["smallcnn", "resnet", "random"]
    kinds = {ex.name: ex.is_classifier for ex in extractors}
    assert kinds == {"smallcnn": True, "resnet": True, "random": False}
    for ex in extractors[:2]:
        preds, _ = ex.embed(held.images)
        assert (preds == held.labels).float().mean() >= 0.9, ex.name
    assert extractors[2].embed(held.images)[0] is None
    assert {ex.spec.seed for ex in extractors} == {0, 1, 2}
    assert len({ex.record["feature_dim"] for ex in extractors}) >= 2  # different spaces


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 64), (3, 128), (3, 256)])
def test_any_input_size_is_resized_to_the_working_size(cache, channels, size):
    data = toy_data(channels, 32 if channels == 1 else 64, 8)
    ex = load_or_build(QUICK["random"], data, cache)
    assert ex.size == (32 if channels == 1 else 64)
    images = toy_data(channels, size, 3, seed=2).images
    feats = ex.features(images)
    assert feats.shape == (6, ex.record["feature_dim"]) and torch.isfinite(feats).all()
    if size > ex.size:  # the same picture at two sizes lands close in feature space
        small = F.interpolate(images.float(), size=ex.size, mode="area").round().to(torch.uint8)
        assert (ex.features(small) - feats).abs().max() < 0.05 * feats.abs().max()


def test_wrong_channels_or_dtype_are_refused(cache):
    ex = load_or_build(QUICK["random"], toy_data(1, 32, 4), cache)
    with pytest.raises(ValueError, match=r"expected uint8 \(N, 1, H, W\)"):
        ex.features(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError):
        ex.features(torch.zeros(2, 1, 32, 32))


def test_cache_keys_follow_the_data_for_classifiers_only():
    a, b = toy_data(3, 64, 4, seed=0), toy_data(3, 64, 4, seed=1)
    assert cache_key(DEFAULT_SPECS["smallcnn"], a) != cache_key(DEFAULT_SPECS["smallcnn"], b)
    assert cache_key(DEFAULT_SPECS["random"], a) == cache_key(DEFAULT_SPECS["random"], b)
    assert cache_key(DEFAULT_SPECS["random"], a) != cache_key(QUICK["random"], a)
    with pytest.raises(ValueError, match="allowed"):
        build_extractors(["inception"], a, None, QUICK)


def test_the_classifier_shipped_beside_a_model_is_an_extractor(tmp_path):
    ex = from_shipped_classifier(BUILTIN_MODELS / "fashion-mnist-32")
    assert ex is not None
    test = load_source("fashion-mnist", split="test").subset(torch.arange(200))
    preds, feats = ex.embed(test.images)
    assert ex.class_names == test.class_names and feats.shape == (200, 128)
    assert preds is not None and float((preds == test.labels).double().mean()) > 0.85
    assert from_shipped_classifier(tmp_path) is None  # a folder without one


def test_the_catalogue_classifier_is_still_cached(tmp_path):
    data, cfg = (
        toy_data(1, 32, 16),
        ClassifierConfig(width=4, feature_dim=8, epochs=1, batch_size=16),
    )
    _, folder = load_or_train(data, tmp_path, cfg)
    stamp = (folder / "classifier.safetensors").stat().st_mtime_ns
    _, again = load_or_train(data, tmp_path, cfg)
    assert again == folder and (folder / "classifier.safetensors").stat().st_mtime_ns == stamp


def test_the_shipped_classifier_trains_at_least_as_long_as_on_fashion_mnist():
    assert config_for(60_000).epochs == ClassifierConfig().epochs == 3  # Fashion-MNIST as before
    small = config_for(4_513)  # the products-rgb train split: 35 batches a pass
    assert small.epochs == 40 and small.epochs * (4_513 // small.batch_size) >= 1_400
    assert config_for(10).epochs == 1_400  # fewer images than a batch: one step a pass
