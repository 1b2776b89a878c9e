"""Agents: a type of worker with versions, run as a set of replicas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.lifecycle import Lifecycle
from models.replica_health import (
    BreakerState,
    CircuitBreaker,
    HealthCheck,
    HealthStatus,
    LoadBalancing,
)

if TYPE_CHECKING:
    from models.rollouts import RolloutRecord


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


class RolloutPhase(enum.Enum):
    """Where the rollout of an agent spec (a new version, or a changed one) stands."""

    STARTING = "STARTING"  # stored; its replicas start while the previous ones keep serving
    SERVING = "SERVING"  # its replicas are ready; the previous ones drain and stop
    ROLLING_BACK = "ROLLING_BACK"  # a replica failed to start: the previous spec is restored
    ROLLED_BACK = "ROLLED_BACK"  # the previous spec is stored and deployed again
    WITHDRAWN = "WITHDRAWN"  # there was no previous spec: the agent is removed again


ROLLOUT_LIFECYCLE = Lifecycle(
    "agent version rollout",
    RolloutPhase,
    {
        RolloutPhase.STARTING: frozenset({RolloutPhase.SERVING, RolloutPhase.ROLLING_BACK}),
        RolloutPhase.ROLLING_BACK: frozenset({RolloutPhase.ROLLED_BACK, RolloutPhase.WITHDRAWN}),
        RolloutPhase.SERVING: frozenset(),
        RolloutPhase.ROLLED_BACK: frozenset(),
        RolloutPhase.WITHDRAWN: frozenset(),
    },
    field="phase",
)


@dataclass(frozen=True)
class Rollout:
    """One deploy of an agent spec, from the moment it is stored until it serves or the
    previous spec is back."""

    agent: str
    version: str
    phase: RolloutPhase = RolloutPhase.STARTING


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
