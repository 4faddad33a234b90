import torch

from gan.augment import color, cutout, diff_augment, translation


def test_ops_keep_shape_and_are_differentiable():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x, ("color", "translation", "cutout"))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_cutout_zeroes_a_quarter_sized_square_at_most():
    torch.manual_seed(1)
    x = torch.ones(8, 1, 32, 32)
    zeros = (cutout(x) == 0).flatten(1).sum(1)
    assert (zeros > 0).all() and (zeros <= 16 * 16).all()


def test_translation_moves_content_without_scaling_it():
    torch.manual_seed(2)
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, 14:18, 14:18] = 1.0
    y = translation(x)
    assert (y.flatten(1).sum(1) == 16).all()  # the 4x4 block moves by at most 4 px: never cut


def test_color_is_a_per_image_affine_change():
    torch.manual_seed(3)
    x = torch.rand(2, 1, 8, 8)
    y = color(x)
    for i in range(2):
        a = torch.linalg.lstsq(
            torch.stack([x[i].flatten(), torch.ones(64)], 1), y[i].flatten()[:, None]
        ).solution
        assert torch.allclose(
            torch.stack([x[i].flatten(), torch.ones(64)], 1) @ a, y[i].flatten()[:, None], atol=1e-5
        )


def test_auto_policy_is_full_diffaugment_below_the_threshold_and_off_above():
    from gan.config import TrainConfig
    from gan.models import ARCHS
    from gan.train import augment_ops

    cfg = TrainConfig(augment=ARCHS["fastgan"].recipe["augment"], augment_below=100)
    assert augment_ops(cfg, 99) == ("color", "translation", "cutout")
    assert augment_ops(cfg, 100) == ()  # a large data set: no augmentation
    assert augment_ops(TrainConfig(augment="translation"), 10**6) == ("translation",)
