"""SIB-200 zero-shot topic classification with a frozen encoder: a linear probe.

The probe is trained on English train embeddings only, its regularisation chosen on English dev, and
applied unchanged to the test items of every language. No target-language data touches training.

C is chosen by English dev log-loss, not dev accuracy: with 99 dev items accuracy moves in steps of
1/99 and ties often, so a last-bit change in the embeddings (another BLAS kernel, another machine)
could flip one dev prediction, then the chosen C, then dozens of test predictions in every language.
Log-loss is continuous: the choice only changes when two C values are genuinely close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss


@dataclass(frozen=True)
class Probe:
    model: LogisticRegression
    c: float
    dev_log_loss: float
    dev_accuracy: float
    train_accuracy: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(_features(x))


def _features(x: np.ndarray) -> np.ndarray:
    # Unit-normalised embeddings: the scale of mean-pooled states varies by language and length.
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_dev: np.ndarray, y_dev: np.ndarray,
              c_grid: list[float], max_iter: int, seed: int) -> Probe:
    """Multinomial logistic regression; the C with the lowest English dev log-loss wins (smallest C on ties)."""
    best: Probe | None = None
    for c in sorted(c_grid):
        model = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
        model.fit(_features(x_train), y_train)
        dev = _features(x_dev)
        loss = float(log_loss(y_dev, model.predict_proba(dev), labels=model.classes_))
        if best is None or loss < best.dev_log_loss:
            best = Probe(model=model, c=c, dev_log_loss=loss,
                         dev_accuracy=float(np.mean(model.predict(dev) == y_dev)),
                         train_accuracy=float(np.mean(model.predict(_features(x_train)) == y_train)))
    assert best is not None, "c_grid is validated non-empty"
    return best


def english_probe(emb: dict[str, np.ndarray], y: dict[str, np.ndarray], c_grid: list[float], max_iter: int,
                  seed: int) -> Probe:
    """The probe on the English SIB lines (``probe/train``, ``probe/dev`` embeddings; ``y`` by split)."""
    return fit_probe(emb["probe/train"], y["train"], emb["probe/dev"], y["dev"], c_grid, max_iter, seed)
