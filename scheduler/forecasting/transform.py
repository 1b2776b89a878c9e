"""Box-Cox transform chosen by Guerrero's method, for series whose spread grows with their level
(request counts: a busy hour is noisier than a quiet one).

Models fit on the transformed values and their forecasts are transformed back: the mean becomes
a median forecast (what minimises absolute error, hence MASE, on a skewed series) and interval
bounds stay quantiles (the transform is monotone), so intervals come out skewed like the data.

Guerrero's method splits the series into blocks (a cycle each when there is a period) and picks
the lambda that makes sd / mean^(1 - lambda) most constant across blocks (smallest coefficient
of variation). The transform is used only when it makes the spread clearly more constant than
no transform does (`MIN_GAIN`), so a series with a stable spread is left alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAMBDAS = (0.0, 0.25, 0.5, 0.75)
MIN_GAIN = 0.8  # the best lambda's variation must be below this fraction of lambda = 1's
MIN_BLOCKS = 4


@dataclass(frozen=True)
class BoxCox:
    lmbda: float
    shift: float = 0.0  # added before transforming, so every value is positive

    @property
    def label(self) -> str:
        return f"boxcox({self.lmbda:g})"

    def forward(self, values: np.ndarray) -> np.ndarray:
        y = np.maximum(np.asarray(values, dtype=float) + self.shift, 1e-9)
        if self.lmbda == 0.0:
            return np.asarray(np.log(y), dtype=float)
        return np.asarray((y**self.lmbda - 1.0) / self.lmbda, dtype=float)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        z = np.asarray(values, dtype=float)
        if self.lmbda == 0.0:
            y = np.exp(np.minimum(z, 700.0))
        else:
            y = np.maximum(self.lmbda * z + 1.0, 0.0) ** (1.0 / self.lmbda)
        return np.asarray(y - self.shift, dtype=float)


def guerrero_scores(values: np.ndarray, block: int) -> dict[float, float]:
    """Coefficient of variation of sd / mean^(1 - lambda) across blocks, per lambda (incl. 1)."""
    y = np.asarray(values, dtype=float)
    count = len(y) // block
    if count < MIN_BLOCKS or block < 2:
        return {}
    blocks = y[len(y) - count * block :].reshape(count, block)
    means = blocks.mean(axis=1)
    sds = blocks.std(axis=1, ddof=1)
    if (means <= 0).any():
        return {}
    scores: dict[float, float] = {}
    for lmbda in (*LAMBDAS, 1.0):
        ratios = sds / means ** (1.0 - lmbda)
        mean_ratio = float(np.mean(ratios))
        if mean_ratio > 0:
            scores[lmbda] = float(np.std(ratios, ddof=1) / mean_ratio)
    return scores


def choose_boxcox(values: np.ndarray, period: int | None = None) -> BoxCox | None:
    """A Box-Cox transform for the series, or None when it would not help (see the module
    docstring). Values at or below zero are shifted up first."""
    y = np.asarray(values, dtype=float)
    if y.size < 2 * MIN_BLOCKS or not np.isfinite(y).all():
        return None
    low, high = float(np.min(y)), float(np.max(y))
    if high <= low:
        return None
    shift = 0.0 if low > 0 else -low + max(0.01 * (high - low), 1e-6)
    if period and len(y) >= MIN_BLOCKS * period:
        block = period
    else:
        block = max(12, min(int(math.sqrt(len(y))), len(y) // MIN_BLOCKS))
    scores = guerrero_scores(y + shift, block)
    if 1.0 not in scores:
        return None
    best = min(LAMBDAS, key=lambda lmbda: scores.get(lmbda, math.inf))
    if scores.get(best, math.inf) >= MIN_GAIN * scores[1.0]:
        return None
    return BoxCox(best, shift)
