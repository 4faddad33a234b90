import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from gan.checkpoint import (
    CheckpointError,
    init_generator_checkpoint,
    load_generator,
    save_generator,
    sha256_bytes,
)
from gan.sampling import sample
from gan.tone import Toned, apply_tone_curve, check_tone_curve, fit_tone_curve, untoned
from gan.tone_cli import tone_command

EVERY_LEVEL = torch.arange(256, dtype=torch.uint8).repeat(4).view(1, 1, 32, 32)


def test_identical_levels_give_the_identity_table():
    table = fit_tone_curve(EVERY_LEVEL.repeat(1, 3, 1, 1), EVERY_LEVEL.repeat(1, 3, 1, 1))
    assert table.shape == (3, 256) and table.dtype == torch.uint8
    assert torch.equal(table, torch.arange(256, dtype=torch.uint8).repeat(3, 1))


def test_too_much_contrast_is_mapped_back_to_the_real_levels():
    real = torch.arange(64, 192, dtype=torch.uint8).repeat(8).view(1, 1, 32, 32)
    generated = ((real.long() - 128) * 2 + 128).clamp(0, 255).to(torch.uint8)  # 2x contrast
    table = fit_tone_curve(generated, real)
    back = apply_tone_curve(generated, table)
    assert (back.long() - real.long()).abs().max() <= 1
    check_tone_curve(table, 1)  # monotone
    assert back.float().std().item() == pytest.approx(real.float().std().item(), rel=0.02)


def test_bad_tables_and_inputs_are_refused():
    with pytest.raises(ValueError, match="expected uint8"):
        check_tone_curve(torch.zeros(3, 255, dtype=torch.uint8), 3)
    falling = torch.arange(255, -1, -1).to(torch.uint8).repeat(3, 1)
    with pytest.raises(ValueError, match="not monotone"):
        check_tone_curve(falling, 3)
    with pytest.raises(ValueError, match="channels differ"):
        fit_tone_curve(EVERY_LEVEL.repeat(1, 3, 1, 1), EVERY_LEVEL)
    with pytest.raises(ValueError, match="non-empty uint8"):
        fit_tone_curve(EVERY_LEVEL.float(), EVERY_LEVEL)


def _halve_contrast() -> torch.Tensor:
    return (torch.arange(256) // 2 + 64).to(torch.uint8).repeat(3, 1)


def test_a_toned_checkpoint_carries_its_table_in_the_hashed_weights(tmp_path):
    plain_dir = init_generator_checkpoint(tmp_path / "plain", ["a", "b"], 32, 3)
    plain, meta = load_generator(plain_dir)
    assert not isinstance(plain, Toned)  # no table: the network itself, as before
    table = _halve_contrast()
    toned_dir = save_generator(tmp_path / "toned", Toned(plain, table), meta)
    toned, toned_meta = load_generator(toned_dir)
    assert isinstance(toned, Toned) and torch.equal(toned.tone_curve, table)
    assert toned_meta["sha256"] != meta["sha256"]
    assert toned_meta["sha256"] == sha256_bytes((toned_dir / "generator.safetensors").read_bytes())
    before = sample(plain, [0, 1, 1], [5, 6, 7]).permute(0, 3, 1, 2)
    after = sample(toned, [0, 1, 1], [5, 6, 7]).permute(0, 3, 1, 2)
    assert torch.equal(after, apply_tone_curve(before, table))
    assert untoned(toned) is toned.generator and untoned(plain) is plain


def test_a_broken_table_is_refused_even_with_a_matching_sha(tmp_path):
    plain, meta = load_generator(init_generator_checkpoint(tmp_path / "p", ["a"], 32, 3))
    out = save_generator(tmp_path / "t", Toned(plain, _halve_contrast()), meta)
    weights = out / "generator.safetensors"
    tensors = load_file(weights)
    tensors["tone_curve"] = torch.arange(255, -1, -1).to(torch.uint8).repeat(3, 1)
    save_file(tensors, weights)
    record = json.loads((out / "generator.json").read_text())
    record["sha256"] = sha256_bytes(weights.read_bytes())
    (out / "generator.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not monotone"):
        load_generator(out)


def test_the_tone_command_matches_the_photos_contrast_on_the_fit_split(tiny_folder, tmp_path):
    model = init_generator_checkpoint(tmp_path / "m", ["mug", "shoe"], image_size=32, channels=3)
    out = CliRunner().invoke(tone_command, [str(model)])
    assert out.exit_code == 2 and "pass --data" in out.output  # untrained: no data recorded
    result = CliRunner().invoke(
        tone_command, [str(model), "--data", str(tiny_folder), "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    generator, meta = load_generator(tmp_path / "t")
    record = meta["tone_curve"]
    assert isinstance(generator, Toned) and record["fitted_on"].endswith("#fit")
    assert record["images"] == 12  # 16 readable photos less the carved validation and test
    # An untrained network draws few distinct levels, so the match is coarse but always closer.
    for real, before, after in zip(record["std_real"], record["std_before"], record["std_after"]):
        assert abs(after - real) < abs(before - real)
    assert "metrics" not in meta or meta["metrics"] == {}
    again = CliRunner().invoke(tone_command, [str(tmp_path / "t"), "--data", str(tiny_folder)])
    assert again.exit_code == 0, again.output  # refitted from the untoned network: same table
    assert torch.equal(load_generator(tmp_path / "t")[0].tone_curve, generator.tone_curve)
