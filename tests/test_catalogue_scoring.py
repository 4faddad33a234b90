"""Catalogue tiles and quality scores: geometry, determinism, the shipped classifier, the
fallback."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan.checkpoint import CheckpointError, load_generator
from gan.classifier import confidence, load_classifier
from gan.data import FASHION_MNIST_CLASSES, load_source
from gan.sampling import sample
from jobs.kinds.base import Claim
from jobs.kinds.catalogue_fill.render import MARGIN, CatalogueFill, render_tile
from jobs.model_registry import fetch_published, publish, resolve_model
from jobs.quality import Scorer
from jobs.seeds import sku_seeds
from jobs.settings import load_settings
from jobs.storage import LocalStore
from tests.support import FMNIST_DIR, cli_invoker


@pytest.fixture(scope="module")
def scored_copy(tiny_model, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scoring") / "model"
    shutil.copytree(tiny_model, folder)
    for name in ("classifier.safetensors", "classifier.json"):
        shutil.copy(FMNIST_DIR / name, folder / name)
    return folder


def claim_for(
    model: Path, version: str = "v1", skus=(("A1", 7, "sneaker"), ("B2", 8, "bag")), **over
) -> Claim:
    spec = {"kind": "catalogue_fill", "candidates": 4, "format": "png", "size": 200, **over}
    return Claim(
        item_id=1,
        attempt=1,
        job_id="job",
        index=0,
        params={"start": 0, "skus": [list(s) for s in skus]},
        spec=spec,
        model_uri=str(model),
        model_sha256="x",
        model_name="m",
        model_version=version,
    )


def rendered(model: Path, claim: Claim) -> list:
    generator, _ = load_generator(model)
    kind = CatalogueFill(Scorer())
    outs = []
    for unit in kind.units(claim):
        pixels = sample(generator, [unit.label] * len(unit.seeds), list(unit.seeds)).numpy()
        outs += kind.render(unit, pixels)
    return outs


def test_tile_is_centred_with_margin_and_never_stretched():
    pixels = np.zeros((32, 16, 1), np.uint8)  # a tall product: a bright block on black
    pixels[2:30, 3:13] = 255
    tile = render_tile(pixels, 800)
    assert tile.size == (800, 800) and tile.mode == "L"
    bright = np.argwhere(np.asarray(tile) > 128)
    (top, left), (bottom, right) = bright.min(0), bright.max(0)
    margin = round(800 * MARGIN)
    assert top >= margin and bottom < 800 - margin and left >= margin and right < 800 - margin
    assert abs((top + bottom) / 2 - 399.5) <= 2 and abs((left + right) / 2 - 399.5) <= 2  # centred
    assert abs((bottom - top + 1) / (right - left + 1) - 28 / 10) < 0.05  # aspect kept
    assert np.asarray(tile)[0, 0] == 0  # the margin is the sample's own background


def test_a_tile_on_white_cuts_the_product_out_of_its_floor():
    pixels = np.full((64, 64, 3), (170, 140, 110), np.uint8)  # a wooden floor
    pixels[8:56, 20:44] = (30, 40, 140)  # a tall blue product
    pixels[60, 2] = (20, 20, 20)  # grit on the floor
    tile = np.asarray(render_tile(pixels, 800, "#FFFFFF")).astype(int)
    margin = round(800 * MARGIN)
    drawn = np.abs(tile - 255).sum(-1) > 30
    rows, cols = np.nonzero(drawn.any(1))[0], np.nonzero(drawn.any(0))[0]
    assert (tile[:margin] == 255).all() and (tile[-margin:] == 255).all()  # white field, no floor
    assert rows.min() >= margin and rows.max() < 800 - margin and cols.min() >= margin
    assert abs((rows.max() - rows.min() + 1) / (cols.max() - cols.min() + 1) - 48 / 24) < 0.1
    assert np.abs(tile[400, 400] - (30, 40, 140)).max() <= 2  # the product keeps its colours
    assert (render_tile(pixels, 800).getpixel((0, 0))) == (170, 140, 110)  # "sample": the floor


def test_a_job_with_a_background_colour_delivers_its_tiles_on_it():
    plain, white = (
        rendered(FMNIST_DIR, claim_for(FMNIST_DIR, **o)) for o in ({}, {"background": "#FFFFFF"})
    )  # the trained model: products the matte can find
    for a, b in zip(plain, white):
        assert (a.seed, a.key) == (b.seed, b.key)  # the same candidate chosen, the same object
        tile = np.asarray(Image.open(io.BytesIO(b.data)).convert("RGB"))
        assert tile.shape == (200, 200, 3) and (tile[:20] == 255).all()  # on white to the margin
        assert (tile != 255).any() and a.data != b.data  # with the product on it
        assert np.asarray(Image.open(io.BytesIO(a.data)))[0, 0] == 0  # sample: its black field


def test_a_blank_sample_on_a_colour_is_a_plain_tile():
    tile = np.asarray(render_tile(np.zeros((32, 32, 1), np.uint8), 200, "#F4EFE6"))
    assert tile.shape == (200, 200, 3) and (tile == (0xF4, 0xEF, 0xE6)).all()


def test_same_sku_and_version_give_the_same_bytes(tiny_model):
    first, again = (
        rendered(tiny_model, claim_for(tiny_model)),
        rendered(tiny_model, claim_for(tiny_model)),
    )
    assert [o.data for o in first] == [o.data for o in again] and len(first) == 2
    a1 = first[0]
    assert a1.key == "catalogue/A1/synthetic.png" and a1.seed in sku_seeds("A1", "v1", 4)
    assert Image.open(io.BytesIO(a1.data)).size == (200, 200)
    assert (
        a1.attrs["score_method"] == "contrast"
    )  # the tiny model ships no classifier: the fallback
    assert (
        a1.attrs["score"] == max(a1.attrs["candidate_scores"])
        and a1.seed == sku_seeds("A1", "v1", 4)[a1.attrs["candidate"]]
    )
    other = rendered(tiny_model, claim_for(tiny_model, version="v2"))
    assert other[0].seed not in sku_seeds("A1", "v1", 4)  # another model version: other candidates


def test_classifier_scores_are_the_wanted_class_confidence(scored_copy):
    outs = rendered(scored_copy, claim_for(scored_copy))
    clf, meta = load_classifier(scored_copy)
    assert all(o.attrs["score_method"] == f"classifier:{meta['sha256'][:12]}" for o in outs)
    assert all(0.0 <= s <= 1.0 for o in outs for s in o.attrs["candidate_scores"])
    generator, _ = load_generator(scored_copy)
    unit = CatalogueFill(Scorer()).units(claim_for(scored_copy))[0]
    pixels = sample(generator, [unit.label] * 4, list(unit.seeds))
    expected = confidence(clf, pixels.permute(0, 3, 1, 2), meta["class_names"].index("sneaker"))
    assert outs[0].attrs["candidate_scores"] == [round(s, 6) for s in expected]
    assert outs[0].attrs["candidate"] == int(np.argmax(expected))


def test_tampered_classifier_is_refused(scored_copy, tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(scored_copy, bad)
    data = bytearray((bad / "classifier.safetensors").read_bytes())
    data[-1] ^= 1
    (bad / "classifier.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        Scorer().score(str(bad), np.zeros((2, 32, 32, 1), np.uint8), "bag")


def test_shipped_classifier_recognises_real_sneakers():

    clf, meta = load_classifier(FMNIST_DIR)
    test = load_source("fashion-mnist", 32, 1, split="test")
    sneaker = test.class_names.index("sneaker")
    images = test.images[test.labels == sneaker][:200]
    scores = torch.tensor(confidence(clf, images, meta["class_names"].index("sneaker")))
    assert scores.median() > 0.9
    bags = test.images[test.labels == test.class_names.index("bag")][:200]
    assert torch.tensor(confidence(clf, bags, meta["class_names"].index("sneaker"))).median() < 0.1


def test_published_model_carries_its_classifier(scored_copy, tiny_model, tmp_path):

    store = LocalStore(tmp_path / "bucket")
    publish(store, scored_copy, "shop")
    publish(store, tiny_model, "plain")
    assert "models/shop/v1/classifier.safetensors" in store.list("models/shop/")
    assert not [k for k in store.list("models/plain/") if "classifier" in k]

    def fetch(uri):
        return fetch_published(store, uri, tmp_path / "cache")

    pixels = np.zeros((2, 32, 32, 1), np.uint8)
    settings = load_settings(home=tmp_path / "home")
    shop, plain = (resolve_model(settings, name, store).uri for name in ("shop", "plain"))
    assert Scorer(fetch).score(shop, pixels, "bag")[1].startswith("classifier:")
    assert Scorer(fetch).score(plain, pixels, "bag")[1] == "contrast"
    assert Scorer().score(shop, pixels, "bag")[1] == "contrast"  # no way to fetch it: the fallback


def test_models_classifier_command_ships_a_verified_classifier(tiny_model, tmp_path):

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for name in FASHION_MNIST_CLASSES[:-1]:  # one class short first
        (data / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 32), np.uint8)).save(data / name / f"{i}.png")
    invoke = cli_invoker(
        {"ASSETGEN_HOME": str(tmp_path / "home"), "ASSETGEN_CACHE_DIR": str(tmp_path / "cache")}
    )
    refused = invoke("models", "classifier", str(model), "--data", str(data))
    assert refused.exit_code == 1 and FASHION_MNIST_CLASSES[-1] in refused.output
    assert not (model / "classifier.json").exists()
    (data / FASHION_MNIST_CLASSES[-1]).mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(data / FASHION_MNIST_CLASSES[-1] / "0.png")
    shipped = invoke("models", "classifier", str(model), "--data", str(data))
    assert shipped.exit_code == 0, shipped.output
    clf, meta = load_classifier(model)  # sha256-verified safetensors
    assert (
        sorted(meta["class_names"]) == sorted(FASHION_MNIST_CLASSES)
        and meta["dataset"]["channels"] == 1
    )
    _, method = Scorer().score(str(model), np.zeros((1, 32, 32, 1), np.uint8), "bag")
    assert method == f"classifier:{meta['sha256'][:12]}"
