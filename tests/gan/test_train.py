import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from gan.checkpoint import CheckpointError, load_generator
from gan.cli import train_command
from gan.config import ModelConfig, TrainConfig
from gan.data import load_image_folder
from gan.models import build_generator
from gan.sampling import sample
from gan.train import mode_seeking_term, standing_stats, train

TINY = dict(g_width=8, d_width=8)


def _cfg(data, **kw):
    model = ModelConfig(image_size=32, channels=3, num_classes=len(data.class_names), **TINY)
    return TrainConfig(
        model=model,
        batch_size=8,
        sample_every=1000,
        log_every=1,
        grid_per_class=2,
        device="cpu",
        **kw,
    )


def _train_cli(data, out, *extra, batch_size=6):
    """`gan train` from the command line on the CPU at widths 8 (the tests' tiny network)."""
    args = ["--data", str(data), "--out", str(out), "--batch-size", str(batch_size)]
    return CliRunner().invoke(
        train_command, [*args, "--g-width", "8", "--d-width", "8", "--device", "cpu", *extra]
    )


def _sha(run_dir):
    return json.loads((run_dir / "generator.json").read_text())["sha256"]


def test_cli_dry_run_on_a_mixed_folder_writes_a_loadable_checkpoint(tiny_folder, tmp_path):
    out = tmp_path / "run"
    res = _train_cli(tiny_folder, out, "--epochs", "1")
    assert res.exit_code == 0, res.output
    assert "broken.jpg" in res.output  # the corrupt image is reported by path
    g, meta = load_generator(out)
    assert meta["training"]["steps"] == 2 and meta["class_names"] == ["mug", "shoe"]
    # 16 readable photos less 1 test and 1 validation photo per class (gan.splits): 12
    assert meta["dataset"]["num_images"] == 12 and meta["training"]["augment"] == [
        "color",
        "translation",
        "cutout",
    ]
    assert sample(g, [0, 1], [1, 2]).shape == (2, 32, 32, 3)
    for name in (
        "config.json",
        "metrics.jsonl",
        "loss.png",
        "samples.png",
        "train_state.safetensors",
    ):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2


def test_resume_after_a_stop_continues_the_step_count_exactly(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    straight = train(_cfg(data, epochs=2), data, tmp_path / "straight")
    calls = iter(range(100))
    train(_cfg(data, epochs=2), data, tmp_path / "killed", should_stop=lambda: next(calls) >= 3)
    assert json.loads((tmp_path / "killed" / "train_state.json").read_text())["step"] == 3
    with open(
        tmp_path / "killed" / "metrics.jsonl", "a"
    ) as fh:  # logged after the last save, then killed
        fh.write(json.dumps({"step": 4, "loss_d": 0.0}) + "\n")
    resumed = train(_cfg(data, epochs=2), data, tmp_path / "killed")
    a, b = (json.loads((p / "generator.json").read_text()) for p in (straight, resumed))
    assert a["training"]["steps"] == b["training"]["steps"] == 4
    assert a["sha256"] == b["sha256"]  # bit-identical to the uninterrupted run on the CPU
    steps = [
        json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [1, 2, 3, 4]


def test_resume_refuses_a_changed_config(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    train(_cfg(data, epochs=0.5), data, tmp_path / "r")
    with pytest.raises(CheckpointError, match="lr_g"):
        train(_cfg(data, epochs=1, lr_g=1e-3), data, tmp_path / "r")


def test_same_seed_same_model(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    a = train(_cfg(data, epochs=0.5, seed=5), data, tmp_path / "a")
    b = train(_cfg(data, epochs=0.5, seed=5), data, tmp_path / "b")

    assert _sha(a) == _sha(b)


def test_progress_hook_reports_losses(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    seen = []
    train(_cfg(data, epochs=0.5), data, tmp_path / "p", on_progress=seen.append)
    assert [s["step"] for s in seen] == [1] and {"loss_d", "loss_g"} <= set(seen[0])
    assert torch.isfinite(torch.tensor([seen[0]["loss_d"], seen[0]["loss_g"]])).all()


def test_mode_seeking_term_rewards_distinct_images_for_distinct_latents():
    z = torch.zeros(4, 3)
    z[2:] = 1.0  # |z1 - z2| = 1 for both pairs
    same = torch.zeros(4, 1, 2, 2)  # the two halves are identical images: collapse
    apart = torch.cat([torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)])  # |x1 - x2| = 0.5
    assert mode_seeking_term(same, z).item() == pytest.approx(1e5)
    assert mode_seeking_term(apart, z).item() == pytest.approx(1 / (0.5 + 1e-5))


def test_cli_d_steps_mode_seeking_and_ema_decay_are_trained_and_recorded(tiny_folder, tmp_path):
    out = tmp_path / "ms"
    res = _train_cli(
        tiny_folder,
        out,
        "--epochs",
        "2",
        "--d-steps",
        "2",
        "--mode-seeking",
        "0.5",
        "--ema-decay",
        "0",
    )
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["d_steps"], cfg["mode_seeking"], cfg["ema_decay"]) == (2, 0.5, 0.0)
    _, meta = load_generator(out)
    assert meta["training"]["steps"] == 2  # 2 epochs x 2 batches, two D batches per G step
    assert cfg["flip"] is True  # photos are mirrored by default
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["mode_seeking"] > 0 and torch.isfinite(torch.tensor(r["loss_g"])) for r in rows)
    bad = _train_cli(tiny_folder, tmp_path / "x", "--mode-seeking", "1", batch_size=7)
    assert bad.exit_code != 0 and "must be even" in bad.output


def test_a_run_saved_before_a_config_field_existed_resumes_with_its_default(tiny_folder, tmp_path):
    """A run started before a config field existed resumes with its default (the old behaviour)."""
    data = load_image_folder(tiny_folder, 32, 3)
    train(_cfg(data, epochs=0.5), data, tmp_path / "old")
    state = tmp_path / "old" / "train_state.json"
    saved = json.loads(state.read_text())
    del saved["config"]["mode_seeking"]  # as written before the field was added
    state.write_text(json.dumps(saved))
    resumed = train(_cfg(data, epochs=1), data, tmp_path / "old")
    straight = train(_cfg(data, epochs=1), data, tmp_path / "new")

    assert _sha(resumed) == _sha(straight)


@pytest.mark.gpu
def test_cuda_training_smoke_with_bf16_autocast(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    out = train(
        TrainConfig(
            model=ModelConfig(image_size=32, channels=3, num_classes=2, **TINY),
            batch_size=8,
            epochs=1,
            device="cuda",
            mode_seeking=1.0,
            sample_every=1000,
            grid_per_class=2,
        ),
        data,
        tmp_path / "cuda",
    )
    g, meta = load_generator(out)
    assert meta["training"]["steps"] == 2 and sample(g, [0, 1], [1, 2]).shape == (2, 32, 32, 3)


def test_keep_snapshots_keeps_every_checkpoint_loadable(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    cfg = TrainConfig(
        model=ModelConfig(image_size=32, channels=3, num_classes=2, **TINY),
        batch_size=8,
        epochs=1.5,
        device="cpu",
        sample_every=1,
        keep_snapshots=True,
        grid_per_class=2,
    )
    out = train(cfg, data, tmp_path / "s")
    snaps = sorted(p.name for p in (out / "snapshots").iterdir())
    assert snaps == ["step_0000001", "step_0000002", "step_0000003"]
    metas = [load_generator(out / "snapshots" / s)[1] for s in snaps]
    assert [m["training"]["steps"] for m in metas] == [1, 2, 3]
    assert metas[-1]["sha256"] == json.loads((out / "generator.json").read_text())["sha256"]
    assert len({m["sha256"] for m in metas}) == 3


def test_ema_decay_zero_averages_nothing(tiny_folder, tmp_path):
    """At decay 0 the averaged G is G itself (the export test shows the default's differs)."""
    data = load_image_folder(tiny_folder, 32, 3)
    run = train(_cfg(data, epochs=1, ema_start=0, ema_decay=0.0), data, tmp_path / "r")
    state = load_file(run / "train_state.safetensors")
    g_keys = [k for k in state if k.startswith("G.")]
    assert g_keys and all(torch.equal(state[k], state["G_ema." + k[2:]]) for k in g_keys)


def test_export_raw_generator_writes_the_train_states_g_beside_the_ema_one(tiny_folder, tmp_path):
    data = load_image_folder(tiny_folder, 32, 3)
    run = train(_cfg(data, epochs=1, ema_start=0), data, tmp_path / "r")
    script = Path(__file__).parents[2] / "scripts" / "export_raw_generator.py"
    subprocess.run([sys.executable, str(script), str(run), str(tmp_path / "raw")], check=True)
    raw, meta = load_generator(tmp_path / "raw")
    ema, _ = load_generator(run)
    state = load_file(run / "train_state.safetensors")
    weights = [k for k in raw.state_dict() if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(raw.state_dict()[k], state[f"G.{k}"]) for k in weights)
    assert any(not torch.equal(raw.state_dict()[k], ema.state_dict()[k]) for k in weights)
    assert meta["weights_of"].startswith("the raw generator") and meta["training"]["steps"] > 0
    assert sample(raw, [0, 1], [1, 2]).shape == (2, 32, 32, 3)


def test_standing_stats_re_estimates_a_copys_batch_norm_and_leaves_the_generator_alone():
    cfg = ModelConfig(arch="fastgan", image_size=32, channels=3, num_classes=3, **TINY)
    G = build_generator(cfg)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    a, b = standing_stats(G, 3, batches=2, batch=16), standing_stats(G, 3, batches=2, batch=16)
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())  # G untouched
    assert G.training and not a.training and not any(p.requires_grad for p in a.parameters())
    stats = [k for k in before if k.endswith("running_var")]
    assert stats and all(not torch.equal(a.state_dict()[k], before[k]) for k in stats)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())  # fixed seed
