"""The simulated requests: seeded Poisson counts per trace interval, spread uniformly over it,
with exponential service times when the simulation asks for them."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.forecasting import Series
from scheduler.scaling.simulation_inputs import SimulationConfig

FloatArray = NDArray[np.float64]
NO_TIMES: FloatArray = np.empty(0, dtype=np.float64)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    counts, times, services = np.random.SeedSequence(seed).spawn(3)
    return (
        np.random.default_rng(counts),
        np.random.default_rng(times),
        np.random.default_rng(services),
    )


def check_trace(trace: Series) -> FloatArray:
    values = np.asarray(trace.values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("the trace has no values")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("trace values must be finite request counts >= 0 (fill gaps first)")
    return values


def arrival_counts(trace: Series, seed: int) -> FloatArray:
    """The number of requests that arrive in each trace interval: Poisson(value), seeded (the
    same counts `simulate` uses with this seed)."""
    values = check_trace(trace)
    counts_rng, _, _ = _streams(seed)
    return counts_rng.poisson(values).astype(np.float64)


class Arrivals:
    """Arrival times (and service times) in order, generated one trace interval at a time."""

    def __init__(self, trace: Series, config: SimulationConfig) -> None:
        _, self._times_rng, self._service_rng = _streams(config.seed)
        self.counts = arrival_counts(trace, config.seed).astype(np.int64)
        self._start = trace.start
        self._step = trace.step_s
        self._mean = config.service_time_s
        self._exponential = config.service_distribution == "exponential"
        self._next = 0
        self._times: FloatArray = NO_TIMES
        self._services: FloatArray = NO_TIMES
        self._pos = 0

    def take(self, until: float) -> tuple[FloatArray, FloatArray | None]:
        """Arrivals before `until` not taken yet (and their service times if exponential)."""
        while self._next < len(self.counts) and self._start + self._next * self._step < until:
            n = int(self.counts[self._next])
            begin = self._start + self._next * self._step
            new = begin + np.sort(self._times_rng.random(n)) * self._step
            self._times = np.concatenate((self._times[self._pos :], new))
            if self._exponential:
                drawn = self._service_rng.exponential(self._mean, n)
                self._services = np.concatenate((self._services[self._pos :], drawn))
            self._pos = 0
            self._next += 1
        end = self._pos + int(np.searchsorted(self._times[self._pos :], until))
        times = self._times[self._pos : end]
        services = self._services[self._pos : end] if self._exponential else None
        self._pos = end
        return times, services

    def put_back(self, count: int) -> None:
        """Returns the last `count` arrivals taken (they are taken again later)."""
        self._pos -= count
