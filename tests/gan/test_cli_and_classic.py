import click
import pytest
from click.testing import CliRunner
from PIL import Image

from gan.builtin_models import BUILTIN_MODELS
from gan.checkpoint import (
    default_model_path,
    init_generator_checkpoint,
    load_generator,
)
from gan.cli import generate_command, make_generate_command
from gan.cli_common import resolve_model
from gan.data import load_image_folder
from gan.sampling import sample


def test_generate_writes_numbered_pngs_at_native_resolution(tmp_path):
    ckpt = init_generator_checkpoint(tmp_path / "m", ["mug", "shoe"], image_size=64, channels=3)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        generate_command,
        [
            "--model",
            str(ckpt),
            "--category",
            "shoe",
            "--count",
            "3",
            "--seed",
            "10",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (out / "shoe").iterdir())
    assert files == ["00000.png", "00001.png", "00002.png"]
    with Image.open(out / "shoe" / "00000.png") as img:
        assert img.size == (64, 64) and img.mode == "RGB"


def test_generate_is_reproducible_per_seed(tmp_path):
    ckpt = init_generator_checkpoint(tmp_path / "m", ["a"], seed=4)
    for name, seed in (("x", "5"), ("y", "4")):
        CliRunner().invoke(
            generate_command,
            [
                "--model",
                str(ckpt),
                "--category",
                "a",
                "--count",
                "2",
                "--seed",
                seed,
                "--out",
                str(tmp_path / name),
            ],
        )
    assert (tmp_path / "x/a/00000.png").read_bytes() == (tmp_path / "y/a/00001.png").read_bytes()


def test_generate_rejects_unknown_category_and_model(tmp_path):
    ckpt = init_generator_checkpoint(tmp_path / "m", ["mug"])
    res = CliRunner().invoke(
        generate_command, ["--model", str(ckpt), "--category", "hat", "--out", str(tmp_path)]
    )
    assert res.exit_code != 0 and "allowed: mug" in res.output
    res = CliRunner().invoke(
        generate_command,
        ["--model", str(tmp_path / "nope"), "--category", "mug", "--out", str(tmp_path)],
    )
    assert res.exit_code != 0 and "no such checkpoint" in res.output


def test_the_builtin_name_resolves_to_its_folder():
    assert resolve_model("default") == default_model_path()
    folder = resolve_model("fashion-mnist-32", resolver=lambda name: pytest.fail(name))
    assert folder == BUILTIN_MODELS / "fashion-mnist-32"
    g, meta = load_generator(folder)
    assert (meta["image_size"], meta["channels"], len(meta["class_names"])) == (32, 1, 10)
    # its sampled bytes are pinned in test_archs (the checkpoint without an arch field)


def test_generate_takes_the_builtin_name(tmp_path):
    args = ["--category", "sneaker", "--count", "2", "--seed", "3"]
    by_name = CliRunner().invoke(
        generate_command, ["--model", "fashion-mnist-32", *args, "--out", str(tmp_path / "a")]
    )
    assert by_name.exit_code == 0, by_name.output
    folder = str(BUILTIN_MODELS / "fashion-mnist-32")
    CliRunner().invoke(generate_command, ["--model", folder, *args, "--out", str(tmp_path / "b")])
    for n in ("00000.png", "00001.png"):
        data = (tmp_path / "a" / "sneaker" / n).read_bytes()
        assert data == (tmp_path / "b" / "sneaker" / n).read_bytes()
    with Image.open(tmp_path / "a" / "sneaker" / "00000.png") as img:
        assert img.size == (32, 32) and img.mode == "L"


def test_an_unknown_name_names_the_builtins(tmp_path):
    with pytest.raises(click.BadParameter, match="fashion-mnist-32") as err:
        resolve_model("fashion-mnist-64")
    assert "no such checkpoint" in err.value.message and "'default'" in err.value.message
    res = CliRunner().invoke(
        generate_command,
        ["--model", "fashion-mnist", "--category", "bag", "--out", str(tmp_path)],
    )
    assert res.exit_code != 0 and "fashion-mnist-32" in res.output


def test_generate_uses_the_resolver_for_names(tmp_path):
    ckpt = init_generator_checkpoint(tmp_path / "m", ["mug"])
    command = make_generate_command(resolver=lambda name: ckpt if name == "shop@3" else None)
    res = CliRunner().invoke(
        command,
        ["--model", "shop@3", "--category", "mug", "--count", "1", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o/mug/00000.png").is_file()


@pytest.mark.gpu
def test_classic_dcgan_trains_on_cuda_through_the_trainer(tiny_folder, tmp_path):
    from gan.bench import classic_config
    from gan.checkpoint import load_generator
    from gan.train import train

    data = load_image_folder(tiny_folder, 32, 3)
    meta = {"image_size": 32, "channels": 3, "class_names": ["mug", "shoe"]}
    cfg = classic_config(meta, 0, "cuda", epochs=1.0, num_images=len(data))
    g, info = load_generator(train(cfg, data, tmp_path / "dc"))
    assert info["training"]["device"] == "cuda" and info["model"]["arch"] == "dcgan"
    assert sample(g, [0] * 5, range(5)).shape == (5, 32, 32, 3)
