"""Agents: a type of worker with versions, run as a set of replicas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from models.lifecycle import Lifecycle
from models.replica_health import (
    BreakerState,
    CircuitBreaker,
    HealthCheck,
    HealthStatus,
    LoadBalancing,
)


class ReplicaState(enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    DRAINING = "DRAINING"
    DEAD = "DEAD"


REPLICA_LIFECYCLE = Lifecycle(
    "replica",
    ReplicaState,
    {
        # Not answering (crashed, restarting): leased again once it answers.
        ReplicaState.STARTING: frozenset(
            {ReplicaState.READY, ReplicaState.DRAINING, ReplicaState.DEAD}
        ),
        ReplicaState.READY: frozenset(
            {ReplicaState.STARTING, ReplicaState.DRAINING, ReplicaState.DEAD}
        ),
        # Scaled back up before its drain finished: it serves again.
        ReplicaState.DRAINING: frozenset({ReplicaState.READY, ReplicaState.DEAD}),
        # A dead replica still holding leases stays in its set; when a rollout retires it, it
        # drains like the others, so it leaves the set once those leases end.
        ReplicaState.DEAD: frozenset({ReplicaState.DRAINING}),
    },
    field="state",
)


class AgentState(enum.Enum):
    DEPLOYING = "DEPLOYING"
    READY = "READY"
    DEGRADED = "DEGRADED"
    DELETING = "DELETING"
    # Its first deploy failed: nothing runs; shown until it is deployed again or deleted.
    FAILED = "FAILED"


@dataclass(frozen=True)
class ReplicaResources:
    """What one replica reserves from Ray (0 CPUs: no reservation, Ray's actor default)."""

    num_cpus: float = 0.0
    memory: int = 0
    num_gpus: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)


ENDPOINT_SCHEMES = ("http", "https", "grpc")


@dataclass(frozen=True)
class EndpointOptions:
    """How the proxy replicas of an external agent call its endpoint. Stored and shown as
    given: no secrets (``headers_from_env`` names a variable of the replica's environment)."""

    headers: dict[str, str] = field(default_factory=dict)
    headers_from_env: dict[str, str] = field(default_factory=dict)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 300.0
    poll_interval_s: float = 0.5
    max_poll_interval_s: float = 10.0


@dataclass(frozen=True)
class AgentSpec:
    name: str
    version: str
    # Exactly one of import_path (a Python class) and endpoint (an external service) is set.
    import_path: str = ""
    replicas: int = 1
    resources: ReplicaResources = field(default_factory=ReplicaResources)
    max_concurrency: int = 1
    capabilities: tuple[str, ...] = ()
    runtime_env: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    pool: str = ""  # resource pool the replicas run in ("" = anywhere in the cluster)
    health_check: HealthCheck = field(default_factory=HealthCheck)
    circuit_breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    load_balancing: LoadBalancing = field(default_factory=LoadBalancing)
    endpoint: str = ""  # http://, https:// or grpc:// service the replicas call
    endpoint_options: EndpointOptions = field(default_factory=EndpointOptions)


@dataclass(frozen=True)
class ReplicaInfo:
    name: str
    version: str
    state: ReplicaState
    outstanding_attempts: int = 0
    node_id: str = ""
    restarts: int = 0
    health: HealthStatus = HealthStatus.HEALTHY
    breaker: BreakerState = BreakerState.CLOSED
    # The last failed attempt or health probe ("ValueError: bad input"), and when (epoch s).
    last_error: str = ""
    last_error_time: float | None = None
    # Over the replica's recent attempts (None before the first one ends).
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    # How long the last answered health probe took.
    health_response_time_s: float | None = None
    health_change_time: float | None = None
    breaker_change_time: float | None = None

    @property
    def usable(self) -> bool:
        """READY, healthy and its breaker not open: it may be given new attempts."""
        return (
            self.state is ReplicaState.READY
            and self.health is HealthStatus.HEALTHY
            and self.breaker is not BreakerState.OPEN
        )


@dataclass(frozen=True)
class AgentRecord:
    """What the store keeps of a deployed agent; replica states come from the backend."""

    spec: AgentSpec
    create_time: float
    update_time: float


@dataclass(frozen=True)
class StartFailure:
    """Why replicas of an agent version did not start."""

    version: str
    summary: str  # one line, the root cause first
    detail: str  # the traceback (or Ray's report) without colour codes, bounded
    time: float


# -- rollouts: how a new version replaces the serving one (stored step by step)


class StrategyKind(enum.Enum):
    ROLLING = "ROLLING"  # replace replicas a few at a time (max_surge, max_unavailable)
    BLUE_GREEN = "BLUE_GREEN"  # the new set fully ready, then all traffic switches at once
    CANARY = "CANARY"  # a share of traffic in steps, analysed before each promotion


@dataclass(frozen=True)
class CanaryStep:
    """Send `weight_percent` of the agent's attempts to the new version for `hold_s`."""

    weight_percent: float
    hold_s: float


@dataclass(frozen=True)
class CanaryAnalysis:
    """When a canary step passes. The canary fails when its error rate exceeds the stable
    version's by more than `max_error_rate_increase`, or its p95 latency exceeds both
    `max_latency_ratio` x the stable p95 and the stable p95 + `min_latency_increase_s`. A
    step needs `min_attempts` finished canary attempts for a verdict: it holds until it has
    them, and fails as soon as it has them and the canary is worse. Latency is compared only
    over at least 20 successes of each version (a p95 of fewer is close to their maximum)."""

    max_error_rate_increase: float = 0.05
    max_latency_ratio: float = 1.5
    min_latency_increase_s: float = 0.05
    min_attempts: int = 20


DEFAULT_CANARY_STEPS = (CanaryStep(10.0, 60.0), CanaryStep(50.0, 60.0))


@dataclass(frozen=True)
class RolloutStrategy:
    """How DeployAgent rolls a new spec out. Counts are replicas ("2") or a share of the
    desired count ("25%"; surge rounds up, unavailable down), as in Kubernetes."""

    kind: StrategyKind = StrategyKind.ROLLING
    max_surge: str = "25%"
    max_unavailable: str = "0"
    # blue_green: how long the previous set stays up (without traffic) for an instant rollback.
    rollback_window_s: float = 300.0
    # canary: the weight steps before 100%, each held and analysed.
    steps: tuple[CanaryStep, ...] = DEFAULT_CANARY_STEPS
    analysis: CanaryAnalysis = field(default_factory=CanaryAnalysis)


@dataclass(frozen=True)
class VersionTarget:
    """What one version of an agent should run: `replicas` of `spec`, taking `weight` of the
    attempts (a share in [0, 1]); None: no split, attempts go to any usable replica."""

    spec: AgentSpec
    replicas: int
    weight: float | None = None


@dataclass(frozen=True)
class RolloutStep:
    """One step: the stable version's and the new version's replica counts and the new
    version's traffic share (None: by replicas), held for `hold_s`, analysed if `analyse`."""

    stable_replicas: int
    new_replicas: int
    new_weight: float | None = None
    hold_s: float = 0.0
    analyse: bool = False


class RolloutState(enum.Enum):
    PROGRESSING = "PROGRESSING"  # steps are being taken
    SUCCEEDED = "SUCCEEDED"  # the new version serves all traffic; the previous one is retired
    ROLLED_BACK = "ROLLED_BACK"  # the analysis failed or RollbackAgent aborted it
    FAILED = "FAILED"  # the new version's replicas did not start; the previous one serves


ROLLOUT_LIFECYCLE = Lifecycle(
    "agent rollout",
    RolloutState,
    {
        RolloutState.PROGRESSING: frozenset(
            {RolloutState.SUCCEEDED, RolloutState.ROLLED_BACK, RolloutState.FAILED}
        ),
        RolloutState.SUCCEEDED: frozenset(),
        RolloutState.ROLLED_BACK: frozenset(),
        RolloutState.FAILED: frozenset(),
    },
    field="state",
)


@dataclass(frozen=True)
class StepAnalysis:
    """The comparison behind a canary verdict, over the step so far."""

    canary_attempts: int
    canary_error_rate: float
    canary_p95_s: float | None
    stable_attempts: int
    stable_error_rate: float
    stable_p95_s: float | None
    verdict: str  # "pass", "fail" or "inconclusive"
    reason: str


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout of an agent, as stored. `step` indexes `steps`; the step's start time is
    when its targets were applied (the hold counts from then)."""

    rollout_id: str
    agent: str
    strategy: RolloutStrategy
    stable: AgentSpec | None  # None for a first deploy
    new: AgentSpec
    steps: tuple[RolloutStep, ...]
    step: int
    state: RolloutState
    create_time: float
    update_time: float
    step_start_time: float | None = None
    message: str = ""
    analysis: StepAnalysis | None = None

    @property
    def active(self) -> bool:
        return self.state is RolloutState.PROGRESSING

    @property
    def current(self) -> RolloutStep:
        return self.steps[min(self.step, len(self.steps) - 1)]


@dataclass(frozen=True)
class AgentView:
    record: AgentRecord
    state: AgentState
    replicas: list[ReplicaInfo]
    # The last failure to start replicas, until a deploy or scale of the agent succeeds.
    start_failure: StartFailure | None = None
    # The agent's rollout in progress, or else its latest one (None before any).
    rollout: RolloutRecord | None = None


class VersionState(enum.Enum):
    """Where one version of an agent stands in its catalogue."""

    ACTIVE = "ACTIVE"  # serves the agent's attempts
    CANARY = "CANARY"  # serves a share of them while it is analysed
    RETIRED = "RETIRED"  # served before a newer version replaced it; a rollback target
    ROLLED_BACK = "ROLLED_BACK"  # replaced by an older version it was rolled back to
    FAILED = "FAILED"  # its replicas did not start; it never served


@dataclass(frozen=True)
class VersionHealth:
    """How one version's attempts went over the last `window_s` seconds (finished attempts;
    lost and preempted ones are not the version's doing and are left out)."""

    window_s: float
    attempts: int = 0
    succeeded: int = 0
    p50_latency_s: float | None = None
    p95_latency_s: float | None = None

    @property
    def failed(self) -> int:
        return self.attempts - self.succeeded

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


@dataclass(frozen=True)
class AgentVersion:
    """One version in an agent's catalogue: the spec it was deployed with, and its state."""

    spec: AgentSpec
    state: VersionState
    create_time: float
    update_time: float
    health: VersionHealth | None = None
