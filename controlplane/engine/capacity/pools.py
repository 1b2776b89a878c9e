"""Resource pools: validated against the capacity observed on the cluster, recorded durably,
then realised as placement groups (``pool_groups``) so the cluster enforces them; replicas of
agents deployed into a pool run inside its group. A group that goes missing is created again
by the pool loop (``pool_loop``, acting through ``pool_repair``), which then moves the pool's
replicas into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from controlplane.engine import paging
from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.fields import check_amounts, check_name
from controlplane.engine.capacity.pool_agents import PoolAgents
from controlplane.engine.capacity.pool_groups import PoolGroups
from controlplane.engine.capacity.pool_repair import PoolRepairer
from controlplane.store.capacity import CapacityStore
from models.capacity import PoolRecord, PoolSpec, PoolView
from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from models.resources import NodeInfo
from scheduler.cluster import select_nodes, total_capacity

log = logging.getLogger(__name__)


class PoolService:
    def __init__(
        self,
        capacity: CapacityStore,
        cluster: ClusterObserver,
        groups: PoolGroups,
        repairer: PoolRepairer,
        agents: PoolAgents,
        clock: Callable[[], float],
    ) -> None:
        self._capacity = capacity
        self._cluster = cluster
        self._groups = groups
        self._repairer = repairer
        self._agents = agents
        self._clock = clock

    def _validate(self, spec: PoolSpec, nodes: list[NodeInfo]) -> None:
        problems = check_name("pool.name", spec.name)
        if spec.share is not None:
            problems += check_amounts("pool.share", spec.share)
        if problems:
            raise InvalidArgument("invalid pool", problems)
        members = select_nodes(nodes, spec.selector)
        if not members:
            raise FailedPrecondition(
                f"no live node matches the selector of pool {spec.name!r}",
                [FieldViolation("pool.selector", "matches no live node")],
            )
        if spec.share is not None and not spec.share.fits(total_capacity(members)):
            raise FailedPrecondition(
                f"pool {spec.name!r} asks for more than its nodes have",
                [
                    FieldViolation(
                        "pool.share",
                        f"exceeds the selected nodes' capacity {total_capacity(members)}",
                    )
                ],
            )

    async def create_pool(self, spec: PoolSpec) -> PoolView:
        async with self._groups.lock:
            nodes = await self._cluster.nodes()
            self._validate(spec, nodes)
            if self._capacity.get_pool(spec.name) is not None:
                raise AlreadyExists(
                    f"pool {spec.name!r} exists", [FieldViolation("pool.name", "already exists")]
                )
            now = self._clock()
            record = PoolRecord(spec, now, now)
            await asyncio.to_thread(self._capacity.put_pool, record)  # durable, then Ray
            view = self._cluster.pool_view(record, nodes, self._cluster.allocated_by_pool())
            return await self._groups.realize(view)

    async def update_pool(self, spec: PoolSpec) -> PoolView:
        """A changed spec is a new generation: its group is created, then the old one removed
        and the replicas of agents in the pool (which Ray cannot restart once their group is
        gone) replaced by new ones in the new group. The same spec again repairs the group
        if it went missing, as the pool loop does (re-created, replicas moved into it)."""
        async with self._groups.lock:
            old = self._get_record(spec.name)
            nodes = await self._cluster.nodes()
            self._validate(spec, nodes)
            if spec == old.spec:
                # Nothing changed: re-creates the group (and moves the replicas) if it is lost.
                return self._repairer.describe(await self._repairer.repair(old))
            # Strictly later, so the new generation never shares the old group's name.
            record = PoolRecord(spec, old.create_time, max(self._clock(), old.update_time + 0.001))
            await asyncio.to_thread(self._capacity.put_pool, record)
            view = self._cluster.pool_view(record, nodes, self._cluster.allocated_by_pool())
            view = await self._groups.realize(view)
            if view.realization is None:  # the new group was not made: the old one stays
                return view
            agents, _ = await self._agents.replace(spec.name)
            if not agents:
                return view
            return await self._groups.with_status(await self._cluster.current_view(record))

    def _get_record(self, name: str) -> PoolRecord:
        record = self._capacity.get_pool(name)
        if record is None:
            raise NotFound(f"pool {name!r} not found", [FieldViolation("name", "no such pool")])
        return record

    async def get_pool(self, name: str) -> PoolView:
        record = self._get_record(name)
        view = await self._cluster.current_view(record)
        return self._repairer.describe(await self._groups.with_status(view))

    async def list_pools(self, page_size: int, page_token: str) -> tuple[list[PoolView], str]:
        size = paging.page_size(page_size)
        after = paging.decode(page_token, "pools") or ""
        records = self._capacity.list_pools(str(after), size + 1)
        more = len(records) > size
        records = records[:size]
        nodes = await self._cluster.nodes()
        allocated = self._cluster.allocated_by_pool()
        token = paging.encode(records[-1].spec.name, "pools") if more else ""
        views = [
            self._repairer.describe(
                await self._groups.with_status(self._cluster.pool_view(r, nodes, allocated))
            )
            for r in records
        ]
        return views, token

    async def delete_pool(self, name: str) -> None:
        async with self._groups.lock:
            self._get_record(name)
            holding = self._capacity.reservations_in_pool(name)
            if holding:
                raise FailedPrecondition(
                    f"pool {name!r} has {len(holding)} pending or active reservations",
                    [
                        FieldViolation(
                            "name", f"reservation {holding[0].reservation_id} holds capacity"
                        )
                    ],
                )
            agents = self._agents.names(name)
            if agents:
                raise FailedPrecondition(
                    f"pool {name!r} runs agents {', '.join(agents)}",
                    [FieldViolation("name", f"agent {agents[0]} is deployed into the pool")],
                )
            await asyncio.to_thread(self._capacity.delete_pool, name)
            try:
                await self._groups.remove(name)
            except Exception:  # the next restore removes what is left
                log.exception("could not remove the placement groups of pool %s", name)

    async def restore(self) -> None:
        """On start: re-attaches to (or re-creates) the group of every stored pool and removes
        groups of pools deleted while no control plane ran. Never raises: a pool that cannot
        be realised now reports why in its view."""
        async with self._groups.lock:
            records = self._capacity.list_pools()
            if records:
                nodes = await self._cluster.nodes()
                for record in records:
                    view = await self._repairer.restore(self._cluster.pool_view(record, nodes))
                    log.info(
                        "pool %s: %s %s", record.spec.name, view.state.value, view.state_message
                    )
            try:
                held = await self._groups.held_pools()
                stored = {r.spec.name for r in records}
                for pool in held - stored:
                    log.info("removing the placement groups of deleted pool %s", pool)
                    await self._groups.remove(pool)
            except Exception:
                log.exception("could not list the placement groups on the cluster")
