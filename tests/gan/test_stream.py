"""The streaming data path: batches from memory or files, in an order that resumes exactly."""

import json

import pytest
import torch

from gan.config import ModelConfig, TrainConfig
from gan.data import IMAGE_SUFFIXES, DataError, load_image_folder, read_image
from gan.stream import BatchStream, FileImageSource, balance_weights, batch_index, flip_mask
from gan.train import train


def _items(root):
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    return classes, [
        (p, k)
        for k, c in enumerate(classes)
        for p in sorted((root / c).iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def test_file_source_decodes_what_the_in_memory_loader_reads(tiny_folder):
    classes, items = _items(tiny_folder)
    files = FileImageSource(items, classes, 32, 3, "t", threads=2)
    memory = load_image_folder(tiny_folder, 32, 3)
    assert [p for p, _ in files.skipped] == [str(tiny_folder / "mug" / "broken.jpg")]
    assert len(files) == len(memory) == 16 and torch.equal(files.labels, memory.labels)
    idx = torch.tensor([3, 0, 15, 7])
    assert torch.equal(files.batch(idx), memory.batch(idx))
    assert torch.equal(
        files.batch(idx[:1])[0], torch.from_numpy(read_image(files.paths[3], 32, 3).copy())
    )


def test_file_source_fingerprint_follows_the_bytes(tiny_folder):
    classes, items = _items(tiny_folder)
    a = FileImageSource(items, classes, 32, 3, "t").fingerprint()
    assert a == FileImageSource(items, classes, 32, 3, "t").fingerprint()
    assert a["num_images"] == 16 and a["per_class"] == {"mug": 8, "shoe": 8}
    assert FileImageSource(items, classes, 64, 3, "t").fingerprint()["sha256"] != a["sha256"]
    path = tiny_folder / "shoe" / "5.jpg"
    path.write_bytes(path.read_bytes() + b"\0")
    assert FileImageSource(items, classes, 32, 3, "t").fingerprint()["sha256"] != a["sha256"]


def test_a_folder_of_only_unreadable_files_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="no readable images"):
        FileImageSource([(tmp_path / "x" / "a.jpg", 0)], ["x"], 32, 3, "t")


def test_batches_follow_the_epoch_shuffle_and_resume_mid_stream(tiny_folder):
    data = load_image_folder(tiny_folder, 32, 3)
    fresh = BatchStream(data, 5, seed=3)
    batches = [next(fresh) for _ in range(7)]  # 3 batches per epoch: crosses two epochs
    fresh.close()
    cache: dict = {}
    for no, (x, y) in enumerate(batches):
        idx = batch_index(3, no, 5, 16, cache)
        assert torch.equal(x, data.images[idx]) and torch.equal(y, data.labels[idx])
    epoch0 = torch.cat([batch_index(3, no, 5, 16, {}) for no in range(3)])
    assert len(set(epoch0.tolist())) == 15  # no image twice in an epoch
    resumed = BatchStream(data, 5, seed=3, start=4)
    assert all(torch.equal(next(resumed)[0], batches[k][0]) for k in (4, 5, 6))
    resumed.close()


def test_class_balance_draws_small_classes_as_often_as_large_ones_and_resumes(tiny_folder):
    labels = torch.tensor([0] * 90 + [1] * 10)
    assert balance_weights(labels, 0.0) is None  # the plain epoch shuffle, as before
    share = {}
    for power in (0.5, 1.0):
        w = balance_weights(labels, power)
        order = torch.cat([batch_index(2, no, 10, 100, {}, w) for no in range(200)])
        share[power] = (labels[order] == 1).float().mean().item()
    assert 0.22 < share[0.5] < 0.28  # sqrt(10) / (sqrt(90) + sqrt(10)) = 0.25
    assert 0.45 < share[1.0] < 0.55  # classes equally often
    again = torch.cat([batch_index(2, no, 10, 100, {}, w) for no in range(200)])
    assert torch.equal(order, again)  # a pure function of (seed, batch number)
    data = load_image_folder(tiny_folder, 32, 3)
    fresh = BatchStream(data, 4, seed=1, class_balance=1.0)
    batches = [next(fresh) for _ in range(6)]
    fresh.close()
    resumed = BatchStream(data, 4, seed=1, start=3, class_balance=1.0)
    assert all(torch.equal(next(resumed)[0], batches[k][0]) for k in (3, 4, 5))
    resumed.close()
    with pytest.raises(ValueError, match="class_balance"):
        TrainConfig(class_balance=1.5)


def test_flips_are_seeded_per_batch_and_mirror_about_half(tiny_folder):
    data = load_image_folder(tiny_folder, 32, 3)
    plain, flipped = BatchStream(data, 8, seed=1), BatchStream(data, 8, seed=1, flip=True)
    for no in range(4):
        (a, _), (b, _) = next(plain), next(flipped)
        m = flip_mask(1, no, 8)
        assert torch.equal(b[m], a[m].flip(-1)) and torch.equal(b[~m], a[~m])
    plain.close(), flipped.close()
    share = torch.cat([flip_mask(1, no, 64) for no in range(50)]).float().mean().item()
    assert 0.45 < share < 0.55


def test_training_from_files_gives_the_weights_of_training_from_memory(
    tiny_folder, tmp_path, quick_cfg
):
    classes, items = _items(tiny_folder)
    model = ModelConfig(image_size=32, channels=3, num_classes=2, g_width=8, d_width=8)
    cfg = quick_cfg(model, batch_size=8, epochs=2, flip=True)
    a = train(cfg, load_image_folder(tiny_folder, 32, 3), tmp_path / "mem")
    b = train(cfg, FileImageSource(items, classes, 32, 3, "files"), tmp_path / "files")
    sha = [json.loads((p / "generator.json").read_text())["sha256"] for p in (a, b)]
    assert sha[0] == sha[1]


def test_training_draws_its_batches_by_the_configured_class_balance(
    tiny_folder, tmp_path, quick_cfg
):
    data = load_image_folder(tiny_folder, 32, 3)
    model = ModelConfig(image_size=32, channels=3, num_classes=2, g_width=8, d_width=8)
    sha = []
    for balance in (0.0, 1.0):
        out = train(
            quick_cfg(model, batch_size=8, epochs=1, class_balance=balance),
            data,
            tmp_path / str(balance),
        )
        meta = json.loads((out / "generator.json").read_text())
        assert meta["training"]["config"]["class_balance"] == balance
        sha.append(meta["sha256"])
    assert sha[0] != sha[1]  # the same seed, other batches: drawn with replacement by weight
