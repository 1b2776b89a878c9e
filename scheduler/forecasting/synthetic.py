"""Seeded synthetic load series for benchmarks: 5-minute values with daily and weekly cycles,
trends, spikes, level shifts, gaps and noise, each drawn per series from its seed.

`synthetic_series(seed)` is a pure function of the seed (numpy's PCG64 generator): the same
seed gives the same series on every machine. The family parameters are drawn so that the set
covers what load traces do: a cycle of any strength or none, a trend up or down or none, a
level shift in the last third (or none), rare spikes, a few gaps, noise from low to high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.forecasting import Series

STEP_S = 300.0
DAY = 288  # 5-minute steps
WEEK = 7 * DAY
DEFAULT_DAYS = 14
START = 1_700_000_000.0


@dataclass(frozen=True)
class Family:
    """The parameters a series is drawn from."""

    level: float
    daily_amplitude: float  # relative to the level
    weekly_amplitude: float  # relative to the level (weekend dip)
    trend_per_day: float  # relative to the level
    noise: float  # relative to the level (standard deviation)
    ar: float  # AR(1) coefficient of the noise
    spikes_per_day: float
    shift_at: float | None  # fraction of the series where the level changes
    shift_size: float  # relative to the level
    gap_count: int


def draw_family(rng: np.random.Generator) -> Family:
    cyclic = rng.random() < 0.75
    return Family(
        level=float(rng.uniform(20.0, 500.0)),
        daily_amplitude=float(rng.uniform(0.1, 0.6)) if cyclic else 0.0,
        weekly_amplitude=float(rng.uniform(0.0, 0.3)) if cyclic and rng.random() < 0.6 else 0.0,
        trend_per_day=float(rng.choice([0.0, rng.uniform(-0.02, 0.03)])),
        noise=float(rng.choice([0.02, 0.06, 0.15])),
        ar=float(rng.uniform(0.0, 0.8)),
        spikes_per_day=float(rng.choice([0.0, 0.5, 2.0])),
        shift_at=float(rng.uniform(0.66, 0.95)) if rng.random() < 0.4 else None,
        shift_size=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.8)),
        gap_count=int(rng.choice([0, 0, 2, 5])),
    )


def synthetic_series(seed: int, days: int = DEFAULT_DAYS) -> Series:
    """One series of `days` days drawn from its own family; named after its seed."""
    rng = np.random.default_rng(seed)
    family = draw_family(rng)
    n = days * DAY
    t = np.arange(n, dtype=float)
    f = family
    daily = f.daily_amplitude * (
        np.sin(2 * np.pi * t / DAY - np.pi / 2) + 0.3 * np.sin(4 * np.pi * t / DAY)
    )
    day_of_week = (t // DAY) % 7
    weekly = -f.weekly_amplitude * (day_of_week >= 5)
    trend = f.trend_per_day * t / DAY
    shift = np.zeros(n)
    if f.shift_at is not None:
        shift[int(f.shift_at * n) :] = f.shift_size
    noise = np.empty(n)
    shocks = rng.normal(0.0, f.noise, n)
    noise[0] = shocks[0]
    for i in range(1, n):
        noise[i] = f.ar * noise[i - 1] + shocks[i] * np.sqrt(1 - f.ar**2)
    spikes = np.zeros(n)
    count = rng.poisson(f.spikes_per_day * days)
    if count:
        spikes[rng.integers(0, n, count)] = rng.uniform(0.5, 2.0, count)
    values = f.level * (1.0 + daily + weekly + trend + shift + noise + spikes)
    values = np.maximum(values, 0.0)
    for _ in range(f.gap_count):
        gap_start = int(rng.integers(0, n - 12))
        values[gap_start : gap_start + int(rng.integers(1, 12))] = np.nan
    return Series(START, STEP_S, tuple(float(v) for v in values), f"synthetic-{seed}")


def seed_halves(count: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Seeds 0..count-1 split into the tuning half (the first) and the held-out half."""
    half = count // 2
    return tuple(range(half)), tuple(range(half, count))
