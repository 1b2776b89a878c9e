"""SARIMAX as dynamic harmonic regression: Fourier terms for every seasonal period, ARMA errors.

Why: a seasonal ARIMA carries one period, and a long one (a daily cycle of 288 five-minute
steps, a weekly one of 336 half hours) only by differencing it away (see `sarima`). Sine and
cosine pairs carry several long cycles at once (daily and weekly), and the ARMA errors carry
the short-run dynamics:

    y[t] = c + sum over periods m, k = 1..K_m of (a_mk sin(2 pi k t / m) + b_mk cos(2 pi k t / m))
           + u[t],    u ~ ARIMA(p, d, q)

How:
- Window: the last `max_points` values, by default the whole prepared window (2016: six weeks
  of half hours). The weekly shape needs the weeks: with sarima's 1200 values the nyc_taxi
  backtest MASE ratio to seasonal naive is 0.96 instead of 0.66.
- Periods: the usable ones with two full cycles in the window, the shortest `max_periods`. A
  harmonic repeating a shorter period's frequency (the 7th weekly one is the 1st daily one) is
  left out, and so is every k >= m/2 (at m/2 the sine is zero).
- d: 1 when the errors look integrated, i.e. KPSS rejects their stationarity (as in `sarima`)
  and an augmented Dickey-Fuller test does not reject a unit root, both on the series with the
  widest Fourier fit removed. KPSS alone rejects on nearly every nyc_taxi window (persistent
  errors, AR roots near 0.9, and holiday level shifts) where ADF rejects a unit root; with d = 1
  the forecasts carry on the errors' last swing (ratio 1.09 instead of 0.66). With d = 1 the
  regression is fitted on differences, without a constant (the errors carry the level).
- Harmonics: K_m from `HARMONICS` (below m/2) for each period, every combination, by AICc with
  AR(2) errors fitted by conditional least squares (about a millisecond per combination: the
  regressions share the widest design's Gram matrix). Few harmonics smooth the daily and weekly
  shapes away: on nyc_taxi the ratio is 1.30 with K <= 8 and 0.66 with K <= 64 (AICc picks all
  23 daily pairs and 32-64 weekly ones; allowing 128 changes nothing).
- ARMA orders by exact likelihood (statsmodels `SARIMAX`, `sarima.best_arma`) on the errors the
  regression leaves. That is `SARIMAX(y, exog=fourier, order=(p,d,q))` with the regression
  coefficients fixed at their least-squares values: for harmonic regressors OLS is
  asymptotically as efficient as GLS (Grenander), and the joint maximum likelihood
  (`mle_regression`, every coefficient a parameter of a numerical optimisation) took 0.2-0.4 s
  with 2-4 pairs per period on nyc_taxi and 11 s, not converged, with 8, for an AIC lower by
  under 0.5. A fit takes 0.3-0.5 s on 2016 values, two thirds of it in the ARMA fits.
- The forecast is the Fourier terms at the future steps (the same functions of the step index,
  so the phase continues) plus the ARMA forecast; the interval is the ARMA's (the seasonal
  coefficients are treated as known).
- Without a usable period it is the plain ARIMA of `sarima` (`sarima.fit_nonseasonal`), and
  the notes say so.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.base import DEFAULT_MAX_POINTS, ForecastError, Prepared, prepare, quiet
from scheduler.forecasting.sarima import (
    SARIMAFitted,
    best_arma,
    differencing_order,
    fit_nonseasonal,
    fitting_window,
)

HARMONICS = (2, 4, 8, 16, 32, 64)  # candidate numbers of sine/cosine pairs per period
MIN_CYCLES = 2  # full cycles of a period needed in the window
DEFAULT_MAX_PERIODS = 2
SELECTION_AR = 2  # AR order of the errors while choosing the harmonics


@dataclass(frozen=True)
class Fourier:
    """Sine/cosine regressors: `harmonics[i]` pairs for `periods[i]`; a frequency shared with an
    earlier period is kept once."""

    periods: tuple[int, ...]
    harmonics: tuple[int, ...]

    @property
    def terms(self) -> tuple[tuple[int, int], ...]:
        """(period, k) of every pair: the frequencies k / period are distinct and below 1/2."""
        seen: set[Fraction] = set()
        terms = []
        for period, count in zip(self.periods, self.harmonics, strict=True):
            for k in range(1, count + 1):
                frequency = Fraction(k, period)
                if 2 * k < period and frequency not in seen:
                    seen.add(frequency)
                    terms.append((period, k))
        return tuple(terms)

    @property
    def frequencies(self) -> tuple[Fraction, ...]:
        return tuple(Fraction(k, period) for period, k in self.terms)

    def matrix(self, steps: np.ndarray) -> np.ndarray:
        """One row per step index: sin and cos of every term, in the order of `terms`."""
        steps = np.asarray(steps, dtype=float)
        columns = []
        for period, k in self.terms:
            angle = 2.0 * np.pi * k * steps / period
            columns += [np.sin(angle), np.cos(angle)]
        return np.column_stack(columns) if columns else np.empty((len(steps), 0))

    @property
    def label(self) -> str:
        return ",".join(f"{p}:{k}" for p, k in zip(self.periods, self.harmonics, strict=True))


def harmonic_choices(periods: Sequence[int]) -> list[Fourier]:
    """Every combination of `HARMONICS` (capped below period / 2) over the periods; the last
    one has the most harmonics, and the terms of every other are a subset of its terms."""
    options = [sorted({min(k, (p - 1) // 2) for k in HARMONICS}) for p in periods]
    return [Fourier(tuple(periods), combo) for combo in itertools.product(*options)]


def errors_integrated(residuals: np.ndarray) -> bool:
    """KPSS rejects stationarity at 5% and the augmented Dickey-Fuller test does not reject a
    unit root at 5%."""
    from statsmodels.tsa.stattools import adfuller

    if not differencing_order(residuals):
        return False
    with quiet():
        try:
            _, p_value, *_ = adfuller(residuals, autolag="AIC")
        except (ValueError, np.linalg.LinAlgError):
            return True
    return bool(p_value >= 0.05)


class Regression:
    """Least squares of y on any subset of the widest Fourier design's terms, from one Gram
    matrix. With d = 1 the differences of y on the differences of the regressors, without a
    constant (the integrated errors carry the level); with d = 0 a constant is added."""

    def __init__(self, y: np.ndarray, widest: Fourier, d: int) -> None:
        self.y = y
        self.d = d
        self.regressors = widest.matrix(np.arange(len(y)))
        self.position = {f: i for i, f in enumerate(widest.frequencies)}
        if d:
            self.design = np.diff(self.regressors, axis=0)
            target = np.diff(y)
        else:
            self.design = np.column_stack([np.ones(len(y)), self.regressors])
            target = y
        self.target = target
        self.gram = self.design.T @ self.design
        self.moment = self.design.T @ target

    def columns(self, fourier: Fourier) -> np.ndarray:
        """The regressor columns of `fourier`'s terms, in its order."""
        index = [self.position[f] for f in fourier.frequencies]
        return np.array([c for i in index for c in (2 * i, 2 * i + 1)], dtype=int)

    def fit(self, fourier: Fourier) -> tuple[np.ndarray, float, np.ndarray]:
        """(coefficients in the order of `fourier.matrix`, constant, the errors y - fit)."""
        columns = self.columns(fourier)
        chosen = columns if self.d else np.concatenate([[0], columns + 1])
        try:
            solution = np.linalg.solve(self.gram[np.ix_(chosen, chosen)], self.moment[chosen])
        except np.linalg.LinAlgError:
            solution, *_ = np.linalg.lstsq(self.design[:, chosen], self.target, rcond=None)
        coef, constant = (solution, 0.0) if self.d else (solution[1:], float(solution[0]))
        errors = self.y - constant - self.regressors[:, columns] @ coef
        return coef, constant, errors


def selection_aic(errors: np.ndarray, d: int, regression_parameters: int) -> float:
    """AICc of the regression with AR(`SELECTION_AR`) errors (on their differences when d = 1),
    the AR fitted by conditional least squares (corrected for small samples: a short history
    has room for few harmonics)."""
    z = np.diff(errors) if d else errors
    p = SELECTION_AR
    lags = np.column_stack([z[p - i - 1 : len(z) - i - 1] for i in range(p)])
    target = z[p:]
    phi, *_ = np.linalg.lstsq(lags, target, rcond=None)
    m = len(target)
    k = regression_parameters + p + 1
    if m - k - 1 <= 0:
        return np.inf
    variance = max(float(np.sum((target - lags @ phi) ** 2)) / m, np.finfo(float).tiny)
    return m * float(np.log(variance)) + 2.0 * k + 2.0 * k * (k + 1) / (m - k - 1)


class SARIMAXFitted(SARIMAFitted):
    """The ARMA forecast of the regression's errors plus the Fourier terms at future steps."""

    def __init__(
        self,
        name: str,
        prepared: Prepared,
        result: Any,
        period: int,
        *,
        fourier: Fourier,
        coef: np.ndarray,
        constant: float,
        steps: int,
        notes: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, prepared, result, period, offset=constant, notes=notes)
        self.fourier = fourier
        self.coef = coef
        self.steps = steps  # the step index of the first future value (the window's length)

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, lower, upper = super().predict(horizon, level)
        season = self.fourier.matrix(self.steps + np.arange(horizon)) @ self.coef
        return mean + season, lower + season, upper + season


class SARIMAX:
    """See the module docstring."""

    name = "sarimax"

    def __init__(
        self, max_points: int = DEFAULT_MAX_POINTS, max_periods: int = DEFAULT_MAX_PERIODS
    ) -> None:
        self.max_points = max_points
        self.max_periods = max_periods

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> SARIMAFitted:
        return self.fit_prepared(prepare(series, period_hints))

    def fit_prepared(self, prepared: Prepared) -> SARIMAFitted:
        y = fitting_window(prepared, self.max_points, self.name)
        n = len(y)
        usable = prepared.usable_periods(MIN_CYCLES)
        periods = sorted(p for p in usable if n >= MIN_CYCLES * p and p > 2)[: self.max_periods]
        if not periods:
            reason = (
                f"no seasonal period with {MIN_CYCLES} cycles in {n} points"
                if prepared.periods
                else "no seasonal period detected"
            )
            return fit_nonseasonal(prepared, y, {"sarimax": f"{reason}: ARIMA, no regressors"})
        choices = harmonic_choices(periods)
        widest = choices[-1]
        regression = Regression(y, widest, 0)
        _, _, errors = regression.fit(widest)
        d = int(errors_integrated(errors))
        if d:
            regression = Regression(y, widest, d)
        best: tuple[float, Fourier] | None = None
        for fourier in choices:
            coef, _, errors = regression.fit(fourier)
            aic = selection_aic(errors, d, len(coef) + (0 if d else 1))
            if np.isfinite(aic) and (best is None or aic < best[0]):
                best = (aic, fourier)
        if best is None:
            raise ForecastError("sarimax: no Fourier regression could be fitted")
        fourier = best[1]
        coef, constant, errors = regression.fit(fourier)
        order, result = best_arma(errors, d)
        main = prepared.main_period if prepared.main_period in periods else max(periods)
        name = "sarimax({},{},{})".format(*order) + f"+fourier({fourier.label})"
        notes = {"sarimax": {"harmonics": fourier.label, "d": d, "window": n}}
        return SARIMAXFitted(
            name,
            prepared,
            result,
            main,
            fourier=fourier,
            coef=coef,
            constant=constant,
            steps=n,
            notes=notes,
        )
