"""Rolling-origin evaluation: refit at each origin on the values before it, forecast the next
`horizon` values, and score the forecast against them.

- MASE: mean absolute error divided by the in-sample mean absolute error of the seasonal naive
  forecast (lag m, the trace's seasonal period; lag 1 without one) on the training part, so
  1.0 means "as good as seasonal naive was in sample".
- sMAPE: mean of 200 |y - f| / (|y| + |f|), in percent (0 where both are 0).
- coverage: the fraction of actual values inside [lower, upper].

Gaps (NaN) in the actual values are left out of every metric. A forecaster that fails at an
origin is recorded with its error and left out of the means.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from models.forecasting import Forecast, Series


class Fits(Protocol):
    name: str

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> Any: ...


def mase_scale(train: Sequence[float] | np.ndarray, period: int | None = None) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (lag `period`, or 1)."""
    y = np.asarray(train, dtype=float)
    lag = period if period and period < len(y) else 1
    if len(y) <= lag:
        return math.nan
    diffs = np.abs(y[lag:] - y[:-lag])
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0 or float(np.mean(diffs)) == 0.0:
        if lag != 1:
            return mase_scale(y, 1)
        return math.nan
    return float(np.mean(diffs))


def mase(
    actual: Sequence[float] | np.ndarray,
    predicted: Sequence[float] | np.ndarray,
    scale: float,
) -> float:
    a, f = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    keep = np.isfinite(a)
    if not keep.any() or not math.isfinite(scale) or scale <= 0:
        return math.nan
    return float(np.mean(np.abs(a[keep] - f[keep])) / scale)


def smape(actual: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    a, f = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    keep = np.isfinite(a)
    if not keep.any():
        return math.nan
    a, f = a[keep], f[keep]
    denominator = np.abs(a) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denominator > 0, 200.0 * np.abs(a - f) / denominator, 0.0)
    return float(np.mean(terms))


def coverage(
    actual: Sequence[float] | np.ndarray,
    lower: Sequence[float] | np.ndarray,
    upper: Sequence[float] | np.ndarray,
) -> float:
    a = np.asarray(actual, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    keep = np.isfinite(a)
    if not keep.any():
        return math.nan
    inside = (a[keep] >= lo[keep]) & (a[keep] <= hi[keep])
    return float(np.mean(inside))


def rolling_origins(
    length: int, horizon: int, count: int, start_fraction: float = 0.6
) -> list[int]:
    """`count` origins (numbers of training values) evenly spread from `start_fraction` of
    the series to the last one that leaves `horizon` values to score; fewer when the span is
    shorter than `count`."""
    if horizon < 1 or count < 1:
        raise ValueError("horizon and count must be positive")
    first = max(1, math.ceil(start_fraction * length))
    last = length - horizon
    if last < first:
        return []
    if count == 1:
        return [last]
    positions = np.linspace(first, last, count)
    return sorted({round(float(p)) for p in positions})


@dataclass(frozen=True)
class OriginResult:
    origin: int  # number of training values
    mase: float
    smape: float
    coverage: float
    fit_seconds: float | None
    forecast: Forecast | None
    error: str = ""


@dataclass(frozen=True)
class ModelResult:
    name: str
    origins: tuple[OriginResult, ...]
    chosen: dict[str, int] = field(default_factory=dict)  # model names behind the forecasts

    def _mean(self, attribute: str) -> float:
        values = [getattr(o, attribute) for o in self.origins if not o.error]
        values = [v for v in values if v is not None and math.isfinite(v)]
        return float(np.mean(values)) if values else math.nan

    @property
    def mase(self) -> float:
        return self._mean("mase")

    @property
    def smape(self) -> float:
        return self._mean("smape")

    @property
    def coverage(self) -> float:
        return self._mean("coverage")

    @property
    def fit_seconds(self) -> float:
        return self._mean("fit_seconds")

    @property
    def failures(self) -> int:
        return sum(1 for o in self.origins if o.error)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "mase": _round(self.mase),
            "smape": _round(self.smape),
            "coverage": _round(self.coverage),
            "fit_seconds": _round(self.fit_seconds),
            "failures": self.failures,
            "chosen": dict(self.chosen),
            "origins": [
                {
                    "origin": o.origin,
                    "mase": _round(o.mase),
                    "smape": _round(o.smape),
                    "coverage": _round(o.coverage),
                    "fit_seconds": _round(o.fit_seconds),
                    "model": o.forecast.model if o.forecast else None,
                    **({"error": o.error} if o.error else {}),
                }
                for o in self.origins
            ],
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def head(series: Series, count: int) -> Series:
    """The first `count` values of a series."""
    return Series(series.start, series.step_s, series.values[:count], series.name)


def evaluate_origin(
    series: Series,
    forecaster: Fits,
    origin: int,
    horizon: int,
    *,
    level: float,
    scale_period: int | None,
    period_hints: Sequence[int] = (),
    clock: Callable[[], float] | None = None,
) -> OriginResult:
    """Fit on values[:origin], forecast `horizon` steps, score against values[origin:...]."""
    train = series.values[:origin]
    actual = np.asarray(series.values[origin : origin + horizon], dtype=float)
    scale = mase_scale(train, scale_period)
    started = clock() if clock else None
    try:
        fitted = forecaster.fit(head(series, origin), period_hints)
        forecast: Forecast = fitted.forecast(horizon, level)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return OriginResult(origin, math.nan, math.nan, math.nan, None, None, str(exc))
    seconds = (clock() - started) if clock and started is not None else None
    return OriginResult(
        origin=origin,
        mase=mase(actual, forecast.mean, scale),
        smape=smape(actual, forecast.mean),
        coverage=coverage(actual, forecast.lower, forecast.upper),
        fit_seconds=seconds,
        forecast=forecast,
    )


def summarize(name: str, results: Sequence[OriginResult]) -> ModelResult:
    chosen: dict[str, int] = {}
    for result in results:
        if result.forecast is not None:
            chosen[result.forecast.model] = chosen.get(result.forecast.model, 0) + 1
    return ModelResult(name, tuple(results), chosen)


def evaluate(
    series: Series,
    forecaster: Fits,
    horizon: int,
    origins: Sequence[int],
    *,
    level: float = 0.9,
    scale_period: int | None = None,
    period_hints: Sequence[int] = (),
    clock: Callable[[], float] | None = None,
    on_origin: Callable[[OriginResult], None] | None = None,
) -> ModelResult:
    """Every origin in turn (see `evaluate_origin`)."""
    results = []
    for origin in origins:
        result = evaluate_origin(
            series,
            forecaster,
            origin,
            horizon,
            level=level,
            scale_period=scale_period,
            period_hints=period_hints,
            clock=clock,
        )
        results.append(result)
        if on_origin is not None:
            on_origin(result)
    return summarize(forecaster.name, results)


def ratio(model: ModelResult, baselines: Sequence[ModelResult]) -> float:
    """The model's mean MASE over the better (lower) mean MASE of the baselines."""
    best = min((b.mase for b in baselines if math.isfinite(b.mase)), default=math.nan)
    if not math.isfinite(best) or best <= 0 or not math.isfinite(model.mase):
        return math.nan
    return model.mase / best
