"""The four policies the simulator compares, as controllers around the pure engine.

- `reactive`: HPA-style target tracking on in-flight requests per ready replica (equal to the
  utilisation while nothing queues, and growing with the queue, like Ray Serve's ongoing
  requests), with the HPA defaults: tolerance 0.1, no scale-up stabilisation, 300 s scale-down
  stabilisation, at most max(4 replicas, 100%) up and 100% down per 15 s evaluation.
- `predictive`: the same target tracking as a floor plus a predictive policy: the forecast
  upper bound of the arrival rate over the next lead time (start-up plus one evaluation period),
  sized at the measured service time and the target utilisation; scale-out wins. The forecast
  is refitted every `refit_every_s` of simulated time on the arrivals observed so far and
  reused in between, as the real control loop would.
- `static-peak`: a fixed pool sized for the trace's peak rate, ready from the start.
- `oracle`: the predictive policy alone, fed the true future arrival counts (a perfect
  forecast): the best this sizing rule can do with the same start-up delay.

`EngineController` is the thin shell of a control loop: it turns what the simulator observes
into a `ScalingObservation`, calls `engine.decide`, and keeps the engine state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from models.forecasting import Forecast, ScalingDecision, Series
from models.scaling import (
    HPA_SCALE_DOWN_LIMIT,
    HPA_SCALE_UP_LIMIT,
    PredictiveScaling,
    ScalingPolicy,
    TargetTracking,
)
from scheduler.scaling.arrivals import arrival_counts
from scheduler.scaling.capacity import replicas_for_rate
from scheduler.scaling.engine import EngineState, ScalingObservation, decide
from scheduler.scaling.simulation_inputs import PoolObservation, SimulationConfig

Forecaster = Callable[[Series, int], Forecast]
POLICY_NAMES = ("reactive", "predictive", "static-peak", "oracle")
AGENT = "simulated"


@dataclass(frozen=True)
class PolicySettings:
    """Knobs of the simulated policies (defaults: the benchmark's, the HPA's, and the CLI's;
    `max_replicas` and `history_steps` the CLI sets from the trace)."""

    target_utilization: float = 0.7
    metric: str = "in_flight"
    tolerance: float = 0.1
    scale_up_stabilization_s: float = 0.0
    scale_down_stabilization_s: float = 300.0
    min_replicas: int = 1
    max_replicas: int = 1000
    level: float = 0.5
    bound: str = "upper"
    lead_time_s: float | None = None  # None: start-up delay + one evaluation period
    refit_every_s: float = 3600.0
    history_steps: int | None = None  # the most recent steps given to the forecaster
    min_history_steps: int = 4
    # Predictive and oracle also size for P(wait > SLO) <= this by Erlang C (None: only the
    # utilisation target). Reactive cannot: target tracking knows no SLO.
    slo_max_violation: float | None = 0.01

    def lead_for(self, config: SimulationConfig) -> float:
        if self.lead_time_s is not None:
            return self.lead_time_s
        return config.startup_delay_s + config.evaluation_period_s

    def to_json(self, config: SimulationConfig) -> dict[str, Any]:
        return {
            "target_utilization": self.target_utilization,
            "reactive": {
                "metric": self.metric,
                "target": self.target_utilization,
                "tolerance": self.tolerance,
                "evaluation_period_s": config.evaluation_period_s,
                "scale_up_stabilization_s": self.scale_up_stabilization_s,
                "scale_down_stabilization_s": self.scale_down_stabilization_s,
                "scale_up_limit": "max(4 replicas, 100%) per evaluation",
                "scale_down_limit": "100% per evaluation",
            },
            "predictive": {
                "level": self.level,
                "bound": self.bound,
                "lead_time_s": self.lead_for(config),
                "refit_every_s": self.refit_every_s,
                "history_steps": self.history_steps,
                "min_history_steps": self.min_history_steps,
                "floor": "reactive (scale-out wins)",
                "slo_max_violation": self.slo_max_violation,
            },
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
        }


def peak_rate(trace: Series) -> float:
    """The largest request rate of the trace (requests/s)."""
    return max(trace.values) / trace.step_s if trace.values else 0.0


def service_time_for_peak(trace: Series, replicas: int = 20, target: float = 0.7) -> float:
    """The service time at which the trace's peak rate needs `replicas` at `target`."""
    peak = peak_rate(trace)
    if peak <= 0:
        raise ValueError("the trace has no load: cannot size a service time from its peak")
    return replicas * target / peak


def period_hints(step_s: float) -> tuple[int, ...]:
    """Daily and weekly periods in steps, where they are whole numbers of steps."""
    hints = []
    for seconds in (86_400.0, 604_800.0):
        steps = seconds / step_s
        if steps >= 2 and abs(steps - round(steps)) < 1e-9:
            hints.append(round(steps))
    return tuple(hints)


class ForecastSource(Protocol):
    def at(self, pool: PoolObservation) -> Forecast | None: ...


@dataclass
class RefittingForecast:
    """Refits `forecaster` on the observed arrival rate every `refit_every_s` and serves the
    same forecast in between (None until `min_history_steps` intervals are complete, or when
    the forecaster fails: the predictive policy then abstains)."""

    forecaster: Forecaster
    refit_every_s: float
    lead_time_s: float
    history_steps: int | None = None
    min_history_steps: int = 4
    refits: int = 0
    failures: int = 0
    last_error: str = ""
    models: dict[str, int] = field(default_factory=dict)
    _fitted_at: float | None = None
    _forecast: Forecast | None = None

    def at(self, pool: PoolObservation) -> Forecast | None:
        due = self._fitted_at is None or pool.time - self._fitted_at >= self.refit_every_s
        if not due or pool.complete_intervals < self.min_history_steps:
            return self._forecast
        first = 0
        if self.history_steps is not None:
            first = max(0, pool.complete_intervals - self.history_steps)
        step = pool.step_s
        counts = pool.arrival_counts[first : pool.complete_intervals]
        series = Series(
            start=pool.trace_start + first * step,
            step_s=step,
            values=tuple(c / step for c in counts),
            name="arrival_rate",
        )
        horizon = math.ceil((self.refit_every_s + self.lead_time_s) / step) + 2
        self._fitted_at = pool.time
        self.refits += 1
        try:
            self._forecast = self.forecaster(series, horizon)
        except Exception as exc:  # a failed fit must not stop the loop: reactive carries on
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._forecast = None
            return None
        self.models[self._forecast.model] = self.models.get(self._forecast.model, 0) + 1
        return self._forecast

    def notes(self) -> dict[str, Any]:
        notes: dict[str, Any] = {
            "forecast_refits": self.refits,
            "forecast_failures": self.failures,
            "forecast_models": dict(self.models),
        }
        if self.last_error:
            notes["forecast_last_error"] = self.last_error
        return notes


@dataclass
class FixedForecast:
    """The same forecast at every decision (the oracle's perfect one)."""

    forecast: Forecast

    def at(self, pool: PoolObservation) -> Forecast | None:
        return self.forecast


def perfect_forecast(trace: Series, seed: int) -> Forecast:
    """The arrival rate each interval will actually see (the simulator's seeded Poisson
    counts), as a forecast with no uncertainty."""
    rates = tuple((arrival_counts(trace, seed) / trace.step_s).tolist())
    return Forecast(
        model="oracle",
        period=None,
        timestamps=tuple(trace.timestamps()),
        mean=rates,
        lower=rates,
        upper=rates,
        level=1.0 - 1e-12,
    )


class EngineController:
    """The control loop's thin shell around `engine.decide`."""

    def __init__(
        self,
        name: str,
        policy: ScalingPolicy,
        initial: int,
        forecasts: ForecastSource | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._initial = initial
        self.forecasts = forecasts
        self.state = EngineState()

    def initial_replicas(self) -> int:
        return self._initial

    def decide(self, pool: PoolObservation) -> tuple[int, ScalingDecision | None]:
        metrics: dict[str, float] = {}
        if pool.utilization is not None:
            metrics["utilization"] = pool.utilization
        if pool.in_flight is not None:
            metrics["in_flight"] = pool.in_flight
        if pool.service_time_s is not None:
            metrics["service_time_s"] = pool.service_time_s
        observed = ScalingObservation(
            agent=self.policy.agent,
            replicas=pool.replicas,
            ready_replicas=pool.ready,
            metrics=metrics,
            forecast=self.forecasts.at(pool) if self.forecasts is not None else None,
            forecast_step_s=pool.step_s,
        )
        decision, self.state = decide(observed, self.policy, self.state, pool.time)
        return decision.desired, decision

    def notes(self) -> dict[str, Any]:
        notes = getattr(self.forecasts, "notes", None)
        return notes() if callable(notes) else {}


class StaticController:
    """A fixed pool."""

    def __init__(self, name: str, replicas: int) -> None:
        self.name = name
        self.replicas = replicas

    def initial_replicas(self) -> int:
        return self.replicas

    def decide(self, pool: PoolObservation) -> tuple[int, ScalingDecision | None]:
        return self.replicas, None

    def notes(self) -> dict[str, Any]:
        return {}


def reactive_policy(settings: PolicySettings) -> ScalingPolicy:
    return ScalingPolicy(
        agent=AGENT,
        min_replicas=settings.min_replicas,
        max_replicas=settings.max_replicas,
        target_tracking=(
            TargetTracking(
                metric=settings.metric,
                target=settings.target_utilization,
                tolerance=settings.tolerance,
                scale_up_stabilization_s=settings.scale_up_stabilization_s,
                scale_down_stabilization_s=settings.scale_down_stabilization_s,
            ),
        ),
        scale_out_limit=HPA_SCALE_UP_LIMIT,
        scale_in_limit=HPA_SCALE_DOWN_LIMIT,
    )


def predictive_config(
    settings: PolicySettings, config: SimulationConfig, *, oracle: bool = False
) -> PredictiveScaling:
    return PredictiveScaling(
        target_utilization=settings.target_utilization,
        lead_time_s=settings.lead_for(config),
        level=settings.level,
        bound="upper" if settings.bound == "upper" else "mean",
        service_time_s=config.service_time_s if oracle else None,
        slo_wait_s=config.slo_wait_s if settings.slo_max_violation is not None else None,
        max_violation=settings.slo_max_violation or 0.01,
        name="oracle" if oracle else "predictive",
    )


def _clamp(replicas: int, settings: PolicySettings) -> int:
    return min(max(replicas, settings.min_replicas), settings.max_replicas)


def make_controller(
    name: str,
    trace: Series,
    config: SimulationConfig,
    settings: PolicySettings | None = None,
    forecaster: Forecaster | None = None,
) -> EngineController | StaticController:
    """One of `POLICY_NAMES`; `predictive` needs a forecaster."""
    settings = settings or PolicySettings()
    target = settings.target_utilization
    first_rate = trace.values[0] / trace.step_s if trace.values else 0.0
    initial = _clamp(replicas_for_rate(first_rate, config.service_time_s, target), settings)
    if name == "static-peak":
        peak = replicas_for_rate(peak_rate(trace), config.service_time_s, target)
        return StaticController(name, _clamp(peak, settings))
    if name == "reactive":
        return EngineController(name, reactive_policy(settings), initial)
    if name == "predictive":
        if forecaster is None:
            raise ValueError("the predictive policy needs a forecaster")
        policy = replace(reactive_policy(settings), predictive=predictive_config(settings, config))
        source = RefittingForecast(
            forecaster,
            refit_every_s=settings.refit_every_s,
            lead_time_s=settings.lead_for(config),
            history_steps=settings.history_steps,
            min_history_steps=settings.min_history_steps,
        )
        return EngineController(name, policy, initial, source)
    if name == "oracle":
        policy = ScalingPolicy(
            agent=AGENT,
            min_replicas=settings.min_replicas,
            max_replicas=settings.max_replicas,
            predictive=predictive_config(settings, config, oracle=True),
        )
        forecast = perfect_forecast(trace, config.seed)
        first = replicas_for_rate(
            float(np.max(forecast.mean[:1])) if forecast.mean else 0.0,
            config.service_time_s,
            target,
        )
        return EngineController(name, policy, _clamp(first, settings), FixedForecast(forecast))
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
