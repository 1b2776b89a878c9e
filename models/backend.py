"""Values and errors exchanged between the engine and a backend through the ports the engine
owns (`controlplane.ports`): attempt requests and outcomes, replica leases, capacity requests."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.executions import ErrorInfo
from models.resources import PlacementStrategy, ResourceAmounts


class AgentUnavailable(Exception):
    """The agent is not deployed (or was deleted) so no replica can be leased."""


class NoUsableReplica(Exception):
    """Every replica of the agent was unusable (unhealthy, circuit-broken, not ready) for as
    long as the attempt may wait; the message says why each one is."""


class ReplicaStartError(RuntimeError):
    """Replicas of an agent did not start. `summary` is one line with the root cause first
    (``"ValueError: api_key is required (in MyAgent.__init__, my_agents.py:12)"``); `detail`
    is the traceback or the cluster's report, bounded, without colour codes ("" if none);
    `field` is the spec field to fix ("agent" when it is not one field)."""

    def __init__(self, summary: str, detail: str = "", field: str = "agent") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class ReplicaLease:
    """One concurrency slot on one replica, held from dispatch until the attempt ends."""

    agent: str
    replica: str
    agent_version: str


@dataclass(frozen=True)
class AttemptRequest:
    execution_id: str
    task_id: str
    attempt: int
    input: Any
    # The details of the task's last heartbeat in an earlier attempt (context["last_heartbeat"]).
    last_heartbeat: dict[str, Any] | None = None
    # When the engine gives up on the attempt (epoch seconds; None: the task has no timeout).
    deadline: float | None = None


# Hears one heartbeat of an attempt in flight: its details, or None for a heartbeat without.
HeartbeatListener = Callable[[dict[str, Any] | None], None]


@dataclass(frozen=True)
class AttemptOutcome:
    ok: bool
    output: Any = None
    error: ErrorInfo | None = None
    # The replica process died during the attempt (the backend restarts it).
    replica_crashed: bool = False
    # It died with its node (Ray declared the node dead): the attempt is lost, not failed, and
    # runs again without being charged to the retry policy.
    node_lost: bool = False
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # False: the agent says a retry cannot help (an HTTP 400), whatever the retry policy says.
    retryable: bool = True
    # The agent asked for at least this long before the next attempt (HTTP Retry-After).
    retry_after_s: float | None = None


class ReplicaChange(enum.Enum):
    HEALTH = "HEALTH"  # before / after: a HealthStatus value
    BREAKER = "BREAKER"  # before / after: a BreakerState value
    STARTED = "STARTED"  # a new replica is READY
    STOPPED = "STOPPED"  # a replica is DEAD (drained and stopped, removed, or gone)


@dataclass(frozen=True)
class ReplicaEvent:
    """A change of one replica, as the backend reports it to the engine. `time` is epoch
    seconds; `last_error` the replica's last failed attempt or probe ("" if none)."""

    agent: str
    replica: str
    version: str
    change: ReplicaChange
    time: float
    before: str = ""
    after: str = ""
    reason: str = ""
    last_error: str = ""
    node_id: str = ""


# Hears the replica changes of every agent, on the engine's event loop; must not block.
ReplicaListener = Callable[[ReplicaEvent], None]


@dataclass(frozen=True)
class CapacityRequest:
    """Capacity to hold on the cluster: bundles (each must fit on one node), how they are laid
    over nodes, and which nodes may take them.

    ``labels`` is a node-label selector every bundle must satisfy (Ray's syntax: ``"v"``,
    ``"!v"``, ``"in(a,b)"``, ``"!in(a,b)"``); ``node_ids``, when not empty, restricts every
    bundle to those nodes (any of them, so a bundle can move to another one).
    """

    bundles: tuple[ResourceAmounts, ...]
    strategy: PlacementStrategy
    labels: Mapping[str, str] = field(default_factory=dict)
    node_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeldCapacity:
    """The groups this control plane holds on the cluster, as found there."""

    # pool name -> generations with a live group (more than one only mid-update)
    pools: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # ids of reservations with a live group
    reservations: frozenset[str] = frozenset()
