"""The arch registry: every network through the same trainer, old checkpoints unchanged."""

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from gan.builtin_models import BUILTIN_MODELS
from gan.checkpoint import default_model_path, load_generator
from gan.config import ModelConfig, TrainConfig
from gan.data import load_image_folder
from gan.losses import d_loss, g_loss
from gan.models import (
    ARCHS,
    ArchSpec,
    build_discriminator,
    build_generator,
    score_fake,
    score_real,
)
from gan.nets import dcgan
from gan.nets.layers import MinibatchStd, set_conditioning
from gan.sampling import sample
from gan.train import train

SMALL = dict(g_width=8, d_width=8, max_width=32)
SAMPLES_BEFORE = "default_model_samples_dfc8967.json"  # in tests/fixtures
FMNIST = BUILTIN_MODELS / "fashion-mnist-32"  # the Fashion-MNIST model (once default_model/)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_builds_at_every_size_it_supports(arch):
    for size in ARCHS[arch].sizes:
        cfg = ModelConfig(arch=arch, image_size=size, channels=3, num_classes=3, **SMALL)
        g, d = build_generator(cfg), build_discriminator(cfg)
        y = torch.tensor([0, 2])
        x = g(torch.randn(2, cfg.z_dim), y)
        assert x.shape == (2, 3, size, size) and x.abs().max() <= 1.0
        scores, aux = score_real(d, x, y)
        assert scores.shape == (2,)
        assert set(aux) == ({"recon"} if hasattr(d, "forward_with_aux") else set())
        assert all(v.shape == () and v.item() > 0 for v in aux.values())  # FastGAN reconstructs


def test_unknown_arch_and_unsupported_size_are_refused():
    with pytest.raises(ValueError, match="allowed"):
        ModelConfig(arch="stylegan9")
    with pytest.raises(ValueError, match="built for sizes"):
        ModelConfig(arch="sngan", image_size=256)


def test_the_shipped_checkpoint_has_no_arch_and_loads_as_sngan_with_the_same_bytes(tmp_path):
    meta = json.loads((FMNIST / "generator.json").read_text())
    assert "arch" not in meta["model"]  # written before archs existed
    g, _ = load_generator(FMNIST)
    assert g.cfg.arch == "sngan"
    images = sample(g, [i % 10 for i in range(40)], list(range(40)))
    # sha256 of these 40 samples computed with the code before the arch seam (commit 5983af1)
    assert hashlib.sha256(images.numpy().tobytes()).hexdigest() == (
        "1ed2e827eb5c670a5ddf30054fe253d11362db0684b5d5617b41433fb4308cca"
    )
    # ... and the same checkpoint with the arch spelled out samples the same bytes
    shutil.copytree(FMNIST, tmp_path / "m")
    meta["model"]["arch"] = "sngan"
    (tmp_path / "m" / "generator.json").write_text(json.dumps(meta))
    g2, _ = load_generator(tmp_path / "m")
    assert torch.equal(sample(g2, [i % 10 for i in range(40)], list(range(40))), images)


def test_conditioning_strength_zero_makes_fastgan_ignore_the_class():
    cfg = ModelConfig(arch="fastgan", image_size=32, channels=3, num_classes=4, **SMALL)
    torch.manual_seed(0)
    g, d = build_generator(cfg), build_discriminator(cfg)
    with torch.no_grad():  # class embeddings start as identity: make them class-specific
        for name, p in g.named_parameters():
            if "gamma" in name or "beta" in name:
                p.add_(0.5 * torch.randn_like(p))
    z, x = torch.randn(3, cfg.z_dim), torch.rand(3, 3, 32, 32) * 2 - 1
    ya, yb = torch.tensor([0, 1, 2]), torch.tensor([3, 3, 3])
    g.eval(), d.eval()  # eval: no batch statistics, no spectral-norm power step
    assert not torch.allclose(g(z, ya), g(z, yb))
    assert not torch.allclose(d(x, ya), d(x, yb))
    set_conditioning(g, 0.0)
    set_conditioning(d, 0.0)
    assert torch.equal(g(z, ya), g(z, yb)) and torch.equal(d(x, ya), d(x, yb))
    assert g.state_dict()["strength.value"].item() == 0.0  # saved with the weights


def test_conditioning_schedule():
    c = TrainConfig(cond_start=10, cond_ramp=20)
    assert [c.conditioning(s) for s in (0, 10, 20, 30, 99)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert TrainConfig().conditioning(0) == 1.0  # default: conditional from the start
    assert TrainConfig(cond_start=5).conditioning(4) == 0.0


def test_minibatch_std_has_known_answers():
    layer = MinibatchStd(2)
    # groups are (image i, image i + N/G): (0, 2) and (1, 3)
    x = torch.stack([torch.full((3, 2, 2), v) for v in (0.0, 5.0, 2.0, 5.0)])
    out = layer(x)
    assert out.shape == (4, 4, 2, 2) and torch.equal(out[:, :3], x)
    feat = out[:, 3, 0, 0]
    assert torch.allclose(feat, torch.tensor([1.0, 0.0, 1.0, 0.0]), atol=1e-3)  # std of {0, 2}
    assert torch.equal(out[:, 3], feat[:, None, None].expand(4, 2, 2))  # one value per map
    # a batch size the group does not divide: G = gcd(N, group); G = 1 appends zeros
    assert MinibatchStd(4)(torch.randn(6, 2, 3, 3)).shape == (6, 3, 3, 3)
    assert MinibatchStd(4)(torch.randn(5, 2, 3, 3))[:, 2].abs().max() == 0
    with pytest.raises(ValueError, match=">= 2"):
        MinibatchStd(1)


def test_mbstd_lets_fastgans_d_score_an_image_by_its_batch():
    cfg = ModelConfig(
        arch="fastgan", image_size=32, channels=1, num_classes=2, mbstd_group=4, **SMALL
    )
    torch.manual_seed(0)
    d = build_discriminator(cfg).eval()
    x, y = torch.rand(4, 1, 32, 32) * 2 - 1, torch.zeros(4, dtype=torch.long)
    same = x[:1].expand(4, -1, -1, -1)  # image 0 in a batch of copies: no spread
    assert not torch.allclose(d(x, y)[0], d(same, y)[0])
    plain = build_discriminator(
        ModelConfig(arch="fastgan", image_size=32, channels=1, num_classes=2, **SMALL)
    ).eval()
    assert torch.allclose(plain(x, y)[0], plain(same, y)[0], atol=1e-5)  # without it: per image
    with pytest.raises(ValueError, match="0 \\(off\\) or >= 2"):
        ModelConfig(arch="fastgan", mbstd_group=1)
    with pytest.raises(ValueError, match="only arch 'fastgan'"):
        ModelConfig(arch="sngan", mbstd_group=4)
    assert ModelConfig.from_dict({"arch": "fastgan"}).mbstd_group == 0  # older configs: off


def test_fastgan_noise_is_read_from_the_latent_so_a_seed_still_fixes_the_image(tmp_path, quick_cfg):
    cfg = ModelConfig(
        arch="fastgan", image_size=32, channels=1, num_classes=2, g_noise=True, g_convs=2, **SMALL
    )
    assert cfg.noise_levels == (8, 8, 16, 16, 32, 32)  # one map per conv, two convs a level
    assert cfg.latent_dim == cfg.z_dim + 2 * (8 * 8 + 16 * 16 + 32 * 32)
    torch.manual_seed(0)
    g = build_generator(cfg).eval()
    y = torch.tensor([0, 1])
    z = torch.randn(2, cfg.latent_dim)
    other_noise = torch.cat([z[:, : cfg.z_dim], torch.randn(2, cfg.latent_dim - cfg.z_dim)], 1)
    assert torch.equal(g(z, y), g(other_noise, y))  # the noise weights start at zero
    with torch.no_grad():
        for w in g.noise_weights:
            w.fill_(0.5)
    assert not torch.allclose(g(z, y), g(other_noise, y))  # now the noise maps draw details
    assert torch.equal(g(z, y), g(z.clone(), y))  # ... and the latent alone fixes them
    alone = sample(g, [1], [4], batch_size=1)
    assert torch.equal(sample(g, [0, 1, 0], [3, 4, 5])[1], alone[0])  # batch-independent

    # the trainer draws the whole latent, and the noise weights learn
    data = load_image_folder(_photos(tmp_path / "p"), 32, 1)
    g2, meta = load_generator(
        train(quick_cfg(cfg, batch_size=10, epochs=2, mode_seeking=0.1), data, tmp_path / "r")
    )
    assert meta["model"]["g_noise"] is True and meta["model"]["g_convs"] == 2
    assert all(w.abs().sum() > 0 for w in g2.noise_weights)
    assert sample(g2, [0, 1], [1, 2]).shape == (2, 32, 32, 1)


def test_noise_and_second_convs_are_fastgan_only_and_off_in_older_configs():
    for bad in ({"arch": "sngan", "g_noise": True}, {"arch": "dcgan", "g_convs": 2, "z_dim": 100}):
        with pytest.raises(ValueError, match="only arch 'fastgan'"):
            ModelConfig(**bad)
    with pytest.raises(ValueError, match="allowed 1, 2"):
        ModelConfig(arch="fastgan", g_convs=3)
    old = ModelConfig.from_dict({"arch": "fastgan"})
    assert (old.g_noise, old.g_convs, old.noise_levels, old.latent_dim) == (False, 1, (), 128)
    # a plain FastGAN keeps its weight names; a second conv per level only adds some
    plain = set(build_generator(ModelConfig(arch="fastgan", **SMALL)).state_dict())
    comp = set(build_generator(ModelConfig(arch="fastgan", g_convs=2, **SMALL)).state_dict())
    assert plain < comp and not any("convs2" in k or "noise" in k for k in plain)


def test_a_checkpoint_from_before_noise_and_second_convs_samples_what_it_did(tmp_path):
    # The shipped default, its JSON written as a checkpoint was before noise inputs and second
    # convs existed (no g_noise / g_convs fields: theirs are the defaults, off and 1).
    for f in default_model_path().glob("generator.*"):
        shutil.copy(f, tmp_path / f.name)
    meta_path = tmp_path / "generator.json"
    meta = json.loads(meta_path.read_text())
    assert meta["model"].pop("g_noise", False) is False and meta["model"].pop("g_convs", 1) == 1
    meta_path.write_text(json.dumps(meta))
    g, meta = load_generator(tmp_path)
    assert meta["model"]["arch"] == "fastgan" and not g.cfg.g_noise and g.cfg.g_convs == 1
    images = sample(g, [i % g.cfg.num_classes for i in range(26)], list(range(26)))
    # The same samples drawn from the same files with the code before them (commit dfc8967).
    # Their bytes are equal on one machine (sha256 in the fixture) but fp32 rounding differs
    # between CPU kinds, so the check is on 8x8-pixel block means: within 1 level of 255, where
    # a noise input or a second conv would move them by tens.
    ref = json.loads((Path(__file__).parents[1] / "fixtures" / SAMPLES_BEFORE).read_text())
    assert ref["model_sha256"] == meta["sha256"]  # drawn from this very default model
    blocks = images.float().reshape(26, 8, 8, 8, 8, 3).mean(dim=(2, 4)).reshape(26, -1)
    diff = (blocks - torch.tensor(ref["block_means"])).abs()
    assert diff.max() <= 1.0 and diff.mean() <= 0.1, (diff.max(), diff.mean())


def test_losses_have_their_textbook_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert d_loss("hinge", real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert g_loss("hinge", fake).item() == pytest.approx(1.0)
    sp = torch.nn.functional.softplus
    assert d_loss("bce", real, fake).item() == pytest.approx(
        (sp(-real).mean() + sp(fake).mean()).item()
    )
    assert g_loss("bce", torch.tensor([0.0])).item() == pytest.approx(0.6931, abs=1e-4)


def _photos(root, per_class=10, size=80):
    """20 photos: two classes that differ in shape and colour, on varied light backgrounds."""
    gen = torch.Generator().manual_seed(0)
    for k, (cat, colour) in enumerate({"dress": (180, 40, 60), "shoe": (40, 60, 170)}.items()):
        (root / cat).mkdir(parents=True)
        for i in range(per_class):
            bg = tuple(int(v) for v in 200 + torch.randint(0, 55, (3,), generator=gen))
            img = Image.new("RGB", (size, size), bg)
            box = (20, 8, 60, 72) if k == 0 else (8, 40, 72, 64)
            img.paste(Image.new("RGB", (box[2] - box[0], box[3] - box[1]), colour), box[:2])
            img.save(root / cat / f"{i}.jpg")
    return root


def test_fastgan_64px_cpu_training_smoke_on_20_photos(tmp_path, quick_cfg):
    data = load_image_folder(_photos(tmp_path / "p"), 64, 3)
    assert len(data) == 20
    model = ModelConfig(arch="fastgan", image_size=64, channels=3, num_classes=2, **SMALL)
    cfg = quick_cfg(
        model,
        batch_size=10,
        epochs=3,
        augment="color,translation,cutout",
        cond_start=1,
        cond_ramp=2,
        class_loss=0.5,
        flip=True,
        log_every=1,
    )
    started = time.monotonic()
    out = train(cfg, data, tmp_path / "run")
    assert time.monotonic() - started < 60
    g, meta = load_generator(out)
    assert g.cfg.arch == "fastgan" and meta["model"]["arch"] == "fastgan"
    assert sample(g, [0, 1], [1, 2]).shape == (2, 64, 64, 3)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["conditioning"] for r in rows] == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    assert all(r["recon"] > 0 for r in rows)  # the decoders are trained on real images
    # the auxiliary classifier: off while unconditional, weighted by the strength after
    assert [("class_d" in r, "class_g" in r) for r in rows] == [(False, False)] * 2 + [
        (True, True)
    ] * 4
    assert all(r["class_d"] > 0 and r["class_g"] > 0 for r in rows[2:])
    assert g.state_dict()["strength.value"].item() == 1.0


def test_the_class_loss_is_cross_entropy_of_ds_class_head_and_needs_one(tmp_path):
    cfg = ModelConfig(arch="fastgan", image_size=32, channels=3, num_classes=3, **SMALL)
    torch.manual_seed(0)
    d = build_discriminator(cfg).eval()  # eval: no spectral-norm power step between calls
    x, y = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0])
    _, logits = d.forward_with_logits(x, y)
    want = torch.nn.functional.cross_entropy(logits, y)
    _, fake = score_fake(d, x, y, 0.5)
    assert fake["class"].item() == pytest.approx(0.5 * want.item(), rel=1e-5)
    assert score_fake(d, x, y, 0.0)[1] == {}
    fake["class"].backward()
    assert d.classify.weight.grad.abs().sum() > 0
    data = load_image_folder(_photos(tmp_path / "p"), 32, 3)
    dc = ModelConfig(arch="dcgan", image_size=32, channels=3, num_classes=2, g_width=8, d_width=8)
    with pytest.raises(ValueError, match="no class head"):
        train(TrainConfig(model=dc, batch_size=10, class_loss=0.5), data, tmp_path / "dc")


def test_the_classic_recipe_is_one_more_arch_through_the_same_trainer(tmp_path, quick_cfg):
    data = load_image_folder(_photos(tmp_path / "p"), 32, 3)
    model = ModelConfig(
        arch="dcgan", image_size=32, channels=3, num_classes=2, z_dim=100, g_width=8, d_width=8
    )
    cfg = quick_cfg(model, batch_size=10, epochs=1, ema_decay=0.0, augment="off")
    g, meta = load_generator(train(cfg, data, tmp_path / "dc"))
    assert isinstance(g, dcgan.Generator) and meta["training"]["steps"] == 2
    a, b = sample(g, [0, 1], [5, 5]), sample(g, [1, 0], [5, 5])
    assert torch.equal(a[0], b[0])  # unconditional: the class is ignored


def test_a_newly_registered_arch_trains_with_no_change_to_the_trainer(
    tmp_path, monkeypatch, quick_cfg
):
    class TinyG(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = cfg
            self.fc = torch.nn.Linear(cfg.z_dim, cfg.channels * cfg.image_size**2)
            self.bn = torch.nn.BatchNorm1d(cfg.channels * cfg.image_size**2)

        def forward(self, z, y):
            s = self.cfg.image_size
            return torch.tanh(self.bn(self.fc(z))).view(-1, self.cfg.channels, s, s)

    class TinyD(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.fc = torch.nn.Linear(cfg.channels * cfg.image_size**2, 1)

        def forward(self, x, y):
            return self.fc(x.flatten(1)).squeeze(1)

    monkeypatch.setitem(ARCHS, "tiny", ArchSpec(TinyG, TinyD, (32,), "bce", False, "test"))
    data = load_image_folder(_photos(tmp_path / "p"), 32, 3)
    model = ModelConfig(arch="tiny", image_size=32, channels=3, num_classes=2, z_dim=8)
    cfg = quick_cfg(model, batch_size=10, epochs=2)
    g, meta = load_generator(train(cfg, data, tmp_path / "t"))
    assert isinstance(g, TinyG) and meta["training"]["steps"] == 4


def test_a_saved_config_with_an_unknown_field_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown model config fields \['colour'\]; allowed"):
        ModelConfig.from_dict({"arch": "fastgan", "colour": 1})
    with pytest.raises(ValueError, match=r"unknown train config fields \['lr'\]; allowed"):
        TrainConfig.from_dict({"lr": 1e-3, "model": {"arch": "fastgan"}})
    assert TrainConfig.from_dict({"model": {"arch": "dcgan"}}).model.arch == "dcgan"
