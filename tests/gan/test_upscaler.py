import json
import math
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageFilter

from gan.checkpoint import CheckpointError, init_generator_checkpoint, load_generator, sha256_bytes
from gan.sr_metrics import laplacian_variance, psnr_y, ssim
from gan.upscale_checkpoint import load_upscaler, save_upscaler
from gan.upscale_cli import upscale_command, upscale_eval_command
from gan.upscale_data import list_photos
from gan.upscale_eval import (
    FIGURE_COLUMNS,
    evaluate_generated,
    evaluate_upscaler,
    gap_closed,
    generated_figure,
    generated_samples,
)
from gan.upscale_train import UpscaleTrainConfig, train_upscaler
from gan.upscaler import UpscalerConfig, build_upscaler, macs, upscale

TINY = UpscalerConfig(width=8, depth=2)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return build_upscaler(TINY).eval()


def pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def texture(rng, size=64):
    """Two-colour stripes or checkerboards at a random period, angle and phase."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    period, angle = rng.uniform(12, 32), rng.uniform(0, np.pi)
    phase = rng.uniform(0, period)
    on = ((np.cos(angle) * xx + np.sin(angle) * yy + phase) % period) < period / 2
    if rng.random() < 0.5:
        on ^= ((-np.sin(angle) * xx + np.cos(angle) * yy + phase) % period) < period / 2
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    return np.where(on[..., None], c1, c0).astype(np.uint8)


def texture_folder(root, count, seed=1, size=64):
    rng = np.random.default_rng(seed)
    (root / "tex").mkdir(parents=True)
    for i in range(count):
        Image.fromarray(texture(rng, size)).save(root / "tex" / f"{i:03d}.png")
    return root


def as_float(a):
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize(
    ("shape", "passes", "out"),
    [
        ((2, 13, 7, 3), 1, (2, 52, 28, 3)),
        ((1, 9, 11, 1), 1, (1, 36, 44, 1)),
        ((1, 5, 3, 3), 2, (1, 80, 48, 3)),
    ],
)
def test_upscale_shapes_rgb_grey_odd(shape, passes, out):
    y = upscale(tiny_net(), pixels(shape), passes=passes)
    assert y.shape == out and y.dtype == np.uint8


def test_grey_is_the_mean_of_the_rgb_result_of_its_replica():
    grey = pixels((1, 10, 10, 1))
    rgb = upscale(tiny_net(), np.repeat(grey, 3, axis=3)).astype(np.float64)
    assert np.abs(upscale(tiny_net(), grey)[..., 0] - rgb.mean(axis=3)).max() <= 1.0


def test_same_input_same_bytes_and_batches_do_not_interact():
    x = pixels((3, 17, 12, 3))
    a = upscale(tiny_net(), x, batch_size=2)
    assert a.tobytes() == upscale(tiny_net(), x, batch_size=2).tobytes()
    assert np.array_equal(a[1:2], upscale(tiny_net(), x[1:2]))


def test_bad_input_is_refused():
    net = tiny_net()
    with pytest.raises(ValueError, match="uint8"):
        upscale(net, np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="channels"):
        upscale(net, np.zeros((1, 8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="at most"):
        upscale(net, np.zeros((1, 300, 300, 3), np.uint8), passes=2)


def conv_macs_by_hooks(cfg, h, w):
    net, total = build_upscaler(cfg), []

    def hook(m, inp, out):
        total.append(out.shape[2] * out.shape[3] * m.out_channels * m.in_channels * 9)

    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, 3, h, w))
    return sum(total)


def test_macs_follow_the_layers_and_the_default_fits_the_budget():
    for cfg in (TINY, UpscalerConfig()):
        assert macs(cfg, 12, 20) == conv_macs_by_hooks(cfg, 12, 20)
    assert macs(UpscalerConfig(), 128, 128) <= 2e9
    assert sum(p.numel() for p in build_upscaler(UpscalerConfig()).parameters()) < 1_000_000


def test_unknown_arch_or_field_is_refused():
    with pytest.raises(ValueError, match="arch"):
        UpscalerConfig(arch="swinir")
    with pytest.raises(ValueError, match="unknown"):
        UpscalerConfig.from_dict({"width": 8, "layers": 3})


@pytest.fixture
def ckpt(tmp_path):
    return save_upscaler(tmp_path / "up", tiny_net(3), {"name": "tiny", "training": {"steps": 1}})


def test_checkpoint_round_trip(ckpt):
    x = pixels((1, 9, 9, 3))
    want = upscale(tiny_net(3), x)
    for path in (ckpt, ckpt / "upscaler.json", ckpt / "upscaler.safetensors"):
        net, meta = load_upscaler(path)
        assert np.array_equal(upscale(net, x), want)
    assert meta["format"] == "assetgen-upscaler/1" and meta["arch"] == "srvgg-compact"
    assert meta["config"] == TINY.to_dict() and meta["scale"] == 4 and meta["name"] == "tiny"
    assert meta["sha256"] == sha256_bytes((ckpt / "upscaler.safetensors").read_bytes())
    assert not any(p.requires_grad for p in net.parameters())


def test_tampered_weights_are_refused(ckpt):
    path = ckpt / "upscaler.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_upscaler(ckpt)


def test_pickles_are_refused_even_with_a_matching_sha(ckpt, tmp_path):
    path = ckpt / "upscaler.safetensors"
    path.write_bytes(pickle.dumps({"w": torch.zeros(2)}))
    meta = json.loads((ckpt / "upscaler.json").read_text())
    meta["sha256"] = sha256_bytes(path.read_bytes())
    (ckpt / "upscaler.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="pickle"):
        load_upscaler(ckpt)
    torch.save(tiny_net().state_dict(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="refused"):
        load_upscaler(tmp_path / "model.pt")


def small_train_config(**kw):
    base = dict(
        model=UpscalerConfig(width=16, depth=3),
        crop=64,
        batch_size=8,
        lr=5e-3,
        ema_decay=0.9,
        degraded_fraction=0.0,
        generator_fraction=0.0,
        generator_size=16,
        val_images=4,
        val_crop=64,
        log_every=50,
        save_every=10_000,
        seed=0,
        device="cpu",
        num_threads=1,
    )
    return UpscaleTrainConfig(**{**base, **kw})


def test_a_tiny_upscaler_learns_to_beat_bicubic_on_held_out_textures(tmp_path):
    # Measured: +0.65 dB PSNR-Y over bicubic after 800 steps (seed 0, one thread).
    folder = texture_folder(tmp_path / "tex", 200)
    out = train_upscaler(small_train_config(steps=800), folder, tmp_path / "run", resume=False)
    net, meta = load_upscaler(out)
    assert meta["training"]["steps"] == 800
    rng = np.random.default_rng(99)  # other textures than the training folder's
    hr = np.stack([texture(rng) for _ in range(16)])
    lo = np.stack([np.asarray(Image.fromarray(h).resize((16, 16), Image.BICUBIC)) for h in hr])
    bic = np.stack([np.asarray(Image.fromarray(im).resize((64, 64), Image.BICUBIC)) for im in lo])
    gain = psnr_y(as_float(upscale(net, lo)), as_float(hr)) - psnr_y(as_float(bic), as_float(hr))
    assert gain.mean().item() > 0.3


def test_a_killed_run_resumes_exactly(tmp_path):
    folder = texture_folder(tmp_path / "tex", 12)
    cfg = small_train_config(
        steps=4, degraded_fraction=0.5, generator_fraction=0.25, save_every=2, log_every=2
    )
    train_upscaler(cfg, folder, tmp_path / "straight", resume=False)
    train_upscaler(small_train_config(**{**cfg.__dict__, "steps": 2}), folder, tmp_path / "cut")
    train_upscaler(cfg, folder, tmp_path / "cut")
    a, b = (tmp_path / d / "upscaler.safetensors" for d in ("straight", "cut"))
    assert a.read_bytes() == b.read_bytes()
    rows = [json.loads(r) for r in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert (tmp_path / "cut" / "samples.png").is_file() and (
        tmp_path / "cut" / "loss.png"
    ).is_file()


def test_splits_csv_keeps_the_test_photos_out_of_training(tmp_path):
    root = texture_folder(tmp_path / "p", 6)
    rows = ["path,split"] + [f"tex/{i:03d}.png,{'test' if i < 2 else 'train'}" for i in range(6)]
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    assert [p.name for p in list_photos(root, "train")] == [f"00{i}.png" for i in range(2, 6)]
    report = evaluate_upscaler(tiny_net(), root, "test")
    assert report["images"] == 2
    methods = report["methods"]
    assert set(methods) == {"ours", "bicubic", "lanczos"}
    assert methods["bicubic"]["psnr_y"] != methods["lanczos"]["psnr_y"]
    assert all(0 < m["ssim"] <= 1 and m["sharpness"] > 0 for m in methods.values())


def test_psnr_and_ssim_of_identical_and_different_images():
    a = as_float(pixels((2, 32, 32, 3)))
    assert torch.allclose(ssim(a, a), torch.ones(2))
    assert (psnr_y(a, a) > 90).all()
    assert (ssim(a, 1 - a) < 0.5).all() and (psnr_y(a, 1 - a) < 15).all()


def test_upscale_command_keeps_names_folders_and_modes(ckpt, tmp_path):
    src = tmp_path / "in"
    (src / "shoes").mkdir(parents=True)
    Image.fromarray(pixels((7, 5, 3))).save(src / "a.png")
    Image.fromarray(pixels((9, 6), 1)).save(src / "shoes" / "b.jpg")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        upscale_command, ["--model", str(ckpt), "--device", "cpu", str(src), str(out)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(out / "a.png") as a, Image.open(out / "shoes" / "b.jpg") as b:
        assert (a.size, a.mode, b.size, b.mode) == ((20, 28), "RGB", (24, 36), "L")
    (src / "bad.png").write_bytes(b"not an image")
    result = CliRunner().invoke(
        upscale_command, ["--model", str(ckpt), "--device", "cpu", str(src), str(out)]
    )
    assert result.exit_code != 0 and "bad.png: not a readable image" in result.output


def test_laplacian_variance_orders_sharp_blurred_and_lanczos_enlarged_images():
    sharp = texture(np.random.default_rng(5), 128)
    img = Image.fromarray(sharp)
    blurred = [np.asarray(img.filter(ImageFilter.GaussianBlur(r))) for r in (0.8, 1.6, 3.2)]
    values = [laplacian_variance(a) for a in (sharp, *blurred)]
    assert values == sorted(values, reverse=True) and values[-1] < 0.2 * values[0]
    small = img.resize((32, 32), Image.Resampling.LANCZOS)
    enlarged = np.asarray(small.resize((128, 128), Image.Resampling.LANCZOS))
    assert laplacian_variance(enlarged) < 0.5 * values[0]
    flat = np.full((16, 16, 1), 128, np.uint8)
    assert laplacian_variance(flat) == 0.0
    assert laplacian_variance(sharp[:, :, :1]) > 0  # grey (H, W, 1) works too


def test_gap_closed():
    assert gap_closed(60.0, 20.0, 100.0) == pytest.approx(0.5)
    assert gap_closed(20.0, 20.0, 100.0) == 0.0
    assert gap_closed(150.0, 20.0, 100.0) > 1  # overshoots the photos
    assert gap_closed(30.0, 50.0, 50.0) is None


def numbers_are_finite(v) -> bool:
    if isinstance(v, dict):
        return all(numbers_are_finite(x) for x in v.values())
    return not isinstance(v, float) or math.isfinite(v)


@pytest.fixture
def photo_folder(tmp_path):
    """6 test textures of 96 px: x4 of 32 px (128) is above them, so both scales are shrunk."""
    root = texture_folder(tmp_path / "p", 8, size=96)
    rows = ["path,split"] + [f"tex/{i:03d}.png,{'test' if i < 6 else 'train'}" for i in range(8)]
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("channels", [1, 3])
def test_evaluate_generated_reports_every_scale(tmp_path, photo_folder, channels):
    torch.set_num_threads(1)
    gen, _ = load_generator(
        init_generator_checkpoint(tmp_path / "g", ["a", "b"], image_size=32, channels=channels)
    )
    report = evaluate_generated(tiny_net(), gen, photo_folder, per_class=2, seed=3)
    assert numbers_are_finite(report)
    assert (report["native_size"], report["channels"], report["samples"]) == (32, channels, 4)
    assert report["real"]["images"] == 6
    assert report["real"]["original_longest_side"] == {"min": 96, "max": 96}
    assert set(report["scales"]) == {"x4", "x16"}
    for name, size in (("x4", 128), ("x16", 512)):
        r = report["scales"][name]
        assert (r["size"], r["measured_at"]) == (size, 96)
        for key in ("ours", "lanczos", "real", "ours_full_size", "lanczos_full_size"):
            assert r[key] >= 0
        assert r["gap_closed"] == pytest.approx(
            (r["ours"] - r["lanczos"]) / (r["real"] - r["lanczos"])
        )
        assert r["closer_to_real"] == (abs(r["ours"] - r["real"]) < abs(r["lanczos"] - r["real"]))
    # fixed seeds: the same report again, and the first samples do not depend on per_class
    again = evaluate_generated(tiny_net(), gen, photo_folder, per_class=2, seed=3)
    assert again == report
    one, _ = generated_samples(gen, 1, seed=3)
    two, labels = generated_samples(gen, 2, seed=3)
    assert labels == [0, 0, 1, 1] and np.array_equal(one, two[::2])


def test_real_photos_at_or_below_their_own_size_are_not_shrunk_twice(tmp_path):
    root = texture_folder(tmp_path / "p", 3, size=600)
    (root / "splits.csv").write_text(
        "path,split\n" + "".join(f"tex/{i:03d}.png,test\n" for i in range(3))
    )
    gen, _ = load_generator(init_generator_checkpoint(tmp_path / "g", ["a"], image_size=32))
    report = evaluate_generated(tiny_net(), gen, root, per_class=1)
    x4, x16 = report["scales"]["x4"], report["scales"]["x16"]
    assert (x4["measured_at"], x16["measured_at"]) == (128, 512)
    assert "ours_full_size" not in x4 and "ours_full_size" not in x16


def test_upscale_eval_with_a_generator_writes_json_and_figure(ckpt, tmp_path, photo_folder):
    gen = init_generator_checkpoint(tmp_path / "g", ["a", "b"], image_size=32, channels=1)
    fig = tmp_path / "fig.png"
    args = ["--model", str(ckpt), "--data", str(photo_folder), "--generator", str(gen)]
    args += ["--per-class", "1", "--figure", str(fig), "--figure-per-class", "1"]
    result = CliRunner().invoke(upscale_eval_command, [*args, "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["generator"]["sha256"] and report["model"]["name"] == "tiny"
    assert report["samples"] == 2 and report["figure"] == str(fig)
    with Image.open(fig) as img:  # 2 rows of 5 tiles of 256 px, a title line, a label margin
        assert img.size == (78 + 5 * 258 + 2, 16 + 2 * 258 + 2)
    result = CliRunner().invoke(upscale_eval_command, [*args[:-4], "--device", "cpu"])
    assert result.exit_code == 0 and "gap closed" in result.output


def test_generated_figure_tiles_show_the_enlargements(tmp_path):
    gen, _ = load_generator(
        init_generator_checkpoint(tmp_path / "g", ["a"], image_size=32, channels=3)
    )
    img = np.asarray(generated_figure(tiny_net(), gen, ["a"], per_class=1, tile=64))
    assert len(FIGURE_COLUMNS) == 5 and img.shape == (16 + 66 + 2, 78 + 5 * 66 + 2, 3)
    native = np.asarray(generated_samples(gen, 1)[0][0])
    tile = img[18 : 18 + 64, 80 : 80 + 64]  # nearest x2 of the native sample
    assert np.array_equal(tile[::2, ::2], native)
