"""The quality score of generator candidates (catalogue fill, ad creatives: the best of K is kept;
its score is stored).

- ``classifier:<sha12>``: the softmax probability of the wanted class under the evaluation
  classifier shipped beside the generator (``classifier.safetensors`` + ``classifier.json``,
  verified by sha256, written by ``assetgen models classifier MODEL_DIR``); in [0, 1].
- ``contrast`` (fallback: the model folder has no classifier, or it lacks the class or the
  channels): the standard deviation of the pixel values / 127.5, clipped to [0, 1] -- how much is
  drawn at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def contrast(pixels: np.ndarray) -> float:
    return float(min(1.0, pixels.astype(np.float64).std() / 127.5))


@dataclass(frozen=True)
class Choice:
    best: int  # which candidate was kept
    scores: list[float]  # every candidate's quality score
    method: str  # how they were scored


class Scorer:
    """Scores candidates with the classifier of their job's model, loaded once per process and
    model."""

    def __init__(self, fetch: Callable[[str], Path] | None = None):
        # a published model's uri (bucket:...) -> its local copy; without it such models score by
        # the fallback
        self._fetch = fetch
        self._classifiers: dict[str, tuple | None] = {}
        self._lock = threading.Lock()  # renders run on the I/O threads

    def _classifier(self, uri: str):
        with self._lock:
            if uri not in self._classifiers:
                # torch and the classifier load lazily: the kind registry imports this module in
                # processes that never score (the API, the sweeper), which must not load torch.
                from gan.classifier import load_classifier

                self._classifiers[uri] = (
                    load_classifier(folder) if (folder := self._folder(uri)) else None
                )
            return self._classifiers[uri]

    def _folder(self, uri: str) -> Path | None:
        if uri.startswith("bucket:"):
            return Path(self._fetch(uri)) if self._fetch else None
        return Path(uri)

    def score(self, uri: str, pixels: np.ndarray, wanted: str) -> tuple[list[float], str]:
        """uint8 (K, H, W, C) candidates of class `wanted` -> (one score each, the method's
        name)."""
        found = self._classifier(uri)
        if found is not None:
            model, meta = found
            if wanted in meta["class_names"] and pixels.shape[-1] == int(
                meta["dataset"]["channels"]
            ):
                import torch  # lazy, as above

                from gan.classifier import confidence

                images = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2)
                scores = confidence(model, images, meta["class_names"].index(wanted))
                return scores, f"classifier:{meta['sha256'][:12]}"
        return [contrast(p) for p in pixels], "contrast"


def choose_best(scorer: Scorer, model_uri: str, pixels: np.ndarray, category: str) -> Choice:
    """Score K candidates (uint8 (K, H, W, C)) of class `category` and keep the best (ties: the
    first)."""
    scores, method = scorer.score(model_uri, pixels, category)
    return Choice(max(range(len(scores)), key=lambda i: (scores[i], -i)), scores, method)


def choice_attrs(choice: Choice) -> dict:
    """What a chosen asset records of its choice (manifest attrs)."""
    best = choice.scores[choice.best]
    return {
        "score": round(best, 6),
        "score_method": choice.method,
        "candidate": choice.best,
        "candidate_scores": [round(s, 6) for s in choice.scores],
    }


def choice_metadata(choice: Choice) -> dict[str, str]:
    """What a chosen object's S3 metadata records of its choice."""
    return {"score": f"{choice.scores[choice.best]:.6f}", "score-method": choice.method}
