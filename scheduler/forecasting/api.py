"""The entry points other packages use: `forecast(series, horizon, ...)` and the model names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.forecasting import Forecast, Series
from scheduler.forecasting.auto import Auto
from scheduler.forecasting.base import (
    DEFAULT_LEVEL,
    ForecastError,
    check_request,
    single_threaded,
)
from scheduler.forecasting.baselines import Naive, SeasonalNaive
from scheduler.forecasting.ets import ETS, HoltWinters
from scheduler.forecasting.mstl import MSTLForecaster
from scheduler.forecasting.sarima import SARIMA

MODEL_NAMES = ("auto", "naive", "snaive", "ets", "hw", "sarima", "mstl")


def make_forecaster(
    model: str, horizon: int, *, level: float = DEFAULT_LEVEL, period_hints: Sequence[int] = ()
) -> Any:
    """A forecaster by name (`MODEL_NAMES`); `horizon` and `level` matter to `auto` only."""
    if model == "auto":
        return Auto(horizon, level=level, period_hints=period_hints)
    if model == "naive":
        return Naive()
    if model == "snaive":
        return SeasonalNaive(period_hints)
    if model == "ets":
        return ETS()
    if model == "hw":
        return HoltWinters()
    if model == "sarima":
        return SARIMA()
    if model == "mstl":
        return MSTLForecaster()
    raise ForecastError(f"unknown model {model!r} (choose from {', '.join(MODEL_NAMES)})")


def forecast(
    series: Series,
    horizon: int,
    *,
    model: str = "auto",
    level: float = DEFAULT_LEVEL,
    period_hints: Sequence[int] = (),
) -> Forecast:
    """Fit `model` on the series and forecast the `horizon` steps after its last value, with a
    central interval at `level`. `period_hints` are expected seasonal periods in steps (e.g.
    86400 / step_s for a daily cycle); they are checked, not trusted. This fits: call it on a
    schedule in a worker, not on a request path, and keep the result."""
    check_request(horizon, level)
    forecaster = make_forecaster(model, horizon, level=level, period_hints=period_hints)
    with single_threaded():
        fitted = forecaster.fit(series, period_hints)
        result: Forecast = fitted.forecast(horizon, level)
    return result
