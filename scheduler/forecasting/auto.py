"""`auto`: choose the model by a rolling-origin backtest on the end of the training data.

The candidates (naive, drift, seasonal naive, ETS, SARIMA, MSTL) are each refitted at up to
`MAX_INNER_ORIGINS` origins one horizon apart at the end of the history (at least
`inner_origins`, more where the history holds them) and scored by MASE against what followed.
Besides each candidate alone, the equal-weight combinations of the best two and best three
(naive and drift compete alone) are scored on the same forecasts (their mean and bounds are
the members' averages). The lowest median MASE wins (one bad origin does not decide), a
combination with a 10% handicap in its favour (`combination_bias`: the best single model is
partly luck, and combinations are the more robust choice); ties go to the simpler entry. When
the winner is much worse than naive at some origin while not clearly better on the median,
the backtests disagree and naive is taken instead. A level shift in the recent window
(`shifts.detect_level_shift`) first shortens the history to the values since the shift.
The winner is refitted on everything.

The winner's intervals are then calibrated on origins that did not choose it: for each inner
origin, the entry that would have won on the other origins is scored there, and the half-widths
are scaled so that those held-out errors would have been covered at the requested level (the
winner's own backtest errors are optimistic: they are part of why it won). The factor is shrunk
towards 1 and bounded, since a few dozen errors are a small sample.

Short histories fall back to simpler models and say so in `Forecast.notes["auto"]`: with too
few points for the backtest the choice is fixed (ETS, or naive below `MIN_POINTS`), and models
that need two seasonal cycles are not candidates until the history has them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.forecasting import Series
from scheduler.forecasting.backtest import mase, mase_scale
from scheduler.forecasting.base import (
    DEFAULT_LEVEL,
    Fitted,
    ForecastError,
    Prepared,
    prepare,
)
from scheduler.forecasting.baselines import Naive
from scheduler.forecasting.catalog import single_model
from scheduler.forecasting.shifts import detect_level_shift

MIN_POINTS = 10  # below this, naive is the only sensible forecast
DEFAULT_INNER_ORIGINS = 3
# More origins where the history holds them (a median over 3 is one origin's luck), and with a
# seasonal period longer than the backtest, enough to span one cycle; bounded for cost (chosen
# on the benchmark's tuning seeds and the NAB four: 5 / 6 / 8 gave 0.817 / 0.800 / 0.805 there).
MAX_INNER_ORIGINS = 6
# A combination is preferred unless a single model's backtest MASE is this much lower: on a
# few origins, the best single model is partly luck, and combinations generalise better.
DEFAULT_COMBINATION_BIAS = 0.1
# Naive and drift are candidates: after a level shift or on a random walk nothing beats the
# last value, and the median over several origins keeps a lucky origin from choosing them.
DEFAULT_CANDIDATES = ("naive", "drift", "snaive", "ets", "sarima", "mstl")
ALONE_ONLY = ("naive", "drift")
# The backtests disagree when the winner is this many times worse than naive at some origin
# without beating it on the median by `DISAGREEMENT_MARGIN`: the last value is then safer
# (seasonal naive is not a safe fallback: it repeats whatever the last cycle did).
DISAGREEMENT_RATIO = 1.5
DISAGREEMENT_MARGIN = 0.8
# Level shifts are looked for in the last SHIFT_WINDOW_HORIZONS horizons, with at least
# SHIFT_BEFORE_HORIZONS before the change (for the test's power) and one horizon after it (a
# spike is shorter); after one, the fit uses the values since it (too few to backtest on: ETS).
SHIFT_WINDOW_HORIZONS = 12
SHIFT_BEFORE_HORIZONS = 4
COMBINATION_SIZES = (2, 3)
# Training values needed before the first inner origin, in horizons (and at least MIN_POINTS).
MIN_TRAIN_HORIZONS = 2
CALIBRATION_BOUNDS = (0.7, 2.0)
CALIBRATION_WEIGHT = 0.5  # how far the interval scale moves from 1 towards the backtest's

FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


class Combination(Fitted):
    """The equal-weight average of fitted models: mean, lower and upper bounds averaged on the
    original scale (so the bounds are averaged quantiles)."""

    def __init__(self, members: Sequence[Fitted], prepared: Prepared) -> None:
        name = "combo[" + " | ".join(m.name for m in members) + "]"
        period = next((m.period for m in members if m.period), None)
        super().__init__(name, prepared, period)
        self.members = tuple(members)
        for member in members:
            self.notes.update({k: v for k, v in member.notes.items() if k not in self.notes})

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        forecasts = [m.forecast(horizon, level) for m in self.members]
        mean = np.mean([f.mean for f in forecasts], axis=0)
        lower = np.mean([f.lower for f in forecasts], axis=0)
        upper = np.mean([f.upper for f in forecasts], axis=0)
        return mean, lower, upper


@dataclass
class _Trial:
    """One entry's backtest: MASE per origin and (actual, mean, bound) on its interval scale."""

    members: tuple[str, ...]
    mase: list[float] = field(default_factory=list)
    # Per origin, (actual, mean, bound) of every step.
    residuals: list[list[tuple[float, float, float]]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "+".join(self.members)

    @property
    def score(self) -> float:
        """The median MASE over the origins (robust to one bad origin)."""
        return self.score_without(None)

    def score_without(self, origin: int | None) -> float:
        """The median MASE over the origins other than the `origin`-th."""
        finite = [v for i, v in enumerate(self.mase) if i != origin and math.isfinite(v)]
        return float(np.median(finite)) if finite else math.inf


def _residuals(
    actual: np.ndarray, mean: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> list[tuple[float, float, float]]:
    """(actual, mean, the bound on the actual's side) for every finite actual."""
    return [
        (float(a), float(m), float(u if a >= m else lo))
        for a, m, lo, u in zip(actual, mean, lower, upper, strict=True)
        if math.isfinite(a)
    ]


class Auto:
    """See the module docstring. `horizon` is the horizon the backtest scores (the one the
    caller will ask for)."""

    name = "auto"

    def __init__(
        self,
        horizon: int,
        *,
        candidates: Sequence[str] = DEFAULT_CANDIDATES,
        inner_origins: int = DEFAULT_INNER_ORIGINS,
        combine: bool = True,
        combination_bias: float = DEFAULT_COMBINATION_BIAS,
        level: float = DEFAULT_LEVEL,
        calibrate: bool = True,
        period_hints: Sequence[int] = (),
        detect_shifts: bool = True,
    ) -> None:
        if horizon < 1:
            raise ForecastError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.candidates = tuple(candidates)
        self.inner_origins = inner_origins
        self.combine = combine
        self.combination_bias = combination_bias
        self.level = level
        self.calibrate = calibrate
        self.period_hints = tuple(period_hints)
        self.detect_shifts = detect_shifts

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> Fitted:
        hints = tuple(period_hints) or self.period_hints
        return self.fit_prepared(prepare(series, hints), hints)

    def _forecaster(self, name: str, hints: Sequence[int]) -> Any:
        return single_model(name, hints)

    def eligible(self, prepared: Prepared) -> tuple[list[str], dict[str, str]]:
        """The candidates worth trying on this history, and why others are not."""
        n = len(prepared)
        skipped: dict[str, str] = {}
        usable = prepared.usable_periods()
        names: list[str] = []
        for name in self.candidates:
            if name == "mstl" and not usable:
                skipped[name] = (
                    "no seasonal period with two cycles in the history"
                    if prepared.periods
                    else "no seasonal period detected"
                )
            elif name == "sarima" and n < 3 * self.horizon:
                skipped[name] = f"{n} points: too short for ARIMA at horizon {self.horizon}"
            else:
                names.append(name)
        return names, skipped

    def inner_origin_list(self, n: int) -> list[int]:
        """Origins one horizon apart at the end of the history, keeping enough training
        before the first: as many as fit, at most `MAX_INNER_ORIGINS`
        and at least `inner_origins` where they fit."""
        min_train = max(MIN_POINTS, MIN_TRAIN_HORIZONS * self.horizon)
        count = max(self.inner_origins, min(MAX_INNER_ORIGINS, (n - min_train) // self.horizon))
        origins = [n - j * self.horizon for j in range(count, 0, -1)]
        return [o for o in origins if o >= min_train]

    def fit_prepared(self, prepared: Prepared, hints: Sequence[int] = ()) -> Fitted:
        hints = tuple(hints) or self.period_hints
        info: dict[str, Any] = {"points": len(prepared)}
        if self.detect_shifts and len(prepared) >= MIN_POINTS:
            prepared = self._since_level_shift(prepared, info)
        n = len(prepared)
        if n < MIN_POINTS:
            info["reason"] = f"short history: {n} points (< {MIN_POINTS}); naive forecast"
            return self._finish(Naive().fit_prepared(prepared), info)
        names, skipped = self.eligible(prepared)
        if skipped:
            info["skipped"] = skipped
        origins = self.inner_origin_list(n)
        if not names:
            info["reason"] = "no candidate suits this history; naive forecast"
            return self._finish(Naive().fit_prepared(prepared), info)
        if not origins:
            fallback = "ets" if "ets" in names else names[0]
            info["reason"] = (
                f"short history: {n} points, too few to backtest at horizon {self.horizon}; "
                f"{fallback} without selection"
            )
            return self._finish(self._fit_fallback(fallback, prepared, hints, info), info)
        trials, failures = self._backtest(prepared, names, origins, hints)
        if failures:
            info["failed"] = failures
        info["origins"] = origins
        info["backtest_mase"] = {t.label: round(t.score, 4) for t in trials}
        if not trials:
            info["reason"] = "every candidate failed the backtest; naive forecast"
            return self._finish(Naive().fit_prepared(prepared), info)
        best = min(trials, key=self._rank)
        info["reason"] = (
            f"lowest median MASE over {len(origins)} rolling origins at horizon {self.horizon}"
        )
        baseline = self._disagreeing_baseline(best, trials)
        if baseline is not None:
            info["reason"] += (
                f"; {best.label} was over {DISAGREEMENT_RATIO}x {baseline.label} at an origin "
                f"without a clear median gain: {baseline.label} instead"
            )
            best = baseline
        info["chosen"] = best.label
        try:
            members = [self._forecaster(m, hints).fit_prepared(prepared) for m in best.members]
        except FIT_ERRORS as exc:
            info["reason"] += f"; refitting {best.label} failed ({exc}), naive forecast"
            return self._finish(Naive().fit_prepared(prepared), info)
        fitted = members[0] if len(members) == 1 else Combination(members, prepared)
        if self.calibrate:
            fitted.interval_scale = self._interval_scale(self._held_out_residuals(trials, best))
            info["interval_scale"] = round(fitted.interval_scale, 3)
        return self._finish(fitted, info)

    def _backtest(
        self,
        prepared: Prepared,
        names: Sequence[str],
        origins: Sequence[int],
        hints: Sequence[int],
    ) -> tuple[list[_Trial], dict[str, str]]:
        """Every candidate at every origin, then the combinations of the best ones."""
        horizon, level = self.horizon, self.level
        scales = [mase_scale(prepared.values[:o], prepared.main_period) for o in origins]
        actuals = [prepared.raw[o : o + horizon] for o in origins]
        # Per candidate and origin: (mean, lower, upper) on the original scale.
        outputs: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        trials: list[_Trial] = []
        failures: dict[str, str] = {}
        for name in names:
            forecaster = self._forecaster(name, hints)
            trial = _Trial((name,))
            rows = []
            try:
                for origin, actual, scale in zip(origins, actuals, scales, strict=True):
                    fitted = forecaster.fit_prepared(prepared.head(origin))
                    forecast = fitted.forecast(horizon, level)
                    mean = np.asarray(forecast.mean)
                    rows.append((mean, np.asarray(forecast.lower), np.asarray(forecast.upper)))
                    trial.mase.append(mase(actual, mean, scale))
                    # A single model's intervals are calibrated on its own (maybe
                    # transformed) scale.
                    m, lo, up = fitted.predict_model_scale(horizon, level)
                    trial.residuals.append(_residuals(fitted.to_model_scale(actual), m, lo, up))
            except FIT_ERRORS as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
                continue
            if math.isfinite(trial.score):
                outputs[name] = rows
                trials.append(trial)
        if self.combine:
            # Naive and drift compete alone: averaged with a seasonal model they flatten its
            # cycle, and with each other they are nearly the same forecast twice.
            ranked = [
                t.members[0]
                for t in sorted(trials, key=lambda t: t.score)
                if t.members[0] not in ALONE_ONLY
            ]
            for size in COMBINATION_SIZES:
                if len(ranked) < size:
                    break
                members = tuple(ranked[:size])
                combo = _Trial(members)
                for i, (actual, scale) in enumerate(zip(actuals, scales, strict=True)):
                    mean, lower, upper = (
                        np.mean([outputs[m][i][k] for m in members], axis=0) for k in range(3)
                    )
                    combo.mase.append(mase(actual, mean, scale))
                    combo.residuals.append(_residuals(actual, mean, lower, upper))
                trials.append(combo)
        return trials, failures

    def _since_level_shift(self, prepared: Prepared, info: dict[str, Any]) -> Prepared:
        """The history since a recent level shift, when one is found with enough after it."""
        before = max(MIN_POINTS, SHIFT_BEFORE_HORIZONS * self.horizon)
        after = max(MIN_POINTS, self.horizon)
        window = max(SHIFT_WINDOW_HORIZONS * self.horizon, before + after)
        shift = detect_level_shift(prepared.filled, window, min_segment=before, min_after=after)
        if shift is None:
            return prepared
        info["level_shift"] = {
            "index": shift.index,
            "before": round(shift.before, 4),
            "after": round(shift.after, 4),
            "statistic": round(shift.statistic, 2),
        }
        return prepared.tail(len(prepared) - shift.index)

    @staticmethod
    def _disagreeing_baseline(best: _Trial, trials: Sequence[_Trial]) -> _Trial | None:
        """Naive's trial, when the winner's backtest disagrees with it badly."""
        baseline = next((t for t in trials if t.members == ("naive",)), None)
        if baseline is None or best is baseline:
            return None
        if best.score < DISAGREEMENT_MARGIN * baseline.score:
            return None
        worst = max(
            (b / a for b, a in zip(best.mase, baseline.mase, strict=True) if a > 0 and b >= 0),
            default=0.0,
        )
        return baseline if worst > DISAGREEMENT_RATIO else None

    def _rank(self, trial: _Trial, without: int | None = None) -> tuple[float, int]:
        bias = self.combination_bias if len(trial.members) > 1 else 0.0
        return trial.score_without(without) * (1.0 - bias), len(trial.members)

    def _held_out_residuals(
        self, trials: Sequence[_Trial], best: _Trial
    ) -> list[tuple[float, float, float]]:
        """Per inner origin, the residuals of the entry the other origins would have chosen
        (leave one origin out); with a single origin, the winner's own."""
        origins = len(best.residuals)
        if origins < 2:
            return [r for per_origin in best.residuals for r in per_origin]
        out: list[tuple[float, float, float]] = []
        for k in range(origins):
            chosen = min(trials, key=lambda t: self._rank(t, without=k))
            out.extend(chosen.residuals[k])
        return out

    def _fit_fallback(
        self, name: str, prepared: Prepared, hints: Sequence[int], info: dict[str, Any]
    ) -> Fitted:
        try:
            fitted: Fitted = self._forecaster(name, hints).fit_prepared(prepared)
            return fitted
        except FIT_ERRORS as exc:
            info["reason"] += f"; {name} failed ({exc}), naive forecast"
            return Naive().fit_prepared(prepared)

    def _interval_scale(self, residuals: Sequence[tuple[float, float, float]]) -> float:
        """Scale for the half-widths so that `level` of the backtest's errors fall inside."""
        ratios = []
        for actual, mean, bound in residuals:
            half = abs(bound - mean)
            if half > 0:
                ratios.append(abs(actual - mean) / half)
        if len(ratios) < 10:
            return 1.0
        needed = float(np.quantile(ratios, self.level))
        low, high = CALIBRATION_BOUNDS
        needed = min(max(needed, low), high)
        return float(math.exp(CALIBRATION_WEIGHT * math.log(needed)))

    @staticmethod
    def _finish(fitted: Fitted, info: dict[str, Any]) -> Fitted:
        fitted.notes["auto"] = info
        fitted.name = f"auto:{fitted.name}"
        return fitted
