#!/usr/bin/env python3
"""Train candidate recipes side by side, evaluate their snapshots as they appear, bench the best.

How the shipped default model was made (docs/gan.md): on one lent GPU, every candidate in
CANDIDATES trains for --train-minutes (`python -m gan train --keep-snapshots`), each new snapshot
is scored by `python -m gan evaluate` on the CPU while training goes on, the best snapshot is
chosen by the issue's targets (class consistency >= 0.85 and per-class Frechet distance at most
3x the median first, then the lowest Frechet distance), and `python -m gan bench-gan` trains the
classic DCGAN for the same number of epochs and scores both. Everything lands in --out:
summary.json (every snapshot's numbers), best/ (the chosen checkpoint + its sample grid), bench/.

    python scripts/select_default_model.py --data fashion-mnist --out runs/select \\
        --train-minutes 4.5

Choosing a snapshot by its evaluation is model selection on the test split: the README says so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's gan/, run from anywhere

# name -> extra `train` flags. All: 32 px, batch 64, seed 0, lr 2e-4 / 4e-4 (the shipped recipe's).
CANDIDATES = {
    "base": ["--d-width", "24"],
    "ms": ["--d-width", "24", "--mode-seeking", "1"],
    "aug": ["--d-width", "24", "--augment", "translation,cutout"],
    "ms_d2": ["--d-width", "32", "--mode-seeking", "1", "--d-steps", "2"],
    "wide_ms_aug": [
        "--g-width",
        "48",
        "--d-width",
        "48",
        "--mode-seeking",
        "1",
        "--augment",
        "translation,cutout",
    ],
    "aug_d32": ["--d-width", "32", "--augment", "translation,cutout"],
}


def gan_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gan", *args]


def score(row: dict) -> tuple:
    """Sort key: both targets met first (lowest Frechet distance), then consistency met (lowest
    per-class spread), then the rest."""
    consistent = row["class_consistency"] >= 0.85
    ok = consistent and row["per_class_max_over_median"] <= 3.0
    return (
        not ok,
        not consistent,
        0.0 if ok else row["per_class_max_over_median"],
        row["frechet_distance"],
    )


def row_of(run: str, snap: Path, result: dict) -> dict:
    meta = json.loads((snap / "generator.json").read_text())
    g = result["generated"]
    return {
        "run": run,
        "snapshot": str(snap),
        "step": meta["training"]["steps"],
        "epochs": round(meta["training"]["epochs"], 3),
        "flags": CANDIDATES[run],
        "class_consistency": g["class_consistency"],
        "frechet_distance": g["frechet_distance"],
        "per_class_max_over_median": g["frechet_per_class_max_over_median"],
        "recall": g["recall"],
        "coverage": g["coverage"],
        "frechet_per_class": g["frechet_per_class"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--out", type=Path, default=Path("runs/select"))
    ap.add_argument(
        "--cache-dir", default=None, help="evaluation classifier cache (see `evaluate --cache-dir`)"
    )
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--train-minutes", type=float, default=4.5)
    ap.add_argument(
        "--sample-every", type=int, default=1876, help="steps between snapshots (1876 = 2 epochs)"
    )
    ap.add_argument("--only", default=",".join(CANDIDATES), help="comma list of candidates")
    ap.add_argument("--train-threads", type=int, default=2)
    ap.add_argument("--eval-threads", type=int, default=4)
    ap.add_argument("--eval-slots", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument(
        "--eval-deadline-s", type=float, default=400, help="no evaluation starts after this"
    )
    ap.add_argument("--bench-timeout-s", type=float, default=200)
    ap.add_argument(
        "--extra", default="", help="extra flags for every train command (space-separated)"
    )
    a = ap.parse_args()
    start = time.monotonic()
    a.out.mkdir(parents=True, exist_ok=True)
    cache = ["--cache-dir", a.cache_dir] if a.cache_dir else []
    names = [n for n in a.only.split(",") if n]

    def launch(name: str, extra: list[str]) -> subprocess.Popen:
        run_dir = a.out / name
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = gan_cmd(
            "train",
            "--data",
            a.data,
            "--out",
            str(run_dir),
            "--device",
            a.device,
            "--seed",
            "0",
            "--max-minutes",
            str(a.train_minutes),
            "--keep-snapshots",
            "--sample-every",
            str(a.sample_every),
            "--threads",
            str(a.train_threads),
            *CANDIDATES[name],
            *extra,
            *a.extra.split(),
        )
        (run_dir / "command.txt").write_text(" ".join(cmd[1:]) + "\n")
        return subprocess.Popen(
            cmd, stdout=open(run_dir / "train.log", "wb"), stderr=subprocess.STDOUT
        )

    trains = {n: launch(n, []) for n in names}
    retried: set[str] = set()
    evals: dict[
        Path, tuple[str, subprocess.Popen]
    ] = {}  # stdout goes to snapshot/eval.json (no pipe to fill)
    done: dict[Path, dict] = {}
    rows: list[dict] = []

    def pending() -> list[tuple[str, Path]]:
        """Unscored complete snapshots, the newest of each run first (round robin)."""
        per_run = []
        for n in names:
            snaps = sorted((a.out / n / "snapshots").glob("step_*/generator.json"), reverse=True)
            per_run.append(
                [(n, s.parent) for s in snaps if s.parent not in done and s.parent not in evals]
            )
        order = []
        while any(per_run):
            for lst in per_run:
                if lst:
                    order.append(lst.pop(0))
        return order

    while True:
        for n, p in list(trains.items()):
            rc = p.poll()
            if (
                rc not in (None, 0) and n not in retried
            ):  # e.g. bf16 autocast refused: once more in fp32
                print(
                    f"[{time.monotonic() - start:6.0f}s] {n}: train exited {rc}; "
                    "retrying with --no-amp",
                    flush=True,
                )
                retried.add(n)
                trains[n] = launch(n, ["--no-amp", "--no-resume"])
        for snap, (n, p) in list(evals.items()):
            if p.poll() is None:
                continue
            del evals[snap]
            try:
                result = json.loads((snap / "eval.json").read_text())
                done[snap] = result
                rows.append(row_of(n, snap, result))
                r = rows[-1]
                print(
                    f"[{time.monotonic() - start:6.0f}s] {n} ep {r['epochs']:6.2f}: "
                    f"FD {r['frechet_distance']:.3f} "
                    f"max/median {r['per_class_max_over_median']:.2f} "
                    f"consistency {r['class_consistency']:.3f} "
                    f"recall {r['recall']:.3f}",
                    flush=True,
                )
                (a.out / "summary.json").write_text(
                    json.dumps(sorted(rows, key=score), indent=1) + "\n"
                )
            except (ValueError, KeyError) as exc:
                done[snap] = {}
                print(f"{snap}: evaluation failed ({exc})", flush=True)
        training = any(p.poll() is None for p in trains.values())
        now = time.monotonic() - start
        if now < a.eval_deadline_s:
            for n, snap in pending()[: max(0, a.eval_slots - len(evals))]:
                cmd = gan_cmd(
                    "evaluate",
                    "--model",
                    str(snap),
                    "--data",
                    a.data,
                    "--per-class",
                    str(a.per_class),
                    "--threads",
                    str(a.eval_threads),
                    "--json",
                    *cache,
                )
                with open(snap / "eval.json", "wb") as out, open(snap / "eval.log", "wb") as err:
                    evals[snap] = (n, subprocess.Popen(cmd, stdout=out, stderr=err))
        if not training and not evals and (not pending() or now >= a.eval_deadline_s):
            break
        time.sleep(1.0)

    for n in names:
        print(
            f"{n}: train rc {trains[n].returncode}; last lines: "
            + (a.out / n / "train.log")
            .read_bytes()[-300:]
            .decode(errors="replace")
            .replace("\r", "\n")
            .splitlines()[-1],
            flush=True,
        )
    if not rows:
        print("no snapshot was evaluated", flush=True)
        return 1
    best = min(rows, key=score)
    print(
        "best:", json.dumps({k: v for k, v in best.items() if k != "frechet_per_class"}), flush=True
    )
    best_dir = a.out / "best"
    shutil.rmtree(best_dir, ignore_errors=True)
    shutil.copytree(best["snapshot"], best_dir)
    run_dir = Path(best["snapshot"]).parents[1]
    for extra in ("metrics.jsonl", "loss.png", "command.txt", "config.json"):
        if (run_dir / extra).is_file():
            shutil.copy(run_dir / extra, best_dir / extra)
    from gan.checkpoint import load_generator
    from gan.plots import class_grid

    G, meta = load_generator(best_dir)
    class_grid(G, meta["class_names"], 10, scale=2).save(best_dir / "samples.png")
    bench = gan_cmd(
        "bench-gan",
        "--model",
        str(best_dir),
        "--data",
        a.data,
        "--out",
        str(a.out / "bench"),
        "--device",
        a.device,
        "--per-class",
        str(a.per_class),
        "--threads",
        "8",
        "--json",
        *cache,
    )
    (a.out / "bench").mkdir(exist_ok=True)
    try:
        with open(a.out / "bench" / "bench.log", "wb") as err:
            rc = subprocess.run(
                bench, stdout=subprocess.DEVNULL, stderr=err, timeout=a.bench_timeout_s
            ).returncode
        print(f"bench rc {rc}", flush=True)
        if rc == 0:
            b = json.loads((a.out / "bench" / "bench_gan.json").read_text())
            print(
                f"bench: ours FD {b['ours']['frechet_distance']:.4f} "
                f"classic {b['classic_dcgan']['frechet_distance']:.4f} "
                f"ratio {b['frechet_ratio_classic_over_ours']:.2f} targets {b['targets']} "
                f"classic train {b['classic_dcgan']['train_seconds']:.0f}s",
                flush=True,
            )
    except subprocess.TimeoutExpired:
        print(f"bench did not finish in {a.bench_timeout_s:.0f}s", flush=True)
    print(f"total {time.monotonic() - start:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
