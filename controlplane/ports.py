"""The interface the engine owns and the Ray backend implements.

The engine never imports ray: it leases a replica slot, records the attempt durably, then
invokes it. Cancelling the awaiting asyncio task cancels the attempt on the replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from models.agents import AgentSpec, ReplicaInfo, VersionTarget
from models.backend import (
    AttemptOutcome,
    AttemptRequest,
    CapacityRequest,
    HeartbeatListener,
    HeldCapacity,
    ReplicaLease,
    ReplicaListener,
)
from models.queueing import QueueMetrics
from models.resources import NodeInfo, PoolRealization, ResourceAmounts


class AgentBackend(Protocol):
    @property
    def dashboard_url(self) -> str | None: ...

    async def start(self) -> None:
        """Connects to (or starts) the cluster."""

    async def deploy(self, spec: AgentSpec) -> None:
        """Makes the replicas match `spec`: re-attaches to live ones, creates missing ones, and
        replaces replicas of other versions (new ones first; old ones drain, then stop).
        ``package://`` references in its runtime_env are loaded from the control plane's
        packages (the backend is built with their reader) whenever a replica is created."""

    async def apply(self, name: str, targets: Sequence[VersionTarget]) -> None:
        """Runs `replicas` of each target's spec (during a rollout, two versions), splits the
        attempts between the versions by the targets' weights, and retires every other
        replica (draining it first). New replicas are ready before any is retired."""

    async def scale(self, name: str, replicas: int) -> None: ...

    async def remove(self, name: str) -> None:
        """Stops leasing, waits for in-flight attempts, then kills every replica."""

    def replicas(self, name: str) -> list[ReplicaInfo]: ...

    def lease(
        self,
        agent: str,
        nodes: frozenset[str] | None = None,
        *,
        routing_key: str = "",
        unusable_timeout_s: float | None = None,
        avoid_version: str = "",
    ) -> AbstractAsyncContextManager[ReplicaLease]:
        """Waits for a free slot on a usable replica (READY, healthy, circuit breaker not
        open) chosen by the agent's load-balancing strategy (on one of `nodes` when the
        dispatcher placed the attempt there; `routing_key` is what consistent_hash hashes).
        Raises AgentUnavailable if the agent is not deployed, NoUsableReplica once no replica
        was usable for `unusable_timeout_s` (None: no limit). During a weighted rollout,
        `avoid_version` (the version the task's last attempt failed on) sends the lease to the
        other version when it is the canary."""

    def waiting_reason(self, agent: str) -> str:
        """Why a lease of `agent` waits beyond a queue for a free slot (every replica
        unhealthy, circuit-broken or not ready); "" when it does not."""

    async def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> AttemptOutcome:
        """Runs one attempt. Agent exceptions and replica crashes come back as outcomes;
        asyncio cancellation cancels the attempt on the replica and propagates.
        `on_heartbeat` hears the attempt's heartbeats while it runs, on the engine's loop."""

    def on_replica_event(self, listener: ReplicaListener) -> None:
        """Adds a listener of replica changes (health, circuit breaker, started, stopped),
        called on the engine's loop as each happens. A listener must not block; what it
        raises is logged and never reaches the change."""

    async def observe_nodes(self) -> list[NodeInfo]:
        """Every node of the cluster with labels, capacity, free resources and liveness."""

    def record_queues(self, queues: Sequence[QueueMetrics]) -> None:
        """Exports queue depth and wait per namespace (Prometheus / the Ray dashboard)."""

    async def request_capacity(self, bundles: Sequence[ResourceAmounts]) -> None:
        """Asks the cluster autoscaler to make room for these bundles (each must fit on one
        node), replacing the previous request; an empty list withdraws it. A hint: nothing
        is reserved, and a fixed-size cluster ignores it. Never raises."""

    async def shutdown(self) -> None:
        """Detaches from the cluster (replicas are detached actors and keep running)."""


# ------------------------------------------------------------------------------ capacity


class CapacityBackend(Protocol):
    """Holds pools and reservations on the cluster (Ray placement groups), so the cluster
    enforces them. Groups are named from the pool name and generation (or the reservation
    id) and outlive the control plane: every call looks the group up first and creates it
    only if it is missing, so calls are idempotent and a restarted control plane re-attaches.
    """

    async def realize_pool(
        self, pool: str, generation: int, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        """Finds or creates the group of this pool generation; a group it creates is given up
        to ``wait_s`` to be placed (one found is reported as it is). The result says READY,
        PENDING or RESCHEDULING (and why)."""

    async def pool_status(self, pool: str, generation: int) -> PoolRealization | None:
        """The group of this pool generation as Ray reports it now; None if there is none."""

    async def remove_pool(self, pool: str, keep_generation: int | None = None) -> None:
        """Removes the pool's groups (all of them, or all but ``keep_generation``)."""

    async def hold(
        self, reservation_id: str, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        """Finds or creates the reservation's group (waiting as ``realize_pool`` does)."""

    async def reservation_status(self, reservation_id: str) -> PoolRealization | None: ...

    async def release(self, reservation_id: str) -> None:
        """Removes the reservation's group (nothing happens if there is none)."""

    async def held(self) -> HeldCapacity:
        """Every pool and reservation group of this control plane that is on the cluster."""
