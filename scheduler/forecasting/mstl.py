"""Multi-seasonal decomposition: statsmodels `MSTL` (one `STL` for a single period) splits the
series into one seasonal component per usable period (daily and weekly, say) plus trend and
remainder; an ETS model (level only or damped trend, by AICc) forecasts the seasonally adjusted
part (trend + remainder) and each seasonal component continues its last cycle.

The intervals are those of the ETS model on the adjusted series: the seasonal shape is treated
as known (it is re-estimated at every fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.base import Fitted, ForecastError, Prepared, prepare, quiet
from scheduler.forecasting.ets import ETS

MIN_POINTS = 10


def decompose(
    values: np.ndarray, periods: Sequence[int], **stl_options: Any
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(seasonally adjusted series, one seasonal component per period)."""
    from statsmodels.tsa.seasonal import MSTL, STL

    # Evaluating the trend and low-pass smoothers every `jump` points and interpolating is
    # 5-10x faster on long periods and changes the components by well under 1%.
    jump = max(1, min(periods) // 5)
    options = {"trend_jump": jump, "low_pass_jump": jump, **stl_options}
    windows = options.pop("windows", None)
    with quiet():
        if len(periods) == 1:
            if windows:
                options["seasonal"] = windows[0]
            result = STL(values, period=int(periods[0]), **options).fit()
            seasonals = [np.asarray(result.seasonal, dtype=float)]
        else:
            result = MSTL(
                values, periods=[int(p) for p in periods], windows=windows, stl_kwargs=options
            ).fit()
            seasonal = np.asarray(result.seasonal, dtype=float)
            seasonals = [seasonal[:, i] for i in range(seasonal.shape[1])]
    adjusted = np.asarray(values, dtype=float) - np.sum(seasonals, axis=0)
    return adjusted, seasonals


def continue_cycle(component: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """The component's last cycle, repeated for `horizon` steps."""
    n = len(component)
    steps = np.arange(1, horizon + 1)
    return np.asarray(component[n - period + (steps - 1) % period], dtype=float)


class MSTLFitted(Fitted):
    def __init__(
        self,
        name: str,
        prepared: Prepared,
        adjusted_model: Fitted,
        seasonals: list[np.ndarray],
        periods: Sequence[int],
        notes: dict[str, Any],
    ) -> None:
        main = prepared.main_period if prepared.main_period in periods else max(periods)
        super().__init__(name, prepared, main, notes, transformed=True)
        self.adjusted_model = adjusted_model
        self.seasonals = seasonals
        self.periods = tuple(periods)

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, lower, upper = self.adjusted_model.predict(horizon, level)
        season = np.zeros(horizon)
        for component, period in zip(self.seasonals, self.periods, strict=True):
            season += continue_cycle(component, period, horizon)
        return mean + season, lower + season, upper + season


class MSTLForecaster:
    """See the module docstring. Without a usable period it is ETS on the series itself."""

    name = "mstl"

    def __init__(self, max_periods: int = 2, **stl_options: Any) -> None:
        self.max_periods = max_periods
        # Locally constant seasonal smoothing (STL's default is locally linear across cycles,
        # which extrapolates the seasonal shape's drift into the last cycle and so into the
        # forecast; one unusual week, a holiday, then bends the whole next week).
        self.stl_options = {"seasonal_deg": 0, **stl_options}

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> Fitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> Fitted:
        if len(prepared) < MIN_POINTS:
            raise ForecastError(f"mstl needs at least {MIN_POINTS} points, got {len(prepared)}")
        periods = sorted(prepared.usable_periods())[: self.max_periods]
        non_seasonal = ETS(seasonal=False)
        if not periods:
            fitted = non_seasonal.fit_prepared(prepared)
            fitted.notes["mstl"] = "no seasonal period with two cycles: ETS on the series"
            return fitted
        adjusted, seasonals = decompose(prepared.model_values, periods, **self.stl_options)
        adjusted_prepared = Prepared(
            values=adjusted,
            filled=adjusted,
            raw=adjusted,
            step_s=prepared.step_s,
            end=prepared.end,
            periods=(),
            main_period=None,
        )
        model = non_seasonal.fit_prepared(adjusted_prepared)
        name = f"mstl({','.join(str(p) for p in periods)})+{model.name}"
        return MSTLFitted(name, prepared, model, seasonals, periods, {})
