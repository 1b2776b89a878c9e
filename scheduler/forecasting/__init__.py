"""Load forecasting behind one interface (statsmodels models, pure: no I/O, no clock).

    from scheduler.forecasting import forecast
    result = forecast(series, horizon=36, model="auto", level=0.9, period_hints=(288,))

Models: naive, snaive, ets, hw (Holt-Winters), sarima, mstl, and auto (chosen by a
rolling-origin backtest). See `base` for the Forecaster / FittedModel protocol.
"""

from scheduler.forecasting.api import MODEL_NAMES, forecast, make_forecaster
from scheduler.forecasting.base import (
    DEFAULT_LEVEL,
    FittedModel,
    Forecaster,
    ForecastError,
    prepare,
)
from scheduler.forecasting.periods import calendar_periods, detect_periods

__all__ = [
    "DEFAULT_LEVEL",
    "MODEL_NAMES",
    "FittedModel",
    "ForecastError",
    "Forecaster",
    "calendar_periods",
    "detect_periods",
    "forecast",
    "make_forecaster",
    "prepare",
]
