import json
import pickle

import pytest
import torch
from safetensors.torch import save as st_save_bytes

from gan.builtin_models import BUILTIN_MODELS, builtin_model_names, builtin_model_path
from gan.checkpoint import (
    CheckpointError,
    default_model_path,
    init_generator_checkpoint,
    load_generator,
    read_verified_weights,
    sha256_bytes,
)
from gan.sampling import sample

CLASSES = ["t-shirt", "sneaker", "bag"]


@pytest.fixture
def ckpt(tmp_path):
    return init_generator_checkpoint(tmp_path / "ckpt", CLASSES, image_size=32, channels=1, seed=3)


def test_round_trip_by_dir_or_either_file(ckpt):
    g, meta = load_generator(ckpt)
    assert meta["format"] == "assetgen-generator/1"
    assert meta["class_names"].index("sneaker") == 1
    assert (meta["image_size"], meta["channels"]) == (32, 1)
    assert meta["sha256"] == sha256_bytes((ckpt / "generator.safetensors").read_bytes())
    assert not g.training and not any(p.requires_grad for p in g.parameters())
    for path in (ckpt / "generator.json", ckpt / "generator.safetensors"):
        g2, _ = load_generator(path)
        assert torch.equal(sample(g, [1], [5]), sample(g2, [1], [5]))


def test_init_is_seeded(tmp_path):
    a = init_generator_checkpoint(tmp_path / "a", CLASSES, seed=1)
    b = init_generator_checkpoint(tmp_path / "b", CLASSES, seed=1)
    c = init_generator_checkpoint(tmp_path / "c", CLASSES, seed=2)

    def sha(p):
        return json.loads((p / "generator.json").read_text())["sha256"]

    assert sha(a) == sha(b) != sha(c)


def test_changed_byte_is_refused(ckpt):
    weights = ckpt / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256.*does not match"):
        load_generator(ckpt)


def test_pickle_renamed_to_safetensors_is_refused_even_with_matching_hash(ckpt):
    blob = pickle.dumps({"weight": [1, 2, 3]})
    (ckpt / "generator.safetensors").write_bytes(blob)
    with pytest.raises(CheckpointError, match="pickle"):
        load_generator(ckpt)
    meta = json.loads((ckpt / "generator.json").read_text())
    meta["sha256"] = sha256_bytes(blob)  # an attacker who also rewrote the JSON
    (ckpt / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="pickle"):
        load_generator(ckpt)


def test_safetensors_whose_header_length_starts_with_pickles_byte_loads(tmp_path):
    # the file opens with its header length, little-endian: 0x80 in its low byte is also the
    # first byte of a pickle, which must not refuse a real safetensors file
    for n in range(1, 300):
        data = st_save_bytes({"w" * n: torch.zeros(2)})
        if data[0] == 0x80:
            break
    assert data[0] == 0x80
    path = tmp_path / "w.safetensors"
    path.write_bytes(data)
    assert torch.equal(read_verified_weights(path, sha256_bytes(data))["w" * n], torch.zeros(2))


def test_torch_save_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a generator checkpoint"):
        load_generator(path)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda m: m.update(format="something/9"), "format"),
        (lambda m: m.pop("sha256"), "sha256"),
        (lambda m: m.update(class_names=["a"]), "class_names"),
    ],
)
def test_bad_metadata_is_refused(ckpt, mutate, message):
    meta = json.loads((ckpt / "generator.json").read_text())
    mutate(meta)
    (ckpt / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        load_generator(ckpt)


def test_missing_json_is_refused(ckpt):
    (ckpt / "generator.json").unlink()
    with pytest.raises(CheckpointError, match="missing checkpoint metadata"):
        load_generator(ckpt / "generator.safetensors")


def test_the_builtin_fashion_mnist_model_loads_with_ten_classes():
    g, meta = load_generator(builtin_model_path("fashion-mnist-32"))
    assert len(meta["class_names"]) == 10 and meta["class_names"][7] == "sneaker"
    assert sample(g, [7], [0]).shape == (1, 32, 32, 1)


def test_the_shipped_default_model_loads_and_samples_at_its_recorded_size():
    g, meta = load_generator(default_model_path())
    assert len(meta["class_names"]) == g.cfg.num_classes >= 2
    size, channels = meta["image_size"], meta["channels"]
    assert sample(g, [0], [0]).shape == (1, size, size, channels)


def test_builtin_models_are_the_folders_under_models(tmp_path):
    assert "fashion-mnist-32" in builtin_model_names()
    assert builtin_model_path("fashion-mnist-32") == BUILTIN_MODELS / "fashion-mnist-32"
    for name in ("nope", "default", "", ".", "..", "../default_model", "fashion-mnist-32/"):
        assert builtin_model_path(name) is None, name
    (tmp_path / "no-generator").mkdir()
    init_generator_checkpoint(tmp_path / "mine", CLASSES)
    assert builtin_model_names(tmp_path) == ("mine",)
    assert builtin_model_path("mine", tmp_path) == tmp_path / "mine"
    assert builtin_model_names(tmp_path / "absent") == ()
