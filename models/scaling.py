"""Scaling policies of one agent: what the engine (`scheduler.scaling.engine`) evaluates.

A `ScalingPolicy` holds the replica bounds, the engine-wide limits (cooldowns, largest step per
decision) and any combination of:

- `TargetTracking`: keep a per-replica metric at a target, as the Kubernetes HPA does
  (desired = ceil(ready x value / target), a tolerance band, separate scale-up and scale-down
  stabilisation windows);
- `StepScaling`: a metric's band picks an adjustment (change, percent, or exact count), as AWS
  step scaling does;
- `ScheduledCapacity`: a cron expression opens a window of `duration_s` during which the agent
  wants `replicas` (KEDA's cron scaler);
- `PredictiveScaling`: replicas for the forecast upper bound of the arrival rate over the next
  `lead_time_s`, at the measured service time and a target utilisation.

Each policy recommends a replica count or abstains; the engine combines them (scale-out wins
with the largest; otherwise the smallest scale-in). Pure dataclasses, validated on creation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from models.cron import CronExpr
from models.forecasting import FittedForecast, ScalingDecision

AdjustmentType = Literal["change", "percent", "exact"]
Bound = Literal["upper", "mean"]


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise ValueError(f"{kind}: name must not be empty")


@dataclass(frozen=True)
class TargetTracking:
    """HPA-style target tracking on `metric` (a per-replica average, e.g. utilisation 0..1 or
    in-flight requests per replica). The Kubernetes defaults: tolerance 0.1, no scale-up
    stabilisation, 300 s scale-down stabilisation."""

    metric: str = "utilization"
    target: float = 0.7
    tolerance: float = 0.1
    scale_up_stabilization_s: float = 0.0
    scale_down_stabilization_s: float = 300.0
    name: str = "target"

    def __post_init__(self) -> None:
        _check_name("target tracking", self.name)
        if not self.target > 0:
            raise ValueError(f"{self.name}: target must be > 0, got {self.target}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"{self.name}: tolerance must be in [0, 1), got {self.tolerance}")
        if self.scale_up_stabilization_s < 0 or self.scale_down_stabilization_s < 0:
            raise ValueError(f"{self.name}: stabilisation windows must be >= 0")


@dataclass(frozen=True)
class ScalingStep:
    """Applies when lower <= metric < upper (None: unbounded on that side)."""

    adjustment: float
    lower: float | None = None
    upper: float | None = None

    def contains(self, value: float) -> bool:
        return (self.lower is None or value >= self.lower) and (
            self.upper is None or value < self.upper
        )


@dataclass(frozen=True)
class StepScaling:
    """The step whose band holds the metric's value sets the adjustment: `change` adds
    replicas, `percent` adds that percent of the current count (rounded toward zero, at least
    `min_adjustment_magnitude`), `exact` sets the count. No step holds the value: abstain."""

    metric: str
    steps: tuple[ScalingStep, ...]
    adjustment_type: AdjustmentType = "change"
    min_adjustment_magnitude: int = 1
    name: str = "step"

    def __post_init__(self) -> None:
        _check_name("step scaling", self.name)
        if not self.steps:
            raise ValueError(f"{self.name}: at least one step is needed")
        if self.adjustment_type not in ("change", "percent", "exact"):
            raise ValueError(f"{self.name}: unknown adjustment type {self.adjustment_type!r}")
        if self.min_adjustment_magnitude < 0:
            raise ValueError(f"{self.name}: min_adjustment_magnitude must be >= 0")
        for step in self.steps:
            if step.lower is not None and step.upper is not None and step.lower >= step.upper:
                raise ValueError(f"{self.name}: step [{step.lower}, {step.upper}) is empty")
            if self.adjustment_type == "exact" and step.adjustment < 0:
                raise ValueError(f"{self.name}: an exact count must be >= 0")
        ordered = sorted(self.steps, key=lambda s: float("-inf") if s.lower is None else s.lower)
        for a, b in itertools.pairwise(ordered):
            a_upper = float("inf") if a.upper is None else a.upper
            b_lower = float("-inf") if b.lower is None else b.lower
            if b_lower < a_upper:
                raise ValueError(f"{self.name}: steps overlap at {b_lower}")


@dataclass(frozen=True)
class ScheduledCapacity:
    """From each minute matching `cron` for `duration_s`, recommend `replicas`.

    Times are read at `utc_offset_s` from UTC (fixed offset, no daylight-saving rules)."""

    cron: str
    duration_s: float
    replicas: int
    name: str = "scheduled"
    utc_offset_s: float = 0.0

    def __post_init__(self) -> None:
        _check_name("scheduled capacity", self.name)
        CronExpr.parse(self.cron)  # raises CronError (a ValueError) naming the field
        if not self.duration_s > 0:
            raise ValueError(f"{self.name}: duration_s must be > 0")
        if self.replicas < 0:
            raise ValueError(f"{self.name}: replicas must be >= 0")

    @cached_property
    def expr(self) -> CronExpr:
        return CronExpr.parse(self.cron)


@dataclass(frozen=True)
class PredictiveScaling:
    """Replicas for the forecast of the arrival rate (requests/s) over [now, now + lead_time_s]:
    ceil(max bound x service time / (target_utilization x concurrency)), with the `upper`
    bound (default) or the `mean`. The lead time should cover replica start-up plus one
    evaluation period, so that replicas asked for now are ready when the load arrives.

    `level` is the central interval the control loop asks the forecaster for (the engine reads
    the bounds of the forecast it is given). `service_time_s` None: the observation's
    `service_time_s` metric (measured). With `slo_wait_s`, also at least the M/M/c (Erlang C)
    count for P(wait > slo) <= max_violation.
    """

    target_utilization: float = 0.7
    lead_time_s: float = 135.0
    level: float = 0.9
    bound: Bound = "upper"
    service_time_s: float | None = None
    concurrency: int = 1
    slo_wait_s: float | None = None
    max_violation: float = 0.01
    name: str = "predictive"

    def __post_init__(self) -> None:
        _check_name("predictive", self.name)
        if not 0 < self.target_utilization <= 1:
            raise ValueError(f"{self.name}: target_utilization must be in (0, 1]")
        if self.lead_time_s < 0:
            raise ValueError(f"{self.name}: lead_time_s must be >= 0")
        if not 0 < self.level < 1:
            raise ValueError(f"{self.name}: level must be in (0, 1)")
        if self.bound not in ("upper", "mean"):
            raise ValueError(f"{self.name}: bound must be 'upper' or 'mean'")
        if self.service_time_s is not None and not self.service_time_s > 0:
            raise ValueError(f"{self.name}: service_time_s must be > 0")
        if self.concurrency < 1:
            raise ValueError(f"{self.name}: concurrency must be >= 1")
        if self.slo_wait_s is not None and self.slo_wait_s < 0:
            raise ValueError(f"{self.name}: slo_wait_s must be >= 0")
        if not 0 < self.max_violation < 1:
            raise ValueError(f"{self.name}: max_violation must be in (0, 1)")


@dataclass(frozen=True)
class ScaleLimit:
    """The largest change one decision may make: `replicas` and/or `percent` of the current
    count; with both, the larger allowance wins (the HPA's `selectPolicy: Max`). Neither:
    unlimited."""

    replicas: int | None = None
    percent: float | None = None

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replicas < 0:
            raise ValueError("scale limit replicas must be >= 0")
        if self.percent is not None and self.percent < 0:
            raise ValueError("scale limit percent must be >= 0")

    def allowance(self, current: int) -> int | None:
        """How many replicas one decision may add or remove from `current` (None: any)."""
        options = []
        if self.replicas is not None:
            options.append(self.replicas)
        if self.percent is not None:
            options.append(int(current * self.percent / 100.0 + 1e-9))
        return max(options) if options else None


# The HPA's default behaviour: up by max(4 pods, 100%) and down by 100% per evaluation.
HPA_SCALE_UP_LIMIT = ScaleLimit(replicas=4, percent=100.0)
HPA_SCALE_DOWN_LIMIT = ScaleLimit(percent=100.0)


@dataclass(frozen=True)
class ScalingPolicy:
    """Everything the engine needs to decide one agent's replica count."""

    agent: str
    min_replicas: int = 1
    max_replicas: int = 10
    target_tracking: tuple[TargetTracking, ...] = ()
    step_scaling: tuple[StepScaling, ...] = ()
    scheduled: tuple[ScheduledCapacity, ...] = ()
    predictive: PredictiveScaling | None = None
    scale_out_limit: ScaleLimit = ScaleLimit()
    scale_in_limit: ScaleLimit = ScaleLimit()
    # No scale-out within this long of the last scale-out; no scale-in within this long of
    # the last scaling event of either direction (capacity just added is not removed at once).
    scale_out_cooldown_s: float = 0.0
    scale_in_cooldown_s: float = 0.0

    def __post_init__(self) -> None:
        if self.min_replicas < 0:
            raise ValueError(f"{self.agent}: min_replicas must be >= 0")
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"{self.agent}: max_replicas {self.max_replicas} < min_replicas {self.min_replicas}"
            )
        if self.scale_out_cooldown_s < 0 or self.scale_in_cooldown_s < 0:
            raise ValueError(f"{self.agent}: cooldowns must be >= 0")
        names = [
            *(t.name for t in self.target_tracking),
            *(s.name for s in self.step_scaling),
            *(s.name for s in self.scheduled),
            *([self.predictive.name] if self.predictive else []),
        ]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{self.agent}: policy names must be unique: {duplicates}")


@dataclass(frozen=True)
class PolicyView:
    policy: ScalingPolicy
    create_time: float
    update_time: float


@dataclass(frozen=True)
class ScalingEvent:
    """A recorded decision; `error` says why acting on it failed ("" when it did not)."""

    event_id: int
    decision: ScalingDecision
    error: str = ""

    @property
    def action(self) -> str:
        """One of hold, scale_out or scale_in."""
        change = self.decision.change
        return "hold" if change == 0 else "scale_out" if change > 0 else "scale_in"


@dataclass(frozen=True)
class ScalingStatus:
    agent: str
    has_policy: bool
    current: int
    ready: int
    desired: int
    last_decision_time: float | None
    decisions: list[ScalingEvent]
    forecast: FittedForecast | None
    forecast_error: str
    actuation_error: str
    evaluation_period_s: float
