"""Write a run's raw (not averaged) generator as a checkpoint, to score it beside the EMA one.

Every checkpoint a run writes holds the EMA of G's weights (gan.train; Yazici et al. 2019). The
train state also holds G itself. This writes that G, with its batch-norm statistics
re-estimated the same way (standing statistics), as a generator checkpoint that `evaluate`,
`scripts/spread.py` and `sample()` take, to measure what the averaging does to a model.

    python scripts/export_raw_generator.py runs/fm_nz runs/fm_nz_raw
    python -m gan evaluate --model runs/fm_nz_raw --data fashion-mnist --split val --no-write
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gan.checkpoint import load_generator, read_verified_weights, save_generator
from gan.train import standing_stats
from gan.trainstate import STATE_META, STATE_WEIGHTS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder with a train state")
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    G, meta = load_generator(a.run)  # the EMA generator of the train state's step
    state = json.loads((a.run / STATE_META).read_text())
    if state.get("step") != meta["training"]["steps"]:
        ap.error(f"{a.run}: its checkpoint and train state are of different steps")
    tensors = read_verified_weights(a.run / STATE_WEIGHTS, state["sha256"])
    G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")}, strict=True)
    raw = standing_stats(G, G.cfg.num_classes)
    meta = {k: v for k, v in meta.items() if k not in ("sha256", "metrics")}
    save_generator(a.out, raw, {**meta, "weights_of": "the raw generator (no EMA)"})
    print(a.out)


if __name__ == "__main__":
    main()
