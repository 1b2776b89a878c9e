"""A replica's attempt latency: an exponentially weighted moving average (what least_latency
routes on) and the recent samples (what GetAgent shows as p50 / p95).

Pure; only successful attempts are observed, so a replica that fails fast does not look fast.
"""

from __future__ import annotations

import collections
import math

# Weight of the newest sample: a replica that slows down shows it within a few attempts.
EWMA_ALPHA = 0.3
RECENT_SAMPLES = 256


class LatencyStats:
    def __init__(self, alpha: float = EWMA_ALPHA, samples: int = RECENT_SAMPLES) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self._alpha = alpha
        self._recent: collections.deque[float] = collections.deque(maxlen=samples)
        # The recent samples sorted, kept until the next sample: a replica listing reads two
        # percentiles, and listings can come more often than samples.
        self._ordered: list[float] | None = None
        self.ewma: float | None = None

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._recent.append(seconds)
        self._ordered = None
        if self.ewma is None:
            self.ewma = seconds
        else:
            self.ewma += self._alpha * (seconds - self.ewma)

    def percentile(self, q: float) -> float | None:
        """The nearest-rank q-th percentile (0..100) of the recent samples; None if none."""
        if not self._recent:
            return None
        if self._ordered is None:
            self._ordered = sorted(self._recent)
        ordered = self._ordered
        rank = max(1, math.ceil(q / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]
