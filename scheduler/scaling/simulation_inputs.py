"""What the autoscaling simulator takes: its settings, and the controller it asks at every
evaluation period (what the controller observes, and the replica count it answers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from models.forecasting import ScalingDecision

ServiceDistribution = Literal["deterministic", "exponential"]


@dataclass(frozen=True)
class SimulationConfig:
    service_time_s: float
    startup_delay_s: float = 120.0
    slo_wait_s: float = 2.0
    evaluation_period_s: float = 15.0
    service_distribution: ServiceDistribution = "deterministic"
    seed: int = 0
    max_batch_periods: int = 256  # speed only: the results do not depend on it

    def __post_init__(self) -> None:
        if not self.service_time_s > 0:
            raise ValueError(f"service_time_s must be > 0, got {self.service_time_s}")
        if self.startup_delay_s < 0:
            raise ValueError(f"startup_delay_s must be >= 0, got {self.startup_delay_s}")
        if self.slo_wait_s < 0:
            raise ValueError(f"slo_wait_s must be >= 0, got {self.slo_wait_s}")
        if not self.evaluation_period_s > 0:
            raise ValueError("evaluation_period_s must be > 0")
        if self.service_distribution not in ("deterministic", "exponential"):
            raise ValueError(f"unknown service distribution {self.service_distribution!r}")
        if self.max_batch_periods < 1:
            raise ValueError("max_batch_periods must be >= 1")


@dataclass(slots=True)
class PoolObservation:
    """What a controller sees at a decision time (a fresh one per decision; read it, never
    change it: not frozen only because frozen dataclasses are slow to build, and one is built
    every evaluation period). `arrival_counts` holds the arrivals of trace interval i at index
    i; only the first `complete_intervals` are in the past."""

    time: float
    replicas: int  # ready + starting
    ready: int
    utilization: float | None  # busy share of the ready replicas over the last period
    in_flight: float | None  # requests in service or queued per ready replica, time-averaged
    service_time_s: float | None  # mean service time of the requests started so far
    queue_length: int
    trace_start: float
    step_s: float
    arrival_counts: Sequence[float]
    complete_intervals: int


class Controller(Protocol):
    """A scaling policy as the simulator drives it."""

    name: str

    def initial_replicas(self) -> int: ...

    def decide(self, pool: PoolObservation) -> tuple[int, ScalingDecision | None]: ...
