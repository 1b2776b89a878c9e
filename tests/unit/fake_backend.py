"""An in-process AgentBackend for unit tests of the engine's state machine (no Ray)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from models.agents import AgentSpec, ReplicaInfo, ReplicaState, VersionTarget
from models.backend import (
    AgentUnavailable,
    AttemptOutcome,
    AttemptRequest,
    HeartbeatListener,
    NoUsableReplica,
    ReplicaEvent,
    ReplicaLease,
    ReplicaListener,
)
from models.executions import ErrorInfo
from models.namespaces import split_qualified
from models.queueing import QueueMetrics
from models.resources import NodeInfo, ResourceAmounts
from ray_backend.traffic import TrafficSplit

Behaviour = Callable[[Any, AttemptRequest], Awaitable[Any]]


@dataclass(frozen=True)
class _Version:
    version: str


class FakeBackend:
    def __init__(self) -> None:
        self.specs: dict[str, AgentSpec] = {}
        # Every apply (deploys included), the latest targets and traffic split per agent, and
        # the start error of a version's replicas (raised by any apply that starts some).
        self.applied: list[tuple[str, tuple[VersionTarget, ...]]] = []
        self.targets: dict[str, tuple[VersionTarget, ...]] = {}
        self.traffic: dict[str, TrafficSplit | None] = {}
        self.start_errors: dict[str, Exception] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[AttemptRequest] = []
        # Outcomes answered in order, per agent, before its behaviour (a replica crash, a node
        # lost: what no agent code can produce).
        self.outcomes: dict[str, list[AttemptOutcome]] = {}
        self.cancelled: list[AttemptRequest] = []
        self.nodes: list[NodeInfo] = []
        # Node of each replica, by agent (replica i on replica_nodes[agent][i]); absent: "".
        self.replica_nodes: dict[str, list[str]] = {}
        # (agent, task_id, node of the leased replica) for every lease, in order.
        self.placements: list[tuple[str, str]] = []
        self.queue_metrics: list[QueueMetrics] = []
        # Every request_capacity call's bundles, and every scale call, in order.
        self.capacity_requests: list[list[ResourceAmounts]] = []
        self.scale_calls: list[tuple[str, int]] = []
        # Every agent removed, in order.
        self.removed: list[str] = []
        # (agent, routing key) of every lease, in order.
        self.routing_keys: list[tuple[str, str]] = []
        # Agents none of whose replicas is usable, with why (leases wait, then give up).
        self.unusable: dict[str, str] = {}
        # The heartbeat listener of every attempt invoked, by (task id, attempt number).
        self.heartbeats: dict[tuple[str, int], HeartbeatListener] = {}
        # Who hears replica changes; tests report them with `report` (on the server's loop).
        self.replica_listeners: list[ReplicaListener] = []

    @property
    def dashboard_url(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def deploy(self, spec: AgentSpec) -> None:
        await self.apply(spec.name, (VersionTarget(spec, spec.replicas),))

    async def apply(self, name: str, targets: Sequence[VersionTarget]) -> None:
        self.applied.append((name, tuple(targets)))
        for target in targets:
            error = self.start_errors.get(target.spec.version)
            if error is not None and target.replicas > 0:
                raise error
        self.targets[name] = tuple(targets)
        self.traffic[name] = TrafficSplit.of(targets)
        self.specs[name] = replace(targets[-1].spec, replicas=targets[-1].replicas)

    async def scale(self, name: str, replicas: int) -> None:
        self.scale_calls.append((name, replicas))
        spec = self.specs.get(name)
        if spec is not None:
            self.specs[name] = replace(spec, replicas=replicas)

    async def remove(self, name: str) -> None:
        self.removed.append(name)
        self.specs.pop(name, None)

    def replicas(self, name: str) -> list[ReplicaInfo]:
        spec = self.specs.get(name)
        if spec is None:
            return []
        others = [
            ReplicaInfo(f"{name}.{t.spec.version}.{i}", t.spec.version, ReplicaState.READY)
            for t in self.targets.get(name, ())[:-1]
            for i in range(t.replicas)
        ]
        return others + [
            ReplicaInfo(f"{name}.{i}", spec.version, ReplicaState.READY, node_id=node)
            for i, node in enumerate(self._nodes_of(name, spec.replicas))
        ]

    def _nodes_of(self, agent: str, count: int) -> list[str]:
        nodes = self.replica_nodes.get(agent, self.replica_nodes.get(_name(agent), []))
        return [nodes[i] if i < len(nodes) else "" for i in range(count)]

    @asynccontextmanager
    async def lease(
        self,
        agent: str,
        nodes: frozenset[str] | None = None,
        *,
        routing_key: str = "",
        unusable_timeout_s: float | None = None,
        avoid_version: str = "",
    ) -> AsyncIterator[ReplicaLease]:
        self.routing_keys.append((agent, routing_key))
        if agent in self.unusable:
            # As the Ray backend: wait while no replica is usable, up to the limit.
            if unusable_timeout_s is None:
                await asyncio.Event().wait()
            await asyncio.sleep(unusable_timeout_s or 0.0)
            raise NoUsableReplica(f"waited {unusable_timeout_s:g}s: {self.unusable[agent]}")
        if agent not in self.specs:
            raise AgentUnavailable(agent)
        spec = self.specs[agent]
        split = self.traffic.get(agent)
        if split is not None:
            versions = [_Version(t.spec.version) for t in self.targets[agent] if t.replicas]
            usable, _ = split.narrow(versions, versions, avoid_version)
            if usable and usable[0].version != spec.version:
                split.count(usable[0].version)
                yield ReplicaLease(agent, f"{agent}.{usable[0].version}.0", usable[0].version)
                return
            split.count(spec.version)
        for i, node in enumerate(self._nodes_of(agent, spec.replicas)):
            if nodes is None or node in nodes:
                self.placements.append((agent, node))
                yield ReplicaLease(agent, f"{agent}.{i}", spec.version)
                return
        raise AgentUnavailable(f"{agent} has no replica on {sorted(nodes or ())}")

    def waiting_reason(self, agent: str) -> str:
        return self.unusable.get(agent, "")

    async def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> AttemptOutcome:
        self.calls.append(request)
        if on_heartbeat is not None:
            self.heartbeats[(request.task_id, request.attempt)] = on_heartbeat
        scripted = self.outcomes.get(lease.agent, self.outcomes.get(_name(lease.agent)))
        if scripted:
            return scripted.pop(0)
        behaviour = self.behaviours.get(lease.agent, self.behaviours.get(_name(lease.agent)))
        try:
            output = await behaviour(request.input, request) if behaviour else request.input
        except asyncio.CancelledError:
            self.cancelled.append(request)
            raise
        except Exception as exc:
            return AttemptOutcome(ok=False, error=ErrorInfo(type(exc).__name__, str(exc)))
        return AttemptOutcome(ok=True, output=output)

    def on_replica_event(self, listener: ReplicaListener) -> None:
        self.replica_listeners.append(listener)

    def report(self, event: ReplicaEvent) -> None:
        """A replica change, told to the listeners as the Ray backend tells them."""
        for listener in self.replica_listeners:
            listener(event)

    def record_queues(self, queues: Sequence[QueueMetrics]) -> None:
        self.queue_metrics = list(queues)

    async def observe_nodes(self) -> list[NodeInfo]:
        return list(self.nodes)

    async def request_capacity(self, bundles: Sequence[ResourceAmounts]) -> None:
        self.capacity_requests.append(list(bundles))

    async def shutdown(self) -> None:
        return None


def _name(agent: str) -> str:
    """The name in an agent's key: what is given for a name (its replicas' nodes, its
    behaviour) serves the agents of that name of every namespace that has no entry of its own."""
    return split_qualified(agent)[1]


class Gate:
    """An agent behaviour that holds every attempt until `open` is set, then answers `output`
    (default: the attempt's input)."""

    _INPUT = object()

    def __init__(self, output: Any = _INPUT) -> None:
        self.open = threading.Event()
        self._output = output

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        while not self.open.is_set():
            await asyncio.sleep(0.01)
        return value if self._output is Gate._INPUT else self._output
