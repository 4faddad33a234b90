import pytest
from click.testing import CliRunner
from PIL import Image

from gan.checkpoint import init_generator_checkpoint
from gan.cli import generate_command, make_generate_command
from gan.data import load_image_folder


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
    from gan.sampling import sample
    from gan.train import train

    data = load_image_folder(tiny_folder, 32, 3)
    meta = {"image_size": 32, "channels": 3, "class_names": ["mug", "shoe"]}
    cfg = classic_config(meta, 0, "cuda", epochs=1.0, num_images=len(data))
    g, info = load_generator(train(cfg, data, tmp_path / "dc"))
    assert info["training"]["device"] == "cuda" and info["model"]["arch"] == "dcgan"
    assert sample(g, [0] * 5, range(5)).shape == (5, 32, 32, 3)
