"""Seeded operation-duration laws for the instance generators.

Every law draws integers in [low, high]:
  - "uniform": uniform (Taillard's law; the generators' default);
  - "lognormal": log-normal around the geometric middle of the range (many short operations,
    a long right tail), clipped to the range;
  - "bimodal": 80% short operations from the lowest fifth of the range, 20% long ones from
    the highest fifth;
  - "machine_correlated": each machine has its own typical duration (uniform in the range);
    an operation takes 0.5-1.5 times its machine's, clipped;
  - "job_correlated": the same with a typical duration per job.

The generators always make their uniform draws from their own stream (so the default
instances are the ones they always made) and, for another law, replace them with draws from a
second stream seeded by `(seed, 1)`: the machine orders and eligible machines of an instance
are the same whatever the law.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DURATION_LAWS = ("uniform", "lognormal", "bimodal", "machine_correlated", "job_correlated")


class DurationLaw:
    """Durations of one instance: `replace(uniform, job, machines)` gives the law's durations
    for the uniform ones the generator drew (returned unchanged for "uniform")."""

    def __init__(
        self, law: str, seed: int, low: int, high: int, n_jobs: int, n_machines: int
    ) -> None:
        if law not in DURATION_LAWS:
            raise ValueError(
                f"unknown duration law {law!r}; choose from {', '.join(DURATION_LAWS)}"
            )
        if not 0 < low <= high:
            raise ValueError(f"duration range [{low}, {high}] must satisfy 0 < low <= high")
        self.law, self.low, self.high = law, low, high
        self.side = np.random.default_rng([seed, 1])
        self.machine_mean = self.side.uniform(low, high, size=max(1, n_machines))
        self.job_mean = self.side.uniform(low, high, size=max(1, n_jobs))

    def replace(
        self, uniform: Sequence[int] | np.ndarray, job: int, machines: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        low, high, k = self.low, self.high, len(machines)
        if self.law == "uniform":
            return np.asarray(uniform, dtype=np.int64)
        rng = self.side
        if self.law == "lognormal":
            values = rng.lognormal(math.log(math.sqrt(low * high)), 0.9, size=k)
        elif self.law == "bimodal":
            fifth = (high - low) / 5.0
            long = rng.random(k) < 0.2
            values = np.where(
                long, rng.uniform(high - fifth, high, size=k), rng.uniform(low, low + fifth, size=k)
            )
        else:
            if self.law == "machine_correlated":
                means = self.machine_mean[np.asarray(machines, dtype=np.intp)]
            else:
                means = np.full(k, self.job_mean[job])
            values = means * rng.uniform(0.5, 1.5, size=k)
        result: np.ndarray = np.clip(np.rint(values), low, high).astype(np.int64)
        return result
