"""Composition root: builds the store, backend, engine and server, and runs them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from controlplane.api.server import GrpcServer
from controlplane.backend import AgentBackend
from controlplane.config import ServerConfig
from controlplane.engine.agents import AgentManager
from controlplane.engine.catalog import WorkflowCatalog
from controlplane.engine.event_hub import EventHub
from controlplane.engine.executions import ExecutionEngine
from controlplane.engine.planning import Planner
from controlplane.engine.resources import ResourceManager
from controlplane.engine.runner import RunnerDeps
from controlplane.store import SqliteStore, StoreWriter

log = logging.getLogger(__name__)


def default_backend(config: ServerConfig) -> AgentBackend:
    from ray_backend.backend import RayAgentBackend

    return RayAgentBackend(
        address=config.ray_address,
        namespace=config.ray_namespace,
        num_cpus=config.ray_num_cpus,
        include_dashboard=config.include_dashboard,
    )


class ControlPlane:
    def __init__(
        self,
        config: ServerConfig,
        backend: AgentBackend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = SqliteStore(config.database_path, synchronous=config.sqlite_synchronous)
        self.backend = backend if backend is not None else default_backend(config)
        self.writer = StoreWriter(self.store)
        self.hub = EventHub()
        self.agents = AgentManager(self.store, self.backend, clock)
        self.catalog = WorkflowCatalog(self.store, self.agents.names, clock)
        deps = RunnerDeps(writer=self.writer, backend=self.backend, hub=self.hub, clock=clock)
        self.resources = ResourceManager(self.store, self.backend, clock)
        self.executions = ExecutionEngine(
            self.store, deps, self.catalog, self.agents.names, self.resources.get_quota
        )
        self.planner = Planner()
        self.server = GrpcServer(
            self.agents,
            self.catalog,
            self.executions,
            self.resources,
            self.planner,
            config.max_message_bytes,
        )
        self.port = 0

    @property
    def address(self) -> str:
        host = "localhost" if self.config.host in ("[::]", "0.0.0.0", "") else self.config.host
        return f"{host}:{self.port}"

    @property
    def dashboard_url(self) -> str | None:
        return self.backend.dashboard_url

    async def start(self) -> None:
        """Binds first (so a taken port fails fast), restores state, then serves."""
        self.port = self.server.bind(self.config.host, self.config.port)
        await self.backend.start()
        await self.agents.reconcile()
        resumed = await self.executions.recover()
        if resumed:
            log.info("resumed %d unfinished executions", resumed)
        await self.server.start()
        await self.server.set_serving(True)
        log.info("control plane serving on %s", self.address)

    async def stop(self) -> None:
        await self.server.stop(self.config.shutdown_grace_s)
        await self.executions.stop(self.config.shutdown_grace_s)
        await self.backend.shutdown()
        self.store.close()
