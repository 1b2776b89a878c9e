"""Level-shift detection on the recent window: a CUSUM test for one change in the mean.

On the last `window` values y, with S_k the cumulative sum of (y - mean(y)), the statistic is
max_k |S_k| / (sigma * sqrt(n)); without a change it behaves like the supremum of a Brownian
bridge, which exceeds 1.63 with probability 1%. sigma is estimated robustly from the first
differences (their median absolute deviation / sqrt(2)), so the shift itself does not inflate
it. Load series are autocorrelated and seasonal, which makes the test fire too often on its
own, so a shift also has to be large: the means before and after differ by at least
`min_jump` times the spread (MAD) of the values inside the two segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CRITICAL_VALUE = 1.63  # sup of a Brownian bridge, 1% level
MAD_TO_SIGMA = 1.4826
DEFAULT_MIN_JUMP = 3.0


@dataclass(frozen=True)
class LevelShift:
    """A change in the mean at `index` (the first value of the new level) of the whole series."""

    index: int
    before: float  # mean of the window before the change
    after: float  # mean after it
    statistic: float  # the normalised CUSUM maximum


def _mad(values: np.ndarray) -> float:
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def detect_level_shift(
    values: np.ndarray,
    window: int,
    *,
    min_segment: int,
    min_after: int | None = None,
    min_jump: float = DEFAULT_MIN_JUMP,
    critical: float = CRITICAL_VALUE,
) -> LevelShift | None:
    """The most likely single mean shift in the last `window` values, if it is significant and
    large, with at least `min_segment` values before it and `min_after` (default: as many)
    after it; else None. NaN values are left out
    of the statistic (the index still counts them)."""
    y_all = np.asarray(values, dtype=float)
    start = max(0, len(y_all) - window)
    recent = y_all[start:]
    positions = np.flatnonzero(np.isfinite(recent))
    y = recent[positions]
    n = len(y)
    after_needed = min_segment if min_after is None else min_after
    if n < min_segment + after_needed or min(min_segment, after_needed) < 2:
        return None
    sigma = _mad(np.diff(y)) / math.sqrt(2.0)
    if not sigma > 0:
        return None
    cusum = np.cumsum(y - y.mean())[:-1]  # S_k for k = 1..n-1: the first k values before
    k_range = np.arange(1, n)
    allowed = (k_range >= min_segment) & (k_range <= n - after_needed)
    if not allowed.any():
        return None
    scores = np.where(allowed, np.abs(cusum), -1.0)
    k = int(np.argmax(scores)) + 1
    statistic = float(np.abs(cusum[k - 1]) / (sigma * math.sqrt(n)))
    if statistic < critical:
        return None
    before, after = y[:k], y[k:]
    spread = max(_mad(before), _mad(after))
    jump = abs(float(np.median(after)) - float(np.median(before)))
    if spread > 0 and jump < min_jump * spread:
        return None
    if spread == 0 and jump == 0:
        return None
    return LevelShift(
        index=start + int(positions[k]),
        before=float(before.mean()),
        after=float(after.mean()),
        statistic=statistic,
    )
