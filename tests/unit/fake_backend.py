"""An in-process AgentBackend for unit tests of the engine's state machine (no Ray)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from controlplane.backend import AgentUnavailable, AttemptOutcome, AttemptRequest, ReplicaLease
from models.agents import AgentSpec, ReplicaInfo, ReplicaState
from models.executions import ErrorInfo
from models.resources import NodeInfo

Behaviour = Callable[[Any, AttemptRequest], Awaitable[Any]]


class FakeBackend:
    def __init__(self) -> None:
        self.specs: dict[str, AgentSpec] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[AttemptRequest] = []
        self.cancelled: list[AttemptRequest] = []
        self.nodes: list[NodeInfo] = []

    @property
    def dashboard_url(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def deploy(self, spec: AgentSpec) -> None:
        self.specs[spec.name] = spec

    async def scale(self, name: str, replicas: int) -> None:
        return None

    async def remove(self, name: str) -> None:
        self.specs.pop(name, None)

    def replicas(self, name: str) -> list[ReplicaInfo]:
        spec = self.specs.get(name)
        if spec is None:
            return []
        return [
            ReplicaInfo(f"{name}.{i}", spec.version, ReplicaState.READY)
            for i in range(spec.replicas)
        ]

    @asynccontextmanager
    async def lease(self, agent: str) -> AsyncIterator[ReplicaLease]:
        if agent not in self.specs:
            raise AgentUnavailable(agent)
        yield ReplicaLease(agent, f"{agent}.0", self.specs[agent].version)

    async def invoke(self, lease: ReplicaLease, request: AttemptRequest) -> AttemptOutcome:
        self.calls.append(request)
        behaviour = self.behaviours.get(lease.agent)
        try:
            output = await behaviour(request.input, request) if behaviour else request.input
        except asyncio.CancelledError:
            self.cancelled.append(request)
            raise
        except Exception as exc:
            return AttemptOutcome(ok=False, error=ErrorInfo(type(exc).__name__, str(exc)))
        return AttemptOutcome(ok=True, output=output)

    async def observe_nodes(self) -> list[NodeInfo]:
        return list(self.nodes)

    async def shutdown(self) -> None:
        return None
