"""Load forecasting behind one interface (statsmodels models; pure: no I/O, no clock).

    from scheduler.forecasting import forecast
    result = forecast(series, horizon=36, model="auto", level=0.9, period_hints=(288,))

`forecast` fits and forecasts in one call; `make_forecaster(name, horizon).fit(series, hints)`
returns a fitted model whose `forecast(horizon, level)` is cheap and can be asked repeatedly.
Models (`MODEL_NAMES`): naive, drift (random walk with drift), snaive (seasonal naive), ets,
hw (plain Holt-Winters), sarima, sarimax (Fourier terms for every period with ARMA errors),
mstl (multi-seasonal decomposition + ETS), and auto (chosen, or combined, by a rolling-origin
backtest on the end of the series; `Forecast.notes["auto"]` says why). Every fit prepares the
series the same way (`base.prepare`): the last 2016 values, seasonal periods detected from the
hints and the calendar (`periods`), gaps filled and outliers replaced (`cleaning`), a Box-Cox
transform when the spread grows with the level (`transform`).

Fitting takes from milliseconds (baselines) to a few seconds (auto on long seasonal series):
run it on a schedule in a worker, never on a request path or an event loop, and use the last
fitted result. `forecast` limits BLAS to one thread while it fits (much faster for these
small models); it and the warning filters it sets are process-wide, so run fits one at a time
per process.
"""

from models.forecasting import MODEL_NAMES
from scheduler.forecasting.api import forecast, make_forecaster
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
