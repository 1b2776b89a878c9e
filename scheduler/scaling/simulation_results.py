"""What one simulated policy achieved: waits, SLO violations, cost and scale events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.forecasting import ScalingDecision
from scheduler.scaling.arrivals import FloatArray

# Wait histogram: 200 log bins per decade from 1 us to 1e7 s; zero waits are counted apart.
_HIST_LOW_EXP = -6
_HIST_PER_DECADE = 200
_HIST_BINS = (7 - _HIST_LOW_EXP) * _HIST_PER_DECADE
_ZERO_WAIT = 1e-9


@dataclass
class SimulationResult:
    policy: str
    requests: int
    violations: int
    mean_wait_s: float
    max_wait_s: float
    wait_percentiles: dict[str, float]
    replica_seconds: float
    scale_outs: int
    scale_ins: int
    min_replicas: int
    max_replicas: int
    duration_s: float
    # Per trace interval (`bin_start + i * bin_s`): arrivals, SLO violations (requests counted
    # when they start), mean replicas paid for, mean ready replicas.
    bin_start: float
    bin_s: float
    arrivals: list[int]
    violations_per_bin: list[int]
    replicas_per_bin: list[float]
    ready_per_bin: list[float]
    decisions: list[ScalingDecision] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def slo_violation_rate(self) -> float:
        return self.violations / self.requests if self.requests else 0.0

    @property
    def replica_hours(self) -> float:
        return self.replica_seconds / 3600.0

    @property
    def scale_events(self) -> int:
        return self.scale_outs + self.scale_ins

    def summary(self) -> dict[str, Any]:
        return {
            "slo_violation_rate": self.slo_violation_rate,
            "p95_wait_s": self.wait_percentiles["p95"],
            "p99_wait_s": self.wait_percentiles["p99"],
            "p50_wait_s": self.wait_percentiles["p50"],
            "mean_wait_s": self.mean_wait_s,
            "max_wait_s": self.max_wait_s,
            "replica_hours": self.replica_hours,
            "scale_events": self.scale_events,
            "scale_outs": self.scale_outs,
            "scale_ins": self.scale_ins,
            "requests": self.requests,
            "violations": self.violations,
            "mean_replicas": self.replica_seconds / self.duration_s if self.duration_s else 0.0,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            **self.notes,
        }


class WaitStats:
    """Waits of every request: zero count, sum, max and a log histogram of positive waits."""

    def __init__(self) -> None:
        self.requests = 0
        self.zeros = 0
        self.total = 0.0
        self.max = 0.0
        self.hist = np.zeros(_HIST_BINS, dtype=np.int64)

    def add(self, waits: FloatArray) -> None:
        if not len(waits):
            return
        self.requests += len(waits)
        positive = waits[waits > _ZERO_WAIT]
        self.zeros += len(waits) - len(positive)
        if len(positive):
            self.total += float(positive.sum())
            self.max = max(self.max, float(positive.max()))
            index = np.floor((np.log10(positive) - _HIST_LOW_EXP) * _HIST_PER_DECADE)
            index = np.minimum(np.maximum(index.astype(np.int64), 0), _HIST_BINS - 1)
            if len(index) > 64:
                self.hist += np.bincount(index, minlength=_HIST_BINS)
            else:
                np.add.at(self.hist, index, 1)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100): 0 within the zero waits, else the geometric middle of
        the histogram bin holding that rank."""
        if not self.requests:
            return 0.0
        rank = q / 100.0 * self.requests
        if rank <= self.zeros:
            return 0.0
        k = int(np.searchsorted(np.cumsum(self.hist), rank - self.zeros))
        k = min(k, _HIST_BINS - 1)
        return float(10 ** (_HIST_LOW_EXP + (k + 0.5) / _HIST_PER_DECADE))

    def mean(self) -> float:
        return self.total / self.requests if self.requests else 0.0
