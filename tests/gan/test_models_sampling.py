import pytest
import torch

from gan.config import ModelConfig
from gan.models import build_discriminator, build_generator
from gan.sampling import latent_for_seed, sample


def _generator(size=32, channels=1, classes=4, seed=0):
    torch.manual_seed(seed)
    g = build_generator(
        ModelConfig(image_size=size, channels=channels, num_classes=classes, g_width=8, d_width=8)
    )
    # stand-in for training: class embeddings start as the identity affine (plain BN), so
    # perturb them, and a few train-mode passes give the batch norms non-trivial statistics
    with torch.no_grad():
        for name, p in g.named_parameters():
            if "gamma" in name or "beta" in name:
                p.add_(0.3 * torch.randn_like(p))
        for _ in range(2):
            g(torch.randn(16, g.cfg.z_dim), torch.randint(0, classes, (16,)))
    return g.eval()


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_dtypes(size, channels):
    cfg = ModelConfig(image_size=size, channels=channels, num_classes=3, g_width=8, d_width=8)
    g, d = build_generator(cfg).eval(), build_discriminator(cfg)
    out = sample(g, [0, 1, 2], [1, 2, 3])
    assert (
        out.shape == (3, size, size, channels)
        and out.dtype == torch.uint8
        and out.device.type == "cpu"
    )
    x = g(torch.randn(2, cfg.z_dim), torch.tensor([0, 2]))
    assert x.shape == (2, channels, size, size) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0
    assert d(x, torch.tensor([0, 2])).shape == (2,)


def test_changing_the_class_changes_the_image():
    g = _generator()
    a, b = sample(g, [0, 1], [7, 7])
    assert not torch.equal(a, b)


def test_same_seed_same_image_regardless_of_batch_position():
    g = _generator()
    alone = sample(g, [2], [123456789])
    batch = sample(g, [0, 1, 2, 3], [5, 6, 123456789, 2**63 - 1])
    again = sample(g, [3, 2], [2**63 - 1, 123456789], batch_size=1)
    assert torch.equal(alone[0], batch[2]) and torch.equal(alone[0], again[1])
    assert torch.equal(batch[3], again[0])
    assert not torch.equal(batch[0], batch[1])


def test_sampling_leaves_training_mode_and_global_rng_alone():
    g = _generator().train()
    state = torch.get_rng_state()
    sample(g, [0], [1])
    assert g.training and torch.equal(state, torch.get_rng_state())


def test_truncation_is_seeded_and_bounded():
    z = latent_for_seed(42, 128, truncation=0.5)
    assert z.abs().max() <= 0.5
    assert torch.equal(z, latent_for_seed(42, 128, truncation=0.5))
    assert not torch.equal(z, latent_for_seed(42, 128))


def test_the_latent_scale_multiplies_the_seeded_latent_and_changes_the_images():
    z = latent_for_seed(42, 128)
    assert torch.equal(latent_for_seed(42, 128, scale=1.0), z)
    assert torch.allclose(latent_for_seed(42, 128, scale=1.25), 1.25 * z)
    both = latent_for_seed(42, 128, truncation=0.5, scale=2.0)
    assert torch.allclose(both, 2 * latent_for_seed(42, 128, truncation=0.5))
    g = _generator()
    plain = sample(g, [0, 1], [3, 4])
    assert torch.equal(sample(g, [0, 1], [3, 4], latent_scale=1.0), plain)
    assert not torch.equal(sample(g, [0, 1], [3, 4], latent_scale=1.5), plain)
    for bad in (0.0, -1.0, 4.5):
        with pytest.raises(ValueError, match="latent scale"):
            latent_for_seed(1, 8, scale=bad)


@pytest.mark.parametrize("labels,seeds", [([0, 1], [1]), ([9], [1]), ([0], [-1]), ([0], [2**63])])
def test_bad_sampling_arguments_are_refused(labels, seeds):
    with pytest.raises(ValueError):
        sample(_generator(), labels, seeds)
