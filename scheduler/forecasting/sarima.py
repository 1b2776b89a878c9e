"""SARIMA with statsmodels `SARIMAX`, kept small so a fit takes well under a second or two.

- Short main period (at most `SEASONAL_STATE_MAX` steps, e.g. an hour of 5-minute steps): a
  true seasonal ARIMA, (1,d,1)(0,1,1)_m, estimated by exact likelihood on the state-space form.
- Longer periods (a daily cycle of 24 hours or 288 five-minute steps, a weekly one of 336 half
  hours): the state of a seasonal ARIMA would have dozens to hundreds of entries and a fit
  would take seconds to minutes, so the seasonal difference is taken first
  (SARIMA(p,0,q)(0,1,0)_m with "simple differencing"): an ARMA fitted to y[t] - y[t-m] and its
  forecasts added back onto the last observed cycle. It starts from the seasonal naive
  forecast and corrects it by the recent seasonal change, which decays over the horizon.
- No period: a plain ARIMA(p,d,q) (with the mean removed when d = 0).

The differencing order d comes from a KPSS test on the series the ARMA sees (d=1 when
stationarity is rejected at 5%); the ARMA orders from AIC among a few small ones. Only the last
`max_points` values are used. Beyond one cycle ahead, the interval of the seasonally
differenced model adds the variances of the two steps it sums (their covariance is ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.base import Fitted, ForecastError, Prepared, prepare, quiet, z_value

SEASONAL_STATE_MAX = 12
DEFAULT_MAX_POINTS = 1200
MIN_POINTS = 16
ARMA_ORDERS = ((1, 1), (2, 0), (0, 1))


def differencing_order(values: np.ndarray) -> int:
    """1 when KPSS rejects level stationarity at 5%, else 0."""
    from statsmodels.tsa.stattools import kpss

    if np.std(values) == 0:
        return 0
    with quiet():
        try:
            _, p_value, *_ = kpss(values, regression="c", nlags="auto")
        except (ValueError, OverflowError):
            return 1
    return 1 if p_value < 0.05 else 0


def fit_arima(values: np.ndarray, order: tuple[int, int, int], seasonal: int | None = None) -> Any:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal_order = (0, 1, 1, seasonal) if seasonal else (0, 0, 0, 0)
    model = SARIMAX(values, order=order, seasonal_order=seasonal_order, concentrate_scale=True)
    with quiet():
        return model.fit(disp=False, maxiter=100)


def best_arma(values: np.ndarray, d: int) -> tuple[tuple[int, int, int], Any]:
    """The ARIMA(p,d,q) of `ARMA_ORDERS` with the lowest AIC."""
    best: tuple[float, tuple[int, int, int], Any] | None = None
    for p, q in ARMA_ORDERS:
        order = (p, d, q)
        try:
            result = fit_arima(values, order)
        except (ValueError, np.linalg.LinAlgError):
            continue
        aic = float(result.aic)
        if np.isfinite(aic) and (best is None or aic < best[0]):
            best = (aic, order, result)
    if best is None:
        raise ForecastError("no ARIMA model could be fitted")
    return best[1], best[2]


class SARIMAFitted(Fitted):
    def __init__(
        self,
        name: str,
        prepared: Prepared,
        result: Any,
        period: int | None,
        *,
        offset: float = 0.0,
        last_cycle: np.ndarray | None = None,
        notes: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, prepared, period, notes, transformed=True)
        self.result = result
        self.offset = offset  # the mean removed before a d=0 ARIMA
        # With simple seasonal differencing: the last m values the forecasts are added to.
        self.last_cycle = last_cycle

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prediction = self.result.get_forecast(horizon)
        mean = np.asarray(prediction.predicted_mean, dtype=float) + self.offset
        variance = np.maximum(np.asarray(prediction.var_pred_mean, dtype=float), 0.0)
        if self.last_cycle is not None:
            m = len(self.last_cycle)
            levels = np.concatenate([self.last_cycle, np.zeros(horizon)])
            total = np.concatenate([np.zeros(m), np.zeros(horizon)])
            for h in range(horizon):
                levels[m + h] = levels[h] + mean[h]
                total[m + h] = total[h] + variance[h]
            mean, variance = levels[m:], total[m:]
        half = z_value(level) * np.sqrt(variance)
        return mean, mean - half, mean + half


def fitting_window(prepared: Prepared, max_points: int, model: str) -> np.ndarray:
    """The last `max_points` model-scale values, or ForecastError when too few for an ARIMA."""
    y = prepared.model_values[-max_points:]
    if len(y) < MIN_POINTS:
        raise ForecastError(f"{model} needs at least {MIN_POINTS} points, got {len(y)}")
    return y


def fit_nonseasonal(
    prepared: Prepared, y: np.ndarray, notes: dict[str, Any] | None = None
) -> SARIMAFitted:
    """ARIMA(p,d,q) on `y` (the end of `prepared.model_values`), the mean removed when d = 0:
    the model without a seasonal period."""
    d = differencing_order(y)
    offset = 0.0 if d else float(np.mean(y))
    order, result = best_arma(y - offset, d)
    name = "arima({},{},{})".format(*order)
    return SARIMAFitted(name, prepared, result, None, offset=offset, notes=notes)


class SARIMA:
    """See the module docstring."""

    name = "sarima"

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.max_points = max_points

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> SARIMAFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> SARIMAFitted:
        y = fitting_window(prepared, self.max_points, self.name)
        n = len(y)
        notes: dict[str, Any] = {}
        m = prepared.main_period
        if m is not None and n < 2 * m + MIN_POINTS:
            notes["sarima"] = f"{n} points: fewer than two {m}-step cycles, non-seasonal ARIMA"
            m = None
        if m is not None and m <= SEASONAL_STATE_MAX:
            d = differencing_order(y[m:] - y[:-m])
            result = fit_arima(y, (1, d, 1), seasonal=m)
            return SARIMAFitted(f"sarima(1,{d},1)(0,1,1,{m})", prepared, result, m, notes=notes)
        if m is not None:
            # No further differencing: with d = 1 on top of the seasonal difference the
            # forecasts drift away from the last cycle without bound.
            z = y[m:] - y[:-m]
            d = 0
            order, result = best_arma(z, d)
            name = "sarima({},{},{})".format(*order) + f"(0,1,0,{m})"
            return SARIMAFitted(name, prepared, result, m, last_cycle=y[-m:], notes=notes)
        return fit_nonseasonal(prepared, y, notes)
