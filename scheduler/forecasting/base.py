"""The forecaster interface every model implements, and the preparation they share.

A `Forecaster` turns a `Series` into a `FittedModel` (`fit(series, period_hints)`); a fitted
model answers `forecast(horizon, level) -> Forecast` for the steps after the series' last value,
as often as asked and cheaply (fitting is the expensive part: callers fit on a schedule, off any
request path, and keep using the last fitted model).

Preparation is the same for every model and happens once per fit (`prepare`): keep the last
`max_points` values, detect the seasonal periods (with the caller's hints), fill gaps, replace
outliers and choose a Box-Cox transform. `auto` prepares once and hands the same `Prepared`
to every candidate (through `fit_prepared`, which every forecaster has besides `fit`).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import stats

from models.forecasting import Forecast, Series
from scheduler.forecasting import cleaning, periods
from scheduler.forecasting.transform import BoxCox, choose_boxcox

DEFAULT_LEVEL = 0.9
# Six weekly cycles at 30-minute steps, a week at 5-minute steps: fitting time grows with the
# window, accuracy barely does beyond a few cycles.
DEFAULT_MAX_POINTS = 2016


class ForecastError(ValueError):
    """The series cannot be forecast as asked (empty, all gaps, bad horizon or level)."""


@dataclass(frozen=True)
class Prepared:
    """A series ready for fitting: a window of gap-free, outlier-replaced values."""

    values: np.ndarray  # cleaned: gaps filled, outliers replaced
    filled: np.ndarray  # gaps filled only (what the baselines repeat)
    raw: np.ndarray  # the window as given (NaN at gaps)
    step_s: float
    end: float  # timestamp of the last value
    periods: tuple[int, ...]  # detected seasonal periods in steps, ascending
    main_period: int | None  # the strongest of them
    transform: BoxCox | None = None  # applied by the statistical models, not the baselines
    notes: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def model_values(self) -> np.ndarray:
        """The cleaned values on the scale models fit on (Box-Cox transformed if chosen)."""
        if self.transform is None:
            return self.values
        return self.transform.forward(self.values)

    def head(self, n: int) -> Prepared:
        """The first n values, with the same periods and transform (for rolling origins
        inside a fit)."""
        return replace(
            self,
            values=self.values[:n],
            filled=self.filled[:n],
            raw=self.raw[:n],
            end=self.end - (len(self.values) - n) * self.step_s,
        )

    def tail(self, n: int) -> Prepared:
        """The last n values, with the same periods and transform (the history since a level
        shift)."""
        return replace(self, values=self.values[-n:], filled=self.filled[-n:], raw=self.raw[-n:])

    def usable_periods(self, min_cycles: float = 2.0) -> tuple[int, ...]:
        """Periods with at least `min_cycles` full cycles in the window."""
        return tuple(p for p in self.periods if len(self.values) >= min_cycles * p)


def prepare(
    series: Series,
    period_hints: Sequence[int] = (),
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    clean_outliers: bool = True,
    transform: bool = True,
) -> Prepared:
    """Window, detect periods, fill gaps, replace outliers (see `cleaning.clean`) and choose a
    Box-Cox transform (see `transform.choose_boxcox`)."""
    raw = np.asarray(series.values, dtype=float)
    if raw.size == 0:
        raise ForecastError(f"series {series.name!r} is empty")
    if max_points > 0 and raw.size > max_points:
        raw = raw[-max_points:]
    finite = np.isfinite(raw)
    if not finite.any():
        raise ForecastError(f"series {series.name!r} has no finite value")
    # Leading gaps carry no information: drop them.
    raw = raw[int(np.argmax(finite)) :]
    notes: dict[str, Any] = {}
    report = periods.detect_periods(cleaning.fill_gaps(raw), series.step_s, hints=period_hints)
    notes["periods"] = report.to_json()
    cleaned = cleaning.clean(raw, report.main, outliers=clean_outliers)
    if cleaned.notes:
        notes["cleaning"] = cleaned.notes
    boxcox = choose_boxcox(cleaned.values, report.main) if transform else None
    if boxcox is not None:
        notes["transform"] = boxcox.label
    return Prepared(
        values=cleaned.values,
        filled=cleaning.fill_gaps(raw, report.main),
        raw=raw,
        step_s=series.step_s,
        end=series.end,
        periods=report.periods,
        main_period=report.main,
        transform=boxcox,
        notes=notes,
    )


def check_request(horizon: int, level: float) -> None:
    if not isinstance(horizon, int) or horizon < 1:
        raise ForecastError(f"horizon must be a positive integer, got {horizon!r}")
    if not 0.0 < level < 1.0:
        raise ForecastError(f"level must be within (0, 1), got {level!r}")


def z_value(level: float) -> float:
    """The standard normal quantile of a central interval at `level` (0.9 -> 1.645)."""
    return float(stats.norm.ppf(0.5 + level / 2.0))


@runtime_checkable
class FittedModel(Protocol):
    """A model fitted on a series: forecasts the steps after its last value."""

    @property
    def name(self) -> str: ...

    @property
    def period(self) -> int | None: ...

    def forecast(self, horizon: int, level: float = DEFAULT_LEVEL) -> Forecast: ...


@runtime_checkable
class Forecaster(Protocol):
    """Fits one kind of model."""

    name: str

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> FittedModel: ...


class Fitted(ABC):
    """Common part of the fitted models: timestamps, interval checks, the `Forecast` value."""

    def __init__(
        self,
        name: str,
        prepared: Prepared,
        period: int | None,
        notes: dict[str, Any] | None = None,
        *,
        transformed: bool = False,
    ) -> None:
        self._name = name
        self._period = period
        self.step_s = prepared.step_s
        self.end = prepared.end
        self.notes: dict[str, Any] = {**prepared.notes, **(notes or {})}
        # Set when the model fitted `prepared.model_values`: predictions are transformed back.
        self.transform = prepared.transform if transformed else None
        # Multiplies the half-width of every interval on the model's scale (auto calibrates
        # it on its backtest).
        self.interval_scale = 1.0

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def period(self) -> int | None:
        return self._period

    @abstractmethod
    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """mean, lower, upper for steps 1..horizon, on the model's scale."""

    def predict_model_scale(
        self, horizon: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`predict` with the interval scale applied, still on the model's scale."""
        with quiet():
            mean, lower, upper = self.predict(horizon, level)
        mean = np.asarray(mean, dtype=float)
        lower = np.minimum(np.asarray(lower, dtype=float), mean)
        upper = np.maximum(np.asarray(upper, dtype=float), mean)
        if self.interval_scale != 1.0:
            lower = mean - self.interval_scale * (mean - lower)
            upper = mean + self.interval_scale * (upper - mean)
        return mean, lower, upper

    def to_model_scale(self, values: np.ndarray) -> np.ndarray:
        return values if self.transform is None else self.transform.forward(values)

    def forecast(self, horizon: int, level: float = DEFAULT_LEVEL) -> Forecast:
        check_request(horizon, level)
        mean, lower, upper = self.predict_model_scale(horizon, level)
        if self.transform is not None:
            mean, lower, upper = (self.transform.inverse(v) for v in (mean, lower, upper))
        if not (np.isfinite(mean).all() and np.isfinite(lower).all() and np.isfinite(upper).all()):
            raise ForecastError(f"{self.name} produced a non-finite forecast")
        return Forecast(
            model=self.name,
            period=self.period,
            timestamps=tuple(self.end + (i + 1) * self.step_s for i in range(horizon)),
            mean=tuple(float(v) for v in mean),
            lower=tuple(float(v) for v in lower),
            upper=tuple(float(v) for v in upper),
            level=level,
            notes=dict(self.notes),
        )


@contextmanager
def quiet() -> Iterator[None]:
    """Silence statsmodels' convergence and frequency warnings and numpy's floating point
    warnings around a fit or a prediction (a failed fit raises and is handled by the caller)."""
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        EstimationWarning,
        InterpolationWarning,
        ValueWarning,
    )

    categories = (
        ConvergenceWarning,
        EstimationWarning,
        InterpolationWarning,
        ValueWarning,
        RuntimeWarning,
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        for category in categories:
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", module="statsmodels")
        # statsmodels 0.15 announces a new return type of kpss and adfuller; the tuple is what
        # we read (0.14 has no other).
        warnings.filterwarnings("ignore", message="kpss", category=FutureWarning)
        warnings.filterwarnings("ignore", message="adfuller", category=FutureWarning)
        yield


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS limited to one thread while fitting. The matrices of these models are tiny, and a
    multi-threaded BLAS spends more time synchronising than computing: state-space fits run
    up to 10x faster on one thread, especially on a busy machine. (The limit is process-wide
    while it lasts, so the entry points apply it around whole fits, not inside models.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
