"""The interface the engine owns and the Ray backend implements.

The engine never imports ray: it leases a replica slot, records the attempt durably, then
invokes it. Cancelling the awaiting asyncio task cancels the attempt on the replica.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from models.agents import AgentSpec, ReplicaInfo
from models.executions import ErrorInfo
from models.resources import NodeInfo


class AgentUnavailable(Exception):
    """The agent is not deployed (or was deleted) so no replica can be leased."""


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


@dataclass(frozen=True)
class AttemptOutcome:
    ok: bool
    output: Any = None
    error: ErrorInfo | None = None
    # The replica process died during the attempt (the backend restarts it).
    replica_crashed: bool = False
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class AgentBackend(Protocol):
    @property
    def dashboard_url(self) -> str | None: ...

    async def start(self) -> None:
        """Connects to (or starts) the cluster."""

    async def deploy(self, spec: AgentSpec) -> None:
        """Makes the replicas match `spec`: re-attaches to live ones, creates missing ones, and
        replaces replicas of other versions (new ones first; old ones drain, then stop)."""

    async def scale(self, name: str, replicas: int) -> None: ...

    async def remove(self, name: str) -> None:
        """Stops leasing, waits for in-flight attempts, then kills every replica."""

    def replicas(self, name: str) -> list[ReplicaInfo]: ...

    def lease(self, agent: str) -> AbstractAsyncContextManager[ReplicaLease]:
        """Waits for a free slot on the READY replica with the fewest outstanding attempts.
        Raises AgentUnavailable if the agent is not deployed."""

    async def invoke(self, lease: ReplicaLease, request: AttemptRequest) -> AttemptOutcome:
        """Runs one attempt. Agent exceptions and replica crashes come back as outcomes;
        asyncio cancellation cancels the attempt on the replica and propagates."""

    async def observe_nodes(self) -> list[NodeInfo]:
        """Every node of the cluster with labels, capacity, free resources and liveness."""

    async def shutdown(self) -> None:
        """Detaches from the cluster (replicas are detached actors and keep running)."""
