"""Exponential smoothing in state-space form (statsmodels `ETSModel`, additive errors, so the
prediction intervals are analytic).

`ETS` picks by AICc among a level-only model (simple exponential smoothing), a damped additive
trend, and, when the main period fits twice in the window, both with additive seasonality.
`HoltWinters` is the classic additive Holt-Winters, ETS(A,A,A), fitted as is on the cleaned
series, never transformed (the reference the benchmark compares with). `ETS` fits the Box-Cox
transformed values when `prepare` chose a transform. Seasonal states start from the usual
heuristic (a classical decomposition of the first cycles) instead of being estimated: with a
288-step daily cycle, estimating 288 initial states takes minutes and gains nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.base import Fitted, ForecastError, Prepared, prepare, quiet

# Seasonal ETS with longer cycles is left to the decomposition model (mstl).
MAX_SEASONAL_PERIOD = 400
MIN_POINTS = 10


@dataclass(frozen=True)
class Spec:
    trend: bool
    damped: bool
    seasonal: int | None

    @property
    def label(self) -> str:
        trend = "Ad" if self.damped else ("A" if self.trend else "N")
        season = f"A,{self.seasonal}" if self.seasonal else "N"
        return f"A,{trend},{season}"


def fit_ets(values: np.ndarray, spec: Spec) -> Any:
    """Fits one ETS model on gap-free values; returns the statsmodels results."""
    import pandas as pd  # statsmodels' ETS prediction intervals need an indexed endog
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    endog = pd.Series(np.asarray(values, dtype=float))
    model = ETSModel(
        endog,
        error="add",
        trend="add" if spec.trend else None,
        damped_trend=spec.damped,
        seasonal="add" if spec.seasonal else None,
        seasonal_periods=spec.seasonal,
        initialization_method="heuristic" if spec.seasonal else "estimated",
    )
    with quiet():
        return model.fit(disp=False, maxiter=200)


def ets_intervals(
    result: Any, n: int, horizon: int, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with quiet():
        frame = result.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=1.0 - level)
    return (
        np.asarray(frame["mean"], dtype=float),
        np.asarray(frame["pi_lower"], dtype=float),
        np.asarray(frame["pi_upper"], dtype=float),
    )


class ETSFitted(Fitted):
    def __init__(
        self,
        name: str,
        prepared: Prepared,
        result: Any,
        spec: Spec,
        notes: dict[str, Any] | None = None,
        *,
        transformed: bool = True,
    ) -> None:
        super().__init__(name, prepared, spec.seasonal, notes, transformed=transformed)
        self.result = result
        self.n = len(prepared)

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ets_intervals(self.result, self.n, horizon, level)


def _aicc(result: Any) -> float:
    value = float(getattr(result, "aicc", np.inf))
    return value if np.isfinite(value) else np.inf


class ETS:
    """ETS with the model chosen by AICc (see the module docstring)."""

    name = "ets"

    def __init__(self, seasonal: bool = True, trend: bool = False) -> None:
        self.seasonal = seasonal
        self.trend = trend

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> ETSFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def specs(self, prepared: Prepared) -> tuple[list[Spec], dict[str, str]]:
        notes: dict[str, str] = {}
        period = prepared.main_period
        specs = [Spec(False, False, None)]
        if self.trend:
            specs.append(Spec(True, True, None))
        if self.seasonal and period:
            if period > MAX_SEASONAL_PERIOD:
                notes["ets"] = f"period {period} too long for seasonal ETS; non-seasonal only"
            elif len(prepared) < 2 * period + MIN_POINTS:
                notes["ets"] = (
                    f"{len(prepared)} points: fewer than two {period}-step cycles; "
                    "non-seasonal only"
                )
            else:
                specs.append(Spec(False, False, period))
                if self.trend:
                    specs.append(Spec(True, True, period))
        return specs, notes

    def fit_prepared(self, prepared: Prepared) -> ETSFitted:
        if len(prepared) < MIN_POINTS:
            raise ForecastError(f"ets needs at least {MIN_POINTS} points, got {len(prepared)}")
        specs, notes = self.specs(prepared)
        best: tuple[float, Spec, Any] | None = None
        scores: dict[str, float] = {}
        for spec in specs:
            try:
                result = fit_ets(prepared.model_values, spec)
            except (ValueError, np.linalg.LinAlgError) as exc:
                scores[spec.label] = float("nan")
                notes[f"ets({spec.label})"] = f"fit failed: {exc}"
                continue
            score = _aicc(result)
            scores[spec.label] = round(score, 1)
            if best is None or score < best[0]:
                best = (score, spec, result)
        if best is None:
            raise ForecastError("no ETS model could be fitted")
        _, spec, result = best
        return ETSFitted(
            f"ets({spec.label})", prepared, result, spec, {**notes, "ets_aicc": scores}
        )


class HoltWinters:
    """Additive Holt-Winters, ETS(A,A,A) on the main period (Holt's linear trend without one)."""

    name = "hw"

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> ETSFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> ETSFitted:
        if len(prepared) < MIN_POINTS:
            raise ForecastError(f"hw needs at least {MIN_POINTS} points, got {len(prepared)}")
        period = prepared.main_period
        notes: dict[str, str] = {}
        if period and len(prepared) < 2 * period + MIN_POINTS:
            notes["hw"] = f"fewer than two {period}-step cycles: Holt's linear trend only"
            period = None
        spec = Spec(True, False, period)
        result = fit_ets(prepared.values, spec)
        return ETSFitted(f"hw({spec.label})", prepared, result, spec, notes, transformed=False)
