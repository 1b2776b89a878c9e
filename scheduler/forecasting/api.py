"""The entry points other packages use: `forecast(series, horizon, ...)` and the model names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.forecasting import Forecast, Series
from scheduler.forecasting.auto import Auto
from scheduler.forecasting.base import DEFAULT_LEVEL, check_request, single_threaded
from scheduler.forecasting.catalog import single_model


def make_forecaster(
    model: str, horizon: int, *, level: float = DEFAULT_LEVEL, period_hints: Sequence[int] = ()
) -> Any:
    """A forecaster by name (`MODEL_NAMES`); `horizon` and `level` matter to `auto` only."""
    if model == "auto":
        return Auto(horizon, level=level, period_hints=period_hints)
    return single_model(model, period_hints)


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
