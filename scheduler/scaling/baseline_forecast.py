"""A seasonal-naive forecaster with empirical intervals: the stand-in the simulator uses when
`scheduler.forecasting` (the real forecasters) is not installed. Cheap and model-free.

The mean repeats the last season (the longest hinted period with two seasons of history, else
the shortest that fits once, else the last value); the interval adds the empirical quantiles of
the recent seasonal differences, widened by sqrt(1 + seasons ahead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from models.forecasting import Forecast, Series

_RESIDUALS = 2_000  # most recent seasonal differences used for the interval


def _filled(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.any():
        raise ValueError("the series has no finite value")
    if not finite.all():
        index = np.arange(len(array))
        array = np.interp(index, index[finite], array[finite])
    return array


def choose_period(length: int, period_hints: Sequence[int]) -> int:
    hints = sorted({p for p in period_hints if p >= 2})
    for period in reversed(hints):
        if length >= 2 * period:
            return period
    for period in hints:
        if length > period:
            return period
    return 1


def seasonal_naive(
    series: Series, horizon: int, *, level: float = 0.9, period_hints: Sequence[int] = ()
) -> Forecast:
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    values = _filled(series.values)
    n = len(values)
    period = choose_period(n, period_hints)
    steps = np.arange(horizon)
    mean = values[n - period + steps % period]
    diffs = (values[period:] - values[:-period])[-_RESIDUALS:]
    if len(diffs):
        low_q, high_q = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    else:
        low_q = high_q = 0.0
    widen = np.sqrt(1.0 + steps // period)
    lower = np.maximum(0.0, mean + low_q * widen)
    upper = np.maximum(mean, mean + high_q * widen)
    start = series.end + series.step_s if n else series.start
    return Forecast(
        model=f"snaive({period})",
        period=period if period > 1 else None,
        timestamps=tuple(start + i * series.step_s for i in range(horizon)),
        mean=tuple(mean.tolist()),
        lower=tuple(lower.tolist()),
        upper=tuple(upper.tolist()),
        level=level,
        notes={"fallback": "scheduler.forecasting not used", "residuals": len(diffs)},
    )


def seasonal_naive_forecaster(
    level: float, period_hints: Sequence[int] = ()
) -> Callable[[Series, int], Forecast]:
    """`seasonal_naive` as a `(series, horizon) -> Forecast` callable."""
    return partial(seasonal_naive, level=level, period_hints=tuple(period_hints))
