"""Baselines: naive (the last value), drift (the last value plus the average step) and seasonal
naive (the value one period earlier).

Their intervals are empirical: the quantiles of the same forecast's errors inside the history
(for step h of naive, the distribution of y[t+h] - y[t]; for seasonal naive, of
y[t+k*m] - y[t] with k the number of cycles step h reaches back), so they are as wide as the
series really moves, skewed where it is. They repeat the values as observed (gaps filled,
outliers kept): the textbook baselines, not improved by the cleaning the models get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.base import Fitted, Prepared, prepare
from scheduler.forecasting.periods import named_calendar_periods

MIN_ERRORS = 8  # below this many in-sample errors, intervals fall back to a normal spread


def lag_error_quantiles(values: np.ndarray, lag: int, level: float) -> tuple[float, float] | None:
    """The (lower, upper) quantiles of y[t+lag] - y[t] at a central `level`."""
    if lag >= len(values):
        return None
    errors = values[lag:] - values[:-lag]
    if errors.size < MIN_ERRORS:
        return None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(errors, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _fallback_spread(values: np.ndarray, level: float, steps: float) -> tuple[float, float]:
    from scheduler.forecasting.base import z_value

    diffs = np.diff(values)
    sigma = float(np.std(diffs)) if diffs.size > 1 else float(np.std(values))
    half = z_value(level) * sigma * np.sqrt(max(steps, 1.0))
    return -half, half


class NaiveFitted(Fitted):
    def __init__(self, prepared: Prepared, notes: dict[str, Any] | None = None) -> None:
        super().__init__("naive", prepared, None, notes)
        self.values = prepared.filled

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        last = float(self.values[-1])
        mean = np.full(horizon, last)
        lower = np.empty(horizon)
        upper = np.empty(horizon)
        for h in range(1, horizon + 1):
            spread = lag_error_quantiles(self.values, h, level) or _fallback_spread(
                self.values, level, h
            )
            lower[h - 1], upper[h - 1] = last + spread[0], last + spread[1]
        return mean, lower, upper


class DriftFitted(NaiveFitted):
    """The random walk with drift: the last value plus h times the average step over the
    window. The intervals are naive's: the empirical h-step changes already include the
    drift, so they are centred where the series went, not re-centred on the drift line."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(prepared)
        self.name = "drift"
        n = len(self.values)
        self.slope = float(self.values[-1] - self.values[0]) / (n - 1) if n > 1 else 0.0

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, lower, upper = super().predict(horizon, level)
        steps = np.arange(1, horizon + 1, dtype=float)
        return mean + self.slope * steps, lower, upper


class SeasonalNaiveFitted(Fitted):
    def __init__(
        self, prepared: Prepared, period: int, notes: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"snaive({period})", prepared, period, notes)
        self.values = prepared.filled
        self.m = period

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y, m = self.values, self.m
        n = len(y)
        mean = np.empty(horizon)
        lower = np.empty(horizon)
        upper = np.empty(horizon)
        cache: dict[int, tuple[float, float]] = {}
        for h in range(1, horizon + 1):
            cycles = (h - 1) // m + 1
            mean[h - 1] = y[n - cycles * m + h - 1]
            if cycles not in cache:
                cache[cycles] = lag_error_quantiles(y, cycles * m, level) or _fallback_spread(
                    y, level, cycles * m
                )
            lo, hi = cache[cycles]
            lower[h - 1], upper[h - 1] = mean[h - 1] + lo, mean[h - 1] + hi
        return mean, lower, upper


class Naive:
    name = "naive"

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> NaiveFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> NaiveFitted:
        return NaiveFitted(prepared)


class Drift:
    name = "drift"

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> DriftFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> DriftFitted:
        return DriftFitted(prepared)


class SeasonalNaive:
    """Repeats the last cycle of the main detected period; without one, of the first hint or
    calendar cycle (daily before weekly) that fits twice in the history, and says so; with
    neither, it is the naive forecast."""

    name = "snaive"

    def __init__(self, period_hints: Sequence[int] = ()) -> None:
        self.period_hints = tuple(period_hints)

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> Fitted:
        self.period_hints = tuple(period_hints) or self.period_hints
        return self.fit_prepared(prepare(series, self.period_hints))

    def fit_prepared(self, prepared: Prepared) -> Fitted:
        period = prepared.main_period
        if period is not None and len(prepared) >= period + 1:
            return SeasonalNaiveFitted(prepared, period)
        fallback = choose_fallback_period(prepared, self.period_hints)
        if fallback is not None:
            why = f"no seasonal period detected; repeating the {fallback}-step cycle"
            return SeasonalNaiveFitted(prepared, fallback, {"snaive": why})
        return NaiveFitted(
            prepared, {"snaive": "no seasonal period detected or expected: naive forecast"}
        )


def choose_fallback_period(prepared: Prepared, hints: Sequence[int] = ()) -> int | None:
    """The first hint, else the daily, hourly or weekly cycle, that fits twice in the window."""
    calendar = named_calendar_periods(prepared.step_s)
    ordered = [*hints, *(calendar[k] for k in ("daily", "weekly", "hourly") if k in calendar)]
    for period in ordered:
        if period >= 2 and len(prepared) >= 2 * period:
            return int(period)
    return None
