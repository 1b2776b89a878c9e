"""The single models by name (what `auto` chooses among and `make_forecaster` builds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.forecasting import SINGLE_MODELS
from scheduler.forecasting.base import ForecastError
from scheduler.forecasting.baselines import Drift, Naive, SeasonalNaive
from scheduler.forecasting.ets import ETS, HoltWinters
from scheduler.forecasting.mstl import MSTLForecaster
from scheduler.forecasting.sarima import SARIMA
from scheduler.forecasting.sarimax import SARIMAX


def single_model(name: str, period_hints: Sequence[int] = ()) -> Any:
    """A new forecaster of the named kind (each has `fit` and `fit_prepared`)."""
    if name == "naive":
        return Naive()
    if name == "drift":
        return Drift()
    if name == "snaive":
        return SeasonalNaive(period_hints)
    if name == "ets":
        return ETS()
    if name == "hw":
        return HoltWinters()
    if name == "sarima":
        return SARIMA()
    if name == "sarimax":
        return SARIMAX()
    if name == "mstl":
        return MSTLForecaster()
    raise ForecastError(f"unknown model {name!r} (choose from auto, {', '.join(SINGLE_MODELS)})")
