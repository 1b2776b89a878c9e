"""The capacity the dispatcher hands out: alive nodes, and per pool its nodes, its capacity
and what active reservations hold in it (refreshed from the cluster every few seconds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from models.capacity import Reservation
from models.resources import NodeInfo, ResourceAmounts
from scheduler.cluster import total_capacity

CLUSTER = ""  # the group of tasks that name no pool: every alive node


@dataclass(frozen=True)
class CapacityGroup:
    """Nodes and capacity one set of tasks competes for (a pool, or the whole cluster)."""

    name: str
    nodes: tuple[NodeInfo, ...]
    capacity: ResourceAmounts
    reserved: ResourceAmounts = field(default_factory=ResourceAmounts)


@dataclass(frozen=True)
class Topology:
    nodes: tuple[NodeInfo, ...] = ()
    pools: Mapping[str, CapacityGroup] = field(default_factory=dict)
    observe_time: float = 0.0

    @cached_property
    def cluster(self) -> CapacityGroup:
        """Every alive node (built once: a round asks for it every time)."""
        alive = tuple(n for n in self.nodes if n.alive)
        return CapacityGroup(CLUSTER, alive, total_capacity(alive))

    def group(self, pool: str) -> CapacityGroup | None:
        """The pool's group, the cluster for "", None for a pool that does not exist."""
        if pool == CLUSTER:
            return self.cluster
        return self.pools.get(pool)

    def node(self, node_id: str) -> NodeInfo | None:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        return None


def build_topology(
    nodes: Sequence[NodeInfo],
    pools: Sequence[tuple[str, Sequence[NodeInfo], ResourceAmounts]],
    reservations: Sequence[Reservation],
    now: float,
) -> Topology:
    """The topology from observed nodes, pools (name, member nodes, capacity) and the
    reservations holding capacity now."""
    held: dict[str, ResourceAmounts] = {}
    for r in reservations:
        held[r.pool] = held.get(r.pool, ResourceAmounts()).add(r.resources)
    groups = {
        name: CapacityGroup(
            name, tuple(n for n in members if n.alive), capacity, held.get(name, ResourceAmounts())
        )
        for name, members, capacity in pools
    }
    return Topology(tuple(nodes), groups, now)
