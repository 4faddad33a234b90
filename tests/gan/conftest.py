import pytest
import torch
from PIL import Image

torch.set_num_threads(1)  # the CI/dev machines have 2 cores shared with other work


@pytest.fixture
def quick_cfg():
    """A factory of TrainConfig for tiny training runs in tests: on the CPU, no sample grids or
    snapshots on the way, 2 grid columns; keyword arguments override."""
    from gan.config import TrainConfig

    def make(model, **overrides):
        opts = {"device": "cpu", "sample_every": 10**6, "grid_per_class": 2, **overrides}
        return TrainConfig(model=model, **opts)

    return make


@pytest.fixture
def tiny_folder(tmp_path):
    """Two categories of RGB photos of mixed sizes/modes, plus one corrupt file."""
    root = tmp_path / "photos"
    colours = {"mug": (200, 30, 30), "shoe": (30, 30, 200)}
    sizes = [(40, 20), (20, 50), (64, 64), (33, 17), (100, 60), (31, 31), (45, 80), (25, 25)]
    for cat, colour in colours.items():
        (root / cat).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            img = Image.new("RGB", (w, h), (245, 245, 245))
            img.paste(Image.new("RGB", (w // 2, h // 2), colour), (w // 4, h // 4))
            if i == 1:
                img = img.convert("RGBA")
            elif i == 2:
                img = img.convert("P", palette=Image.Palette.ADAPTIVE)
            elif i == 3:
                img = img.convert("L")
            img.save(root / cat / f"{i}.{'png' if i < 4 else 'jpg'}")
    (root / "mug" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root
