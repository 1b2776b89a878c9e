"""The cluster as the control plane sees it: the live nodes, what the replicas of pooled agents
hold in each pool, and each pool's members and capacity."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controlplane.ports import AgentBackend
from controlplane.store import SqliteStore
from controlplane.store.capacity import CapacityStore
from models.agents import ReplicaResources, ReplicaState
from models.capacity import ClusterView, PoolRecord, PoolView
from models.resources import NodeInfo, ResourceAmounts
from scheduler.cluster import fragmentation, select_nodes, total_capacity

# Replicas in these states occupy a slot of their pool's placement group.
_PLACED = (ReplicaState.READY, ReplicaState.DRAINING)


def replica_amounts(resources: ReplicaResources, count: int = 1) -> ResourceAmounts:
    """What ``count`` replicas of this size hold."""
    return ResourceAmounts(
        cpu=resources.num_cpus * count,
        memory=resources.memory * count,
        gpu=resources.num_gpus * count,
        custom={k: v * count for k, v in sorted(resources.custom.items())},
    )


class ClusterObserver:
    def __init__(
        self,
        store: SqliteStore,
        backend: AgentBackend,
        capacity: CapacityStore,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._backend = backend
        self._capacity = capacity
        self._clock = clock

    async def nodes(self) -> list[NodeInfo]:
        return await self._backend.observe_nodes()

    def allocated_by_pool(self) -> dict[str, ResourceAmounts]:
        """Per pool, what the placed replicas of the agents deployed into it hold."""
        out: dict[str, ResourceAmounts] = {}
        for record in self._store.list_agents():
            spec = record.spec
            if not spec.pool:
                continue
            placed = sum(1 for r in self._backend.replicas(spec.name) if r.state in _PLACED)
            held = replica_amounts(spec.resources, placed)
            out[spec.pool] = out.get(spec.pool, ResourceAmounts()).add(held)
        return out

    @staticmethod
    def pool_view(
        record: PoolRecord,
        nodes: list[NodeInfo],
        allocated: Mapping[str, ResourceAmounts] | None = None,
    ) -> PoolView:
        """The pool over ``nodes``: its members, its capacity and what its replicas hold."""
        members = select_nodes(nodes, record.spec.selector)
        capacity = record.spec.share if record.spec.share is not None else total_capacity(members)
        used = (allocated or {}).get(record.spec.name, ResourceAmounts())
        return PoolView(record, members, capacity, allocated=used)

    async def current_view(self, record: PoolRecord) -> PoolView:
        """The pool over the nodes and the allocation as observed now."""
        nodes = await self.nodes()
        return self.pool_view(record, nodes, self.allocated_by_pool())

    async def cluster_state(self) -> ClusterView:
        nodes = await self.nodes()
        resources = sorted({name for n in nodes for name in n.capacity.names()})
        allocated = self.allocated_by_pool()
        return ClusterView(
            nodes=nodes,
            pools=[self.pool_view(r, nodes, allocated) for r in self._capacity.list_pools()],
            fragmentation={name: fragmentation(nodes, name) for name in resources},
            observe_time=self._clock(),
        )
