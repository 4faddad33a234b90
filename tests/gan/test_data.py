import numpy as np
import pytest
import torch
from PIL import Image

from gan.data import (
    DataError,
    fit_square,
    load_catalogue_csv,
    load_image_folder,
    load_source,
    trained_on,
)


def test_image_folder_skips_the_corrupt_file_by_path(tiny_folder):
    data = load_image_folder(tiny_folder, image_size=32, channels=3)
    assert data.class_names == ["mug", "shoe"]
    assert data.images.shape == (16, 3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.bincount(data.labels).tolist() == [8, 8]
    assert [p for p, _ in data.skipped] == [str(tiny_folder / "mug" / "broken.jpg")]


def test_fit_square_keeps_aspect_on_the_photos_own_background():
    img = Image.new("RGB", (80, 40), (10, 200, 10))  # wide green photo background
    img.paste(Image.new("RGB", (20, 20), (255, 0, 0)), (30, 10))
    out = np.asarray(fit_square(img, 32, 3))
    assert out.shape == (32, 32, 3)
    assert tuple(out[0, 0]) == (10, 200, 10) and tuple(out[31, 31]) == (
        10,
        200,
        10,
    )  # padding = border colour
    red = (out[:, :, 0] > 200) & (out[:, :, 1] < 60)
    rows, cols = np.nonzero(red)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert abs(height - width) <= 1  # a square stays a square: never stretched


def test_transparent_png_is_composited_on_white():
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    img.paste(Image.new("RGBA", (10, 10), (0, 0, 255, 255)), (5, 5))
    out = np.asarray(fit_square(img, 32, 3))
    assert tuple(out[0, 0]) == (255, 255, 255) and out[16, 16, 2] > 200


def test_catalogue_csv(tiny_folder):
    csv = tiny_folder / "catalogue.csv"
    csv.write_text(
        "sku,category,image\nA1,mug,mug/0.png\nA2,shoe,shoe/5.jpg\nA3,shoe,\nA4,mug,mug/missing.png\n"
    )
    data = load_catalogue_csv(csv, image_size=32, channels=1)
    assert data.class_names == ["mug", "shoe"] and data.images.shape == (2, 1, 32, 32)
    assert data.skipped[0][0].endswith("missing.png")


def test_catalogue_csv_without_required_columns(tmp_path):
    (tmp_path / "c.csv").write_text("sku,cat\n1,a\n")
    with pytest.raises(DataError, match="missing columns"):
        load_catalogue_csv(tmp_path / "c.csv")


def test_fashion_mnist_is_padded_to_32_px():
    train = load_source("fashion-mnist")
    assert train.images.shape == (60000, 1, 32, 32) and len(train.class_names) == 10
    assert (
        train.images[:, :, :2].max() == 0 and train.images[:, :, :, -2:].max() == 0
    )  # the 2 px padding
    fp = train.fingerprint()
    assert (
        fp["num_images"] == 60000 and fp["per_class"]["sneaker"] == 6000 and len(fp["sha256"]) == 64
    )


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_source(str(tmp_path / "nope"))


def _write_idx(path, array):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(bytes([0, 0, 8, array.ndim]) + dims + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("compressed", [False, True])
def test_fashion_mnist_folder_with_plain_or_gzipped_idx(tmp_path, compressed):
    import gzip

    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for stem, arr in (
        ("train-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", np.array([9, 0, 7])),
    ):
        _write_idx(tmp_path / stem, arr)
        if compressed:
            (tmp_path / (stem + ".gz")).write_bytes(gzip.compress((tmp_path / stem).read_bytes()))
            (tmp_path / stem).unlink()
    data = load_source(str(tmp_path), image_size=64, channels=3)
    assert data.images.shape == (3, 3, 64, 64) and data.labels.tolist() == [9, 0, 7]
    assert data.class_names[9] == "ankle-boot"


@pytest.mark.parametrize(
    "recorded, expected",
    [
        ("fashion-mnist:train", "fashion-mnist"),
        ("fashion-mnist:train#fit", "fashion-mnist"),
        ("folder:../shared/data/products-rgb:train#fit", "../shared/data/products-rgb"),
        ("folder:/data/shop", "/data/shop"),
        ("csv:/data/shop.csv#fit", "/data/shop.csv"),
        ("", None),
        ("somewhere", None),
    ],
)
def test_the_source_a_checkpoint_was_trained_on_is_read_back_as_a_data_value(recorded, expected):
    assert trained_on({"dataset": {"source": recorded}}) == expected
    assert trained_on({"dataset": None}) is None
