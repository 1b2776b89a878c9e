"""Load series, forecasts and scaling decisions: the pure inputs and outputs of every
forecaster and scaling policy (standard library only).

Times are seconds since the epoch (floats); a series is regularly spaced at `step_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# The forecasting models by name: the single models, and `auto`, which picks among them by
# rolling-origin backtests.
SINGLE_MODELS = ("naive", "drift", "snaive", "ets", "hw", "sarima", "sarimax", "mstl")
MODEL_NAMES = ("auto", *SINGLE_MODELS)


@dataclass(frozen=True)
class Series:
    """A regularly spaced series: value i is at `start + i * step_s`. NaN marks a gap."""

    start: float
    step_s: float
    values: tuple[float, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            raise ValueError(f"series {self.name!r}: step_s must be > 0")

    def __len__(self) -> int:
        return len(self.values)

    def timestamps(self) -> list[float]:
        return [self.start + i * self.step_s for i in range(len(self.values))]

    @property
    def end(self) -> float:
        """Timestamp of the last value."""
        return self.start + (len(self.values) - 1) * self.step_s


@dataclass(frozen=True)
class Forecast:
    """The `horizon` steps after the series' last value: mean and a central interval at
    `level` (e.g. 0.9: 5% below `lower`, 5% above `upper`)."""

    model: str  # the model that produced it, e.g. "ets(add,add,24)" or "snaive(48)"
    period: int | None  # the main seasonal period used, in steps (None: none)
    timestamps: tuple[float, ...]
    mean: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    level: float
    # Why this model (auto selection scores, fallbacks on short or gappy histories, ...).
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return len(self.mean)


@dataclass(frozen=True)
class ScalingDecision:
    """One decision of the policy engine for one agent, with its reason and inputs."""

    agent: str
    time: float
    current: int
    desired: int
    policy: str  # which policy won ("target", "step", "scheduled", "predictive", "clamp", ...)
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> int:
        return self.desired - self.current


@dataclass(frozen=True)
class FittedForecast:
    agent: str
    forecast: Forecast
    requested_model: str
    step_s: float
    fit_time: float  # by the control plane's clock
    fit_duration_s: float
    history_points: int  # non-gap values fitted on
    history_end: float  # timestamp of the last fitted value

    def end(self) -> float:
        """Where the last forecast step ends."""
        stamps = self.forecast.timestamps
        return (stamps[-1] + self.step_s) if stamps else self.history_end + self.step_s

    def until(self, horizon_end: float) -> FittedForecast:
        """The steps that start before `horizon_end`."""
        keep = sum(1 for t in self.forecast.timestamps if t < horizon_end)
        f = self.forecast
        return replace(
            self,
            forecast=replace(
                f,
                timestamps=f.timestamps[:keep],
                mean=f.mean[:keep],
                lower=f.lower[:keep],
                upper=f.upper[:keep],
            ),
        )
