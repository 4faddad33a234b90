"""Compare a model's evaluation with a baseline's numbers recorded by an earlier bench-gan run.

For a baseline whose checkpoint is not at hand (run folders never go into git) but whose
numbers a `python -m gan bench-gan --json` run recorded. The comparison is only made when the
evaluation context is provably the same: same data, split and generated counts, every feature
extractor with the same weights (sha256), and the real reference scoring the same FD against
the held-out images. Then the model's images are the only thing that differs, and the ratios
are those bench-gan would have printed.

    python -m gan evaluate --model MODEL --data fashion-mnist --split test --per-class 1000 \\
        --no-write --json > ours.json
    python scripts/compare_to_recorded.py --result ours.json \\
        --recorded docs/gan-fmnist32-fastgan16-vs-classic.json --out comparison.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from gan.evaluate import compare_to_baseline, headline


def recorded_evaluation(doc: dict) -> dict:
    """The evaluation block (with its `baseline`) of a bench-gan JSON or a report holding one
    under `test`."""
    for block in (doc, doc.get("test", {})):
        ev = block.get("evaluation", block)
        if isinstance(ev, dict) and "baseline" in ev and "extractors" in ev:
            return ev
    raise SystemExit("recorded JSON: no evaluation with a baseline (bench-gan --json output)")


def mismatches(result: dict, recorded: dict) -> list[str]:
    """Why the two evaluations are not comparable (empty: they are)."""
    out = []
    for key in ("data", "split", "num_generated", "per_class_counts", "num_held_out"):
        if result.get(key) != recorded.get(key):
            out.append(f"{key}: {result.get(key)!r} here, {recorded.get(key)!r} recorded")
    if set(result["extractors"]) != set(recorded["extractors"]):
        out.append(
            f"extractors: {sorted(result['extractors'])} here, {sorted(recorded['extractors'])}"
        )
        return out
    for name, block in result["extractors"].items():
        old = recorded["extractors"][name]
        if block["extractor"]["sha256"] != old["extractor"]["sha256"]:
            out.append(f"{name}: extractor weights differ (sha256)")
        fd, fd_old = block["real"]["frechet_distance"], old["real"]["frechet_distance"]
        # Another torch thread count sums in another order: the last digits may differ.
        if not math.isclose(fd, fd_old, rel_tol=1e-4):
            out.append(f"{name}: real reference FD {fd} here, {fd_old} recorded")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--result", required=True, type=Path, help="evaluate --json output")
    ap.add_argument("--recorded", required=True, type=Path, help="bench-gan --json output")
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args()
    result = json.loads(a.result.read_text())
    recorded = recorded_evaluation(json.loads(a.recorded.read_text()))
    problems = mismatches(result, recorded)
    if problems:
        raise SystemExit("not comparable:\n  " + "\n  ".join(problems))
    # The evaluation bench-gan would have written: the recorded baseline beside the model.
    result["baseline"] = recorded["baseline"]
    result["model_vs_baseline"] = compare_to_baseline(result, result["baseline"])
    a.out.write_text(json.dumps(result, indent=2))
    print("\n".join(headline(result)))


if __name__ == "__main__":
    main()
