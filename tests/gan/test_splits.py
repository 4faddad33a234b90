import csv

import pytest
import torch
from PIL import Image

from gan.data import DataError
from gan.splits import carve, load_splits, train_split

CLASSES = ("hat", "shoe", "skirt")


def _tags(data) -> set[int]:
    """Every fixture image is one flat grey level: its identity."""
    return {int(v) for v in data.images[:, 0, 0, 0].tolist()}


def _photo(path, level):
    Image.new("RGB", (40, 30), (level, level, level)).save(path)


@pytest.fixture
def declared(tmp_path):
    """3 classes x 24 photos, each a unique grey level; 4 per class declared test."""
    root = tmp_path / "shop"
    rows, level = [], 0
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for i in range(24):
            level += 3
            _photo(root / c / f"{i:02d}.png", level)
            rows.append((f"{c}/{i:02d}.png", c, "src", "test" if i % 6 == 0 else "train"))
    with open(root / "splits.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "category", "source", "split"])
        w.writerows(rows)
    return root, rows


def test_carve_is_per_class_deterministic_and_stable_under_additions():
    keys = [f"img{i}" for i in range(200)]
    labels = torch.tensor([i % 4 for i in range(200)])
    rest, val = carve(keys, labels, 0.1, seed=0)
    assert set(rest.tolist()).isdisjoint(val.tolist()) and len(rest) + len(val) == 200
    assert torch.bincount(labels[val]).tolist() == [5, 5, 5, 5]
    again = carve(keys, labels, 0.1, seed=0)
    assert torch.equal(again[1], val)
    assert not torch.equal(carve(keys, labels, 0.1, seed=1)[1], val)  # the seed matters
    # one more image in class 0: no other image changes side
    _, val2 = carve([*keys, "new"], torch.cat([labels, torch.tensor([0])]), 0.1, seed=0)
    moved = set(val.tolist()) ^ {i for i in val2.tolist() if i < 200}
    assert len(moved) <= 1  # at most the one displaced by the newcomer's rank


def test_carve_keeps_tiny_classes_on_both_sides():
    rest, val = carve(["a", "b", "c"], torch.tensor([0, 0, 1]), 0.1)
    assert sorted(val.tolist()) in ([0], [1])  # class 0 gives one, the single-image class none
    assert 2 in rest.tolist()
    with pytest.raises(ValueError):
        carve(["a"], torch.tensor([0]), 1.0)


def test_declared_splits_are_honoured_and_validation_comes_from_train_only(declared):
    root, rows = declared
    s = load_splits(str(root), image_size=16, channels=3)
    assert s.class_names == list(CLASSES)
    assert len(s.test) == 12 and len(s.fit) + len(s.val) == 60
    declared_test = {3 * (n + 1) for n, r in enumerate(rows) if r[3] == "test"}
    assert _tags(s.test) == declared_test
    fit, val = _tags(s.fit), _tags(s.val)
    assert fit.isdisjoint(val) and fit.isdisjoint(declared_test) and val.isdisjoint(declared_test)
    assert torch.bincount(s.val.labels).tolist() == [2, 2, 2]  # round(0.1 * 20) per class
    again = load_splits(str(root), image_size=16, channels=3)
    assert _tags(again.val) == val and _tags(again.fit) == fit
    assert _tags(s.held_out("val")) == val and _tags(s.held_out("test")) == declared_test
    assert _tags(s.seen("val")) == fit and _tags(s.seen("test")) == fit | val
    with pytest.raises(ValueError, match="allowed val, test"):
        s.held_out("train")


def test_a_declared_validation_split_is_used_as_is(declared):
    root, rows = declared
    rows = [(p, c, src, "val" if i % 6 == 1 else sp) for i, (p, c, src, sp) in enumerate(rows)]
    with open(root / "splits.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "category", "source", "split"), *rows])
    s = load_splits(str(root), image_size=16, channels=3)
    assert _tags(s.val) == {3 * (n + 1) for n, r in enumerate(rows) if r[3] == "val"}
    assert "declared" in s.info["val"]


def test_bad_splits_csv_is_refused_with_the_line(declared):
    root, _ = declared
    text = (root / "splits.csv").read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",holdout"
    (root / "splits.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"splits.csv:4: split 'holdout'"):
        load_splits(str(root), image_size=16, channels=3)


def test_a_folder_without_splits_csv_is_carved_three_ways(declared):
    root, _ = declared
    (root / "splits.csv").unlink()
    s = load_splits(str(root), image_size=16, channels=3)
    fit, val, test = _tags(s.fit), _tags(s.val), _tags(s.test)
    assert len(fit) + len(val) + len(test) == 72
    assert fit.isdisjoint(val) and fit.isdisjoint(test) and val.isdisjoint(test)
    assert torch.bincount(s.test.labels).tolist() == [2, 2, 2]
    assert _tags(load_splits(str(root), image_size=16, channels=3).test) == test


def test_fashion_mnist_validation_is_carved_from_its_train_split():
    s = load_splits("fashion-mnist")
    assert (len(s.fit), len(s.val), len(s.test)) == (54_000, 6_000, 10_000)
    assert torch.bincount(s.val.labels).tolist() == [600] * 10
    assert s.test.source == "fashion-mnist:test"
    again = load_splits("fashion-mnist")
    assert again.val.fingerprint()["sha256"] == s.val.fingerprint()["sha256"]
    # disjoint from the rest of train: no validation image is (pixel for pixel) a fit image
    fit_hashes = {hash(row.numpy().tobytes()) for row in s.fit.images[:, 0]}
    dup = sum(hash(row.numpy().tobytes()) in fit_hashes for row in s.val.images[:200, 0])
    assert dup <= 2  # Fashion-MNIST itself has a handful of exact duplicates


def test_the_train_split_of_a_folder_is_fit_and_validation_never_test(declared):
    root, rows = declared
    s = load_splits(str(root), image_size=16, channels=3)
    train = train_split(str(root), image_size=16, channels=3)
    declared_test = {3 * (n + 1) for n, r in enumerate(rows) if r[3] == "test"}
    assert len(train) == 60 and _tags(train) == _tags(s.fit) | _tags(s.val)
    assert _tags(train).isdisjoint(declared_test)
