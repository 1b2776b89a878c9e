"""The control loop behind dispatching: every few seconds it observes the cluster into the
dispatcher's topology, starts executions that waited for their namespace to have room, exports
queue depth and wait per namespace, and replans namespaces whose batch plan is due."""

from __future__ import annotations

import logging
from collections.abc import Callable

from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.reservations import ReservationService
from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.dispatch.topology import build_topology
from controlplane.engine.executions.service import ExecutionEngine
from controlplane.engine.periodic import run_every
from controlplane.engine.planning.rolling import RollingPlanner
from controlplane.ports import AgentBackend

log = logging.getLogger(__name__)


class CapacityLoop:
    def __init__(
        self,
        cluster: ClusterObserver,
        reservations: ReservationService,
        backend: AgentBackend,
        dispatcher: Dispatcher,
        planner: RollingPlanner,
        executions: ExecutionEngine,
        clock: Callable[[], float],
        interval_s: float = 2.0,
    ) -> None:
        self._cluster = cluster
        self._reservations = reservations
        self._backend = backend
        self._dispatcher = dispatcher
        self._planner = planner
        self._executions = executions
        self._clock = clock
        self.interval_s = interval_s

    async def observe(self) -> None:
        view = await self._cluster.cluster_state()
        pools = [(p.record.spec.name, p.nodes, p.capacity) for p in view.pools]
        topology = build_topology(
            view.nodes, pools, self._reservations.active_reservations(), self._clock()
        )
        self._dispatcher.set_topology(topology)

    async def run_once(self) -> None:
        await self.observe()
        self._executions.admit_waiting()
        self._backend.record_queues(self._dispatcher.metrics())
        await self._planner.run_once()

    async def run(self) -> None:
        """Rounds every ``interval_s`` until cancelled."""
        await run_every(self.interval_s, self.run_once, log, "capacity loop round")
