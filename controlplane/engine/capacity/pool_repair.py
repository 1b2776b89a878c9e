"""The repair of a pool whose placement group was lost: the steps the pool loop drives, the
repair at start, and how GetPool shows where a repair stands.

Every step is recorded in the pool's ``PoolRepair`` before it is taken (``LOST`` before the
group is created, ``RECREATED`` before replicas move, ``HEALED`` after), so a restarted control
plane picks the repair up where it stopped; a step that fails is tried again after a growing
delay (``retry_delay_s``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.pool_agents import PoolAgents
from controlplane.engine.capacity.pool_groups import NO_GROUP, PoolGroups
from controlplane.engine.capacity.pool_loop import PoolObservation, retry_delay_s
from controlplane.engine.capacity.requests import pool_generation
from controlplane.store.capacity import CapacityStore
from models.capacity import (
    POOL_REPAIR_LIFECYCLE,
    PoolRecord,
    PoolRepair,
    PoolRepairPhase,
    PoolView,
)
from models.resources import RealizationState

log = logging.getLogger(__name__)


class PoolRepairer:
    def __init__(
        self,
        capacity: CapacityStore,
        cluster: ClusterObserver,
        groups: PoolGroups,
        agents: PoolAgents,
        clock: Callable[[], float],
    ) -> None:
        self._capacity = capacity
        self._cluster = cluster
        self._groups = groups
        self._agents = agents
        self._clock = clock

    def repair_of(self, record: PoolRecord) -> PoolRepair | None:
        """The repair record of the pool's current generation (None: none, or stale)."""
        repair = self._capacity.get_pool_repair(record.spec.name)
        if repair is None or repair.generation != pool_generation(record):
            return None
        return repair

    def describe(self, view: PoolView) -> PoolView:
        """The view as GetPool shows it: with where the repair of a lost group stands."""
        repair = self.repair_of(view.record)
        view = replace(view, repair=repair)
        if repair is None or not repair.outstanding:
            if view.realization is None and view.message == NO_GROUP:
                return replace(view, message=f"{NO_GROUP}: the pool loop creates it again")
            return view
        if view.realization is None:
            return replace(view, message=repair.message)
        detail = view.realization.message
        message = f"{repair.message}; {detail}" if detail else repair.message
        return replace(view, realization=replace(view.realization, message=message))

    # -- what the pool loop acts through --------------------------------------------------

    async def observe_pools(self) -> list[PoolObservation]:
        """Every stored pool's current generation and its group as Ray reports it now."""
        out: list[PoolObservation] = []
        for record in self._capacity.list_pools():
            name, generation = record.spec.name, pool_generation(record)
            try:
                status = await self._groups.status(record)
            except Exception:
                log.warning("could not read the placement group of pool %s", name, exc_info=True)
                out.append(PoolObservation(name, generation, None, known=False))
                continue
            out.append(PoolObservation(name, generation, status))
        return out

    def pool_repairs(self) -> dict[str, PoolRepair]:
        return self._capacity.list_pool_repairs()

    async def recreate_pool(self, name: str, generation: int) -> PoolView | None:
        """Creates the lost group of this pool generation again, then (once Ray has placed
        it) moves the replicas of the pool's agents into it. None if the pool was deleted or
        updated meanwhile."""
        async with self._groups.lock:
            record = self._capacity.get_pool(name)
            if record is None or pool_generation(record) != generation:
                return None
            return await self.repair(record)

    async def move_pool_replicas(self, name: str, generation: int) -> PoolView | None:
        """Moves the replicas of the pool's agents into its re-created group, once placed."""
        async with self._groups.lock:
            record = self._capacity.get_pool(name)
            if record is None or pool_generation(record) != generation:
                return None
            view = await self._groups.with_status(await self._cluster.current_view(record))
            if view.state is RealizationState.READY and await self._move(record):
                return await self._groups.with_status(await self._cluster.current_view(record))
            return view

    # -- steps taken under the groups' lock (the caller holds it) -------------------------

    async def repair(self, record: PoolRecord) -> PoolView:
        """The group of the pool's current generation, created again if it is missing; once
        it is placed, the replicas of an unfinished repair are moved into it."""
        view = await self._cluster.current_view(record)
        try:
            status = await self._groups.status(record)
        except Exception as exc:
            return replace(view, message=f"could not read the placement group: {exc}")
        view = await (self._recreate(view) if status is None else self._groups.realize(view))
        if view.state is RealizationState.READY and await self._move(record):
            return await self._groups.with_status(await self._cluster.current_view(record))
        return view

    async def restore(self, view: PoolView) -> PoolView:
        """On start: a group lost while no control plane ran (or whose repair a stop
        interrupted) is repaired as the pool loop does, except that the replicas stuck in the
        lost group are stopped rather than replaced: the agents' restore, which runs next,
        starts them again in the pool's group (and the pool loop, if the group is not placed
        yet)."""
        record = view.record
        try:
            status = await self._groups.status(record)
        except Exception:
            return await self._groups.realize(view)
        repair = self.repair_of(record)
        if status is not None and (repair is None or not repair.outstanding):
            return await self._groups.realize(view)
        view = await (self._recreate(view) if status is None else self._groups.realize(view))
        # Stopped either way: attaching to them would wait for replicas that never come back.
        agents = await self._agents.stop(record.spec.name)
        repair = self.repair_of(record)
        if view.state is RealizationState.READY and repair is not None:
            healed = self._healed(repair, agents, "are started in it again")
            await self._put(healed)
        return view

    async def _put(self, repair: PoolRepair) -> None:
        await asyncio.to_thread(self._capacity.put_pool_repair, repair)

    async def _recreate(self, view: PoolView) -> PoolView:
        """Records the loss (LOST), then creates the group again: RECREATED once it exists,
        else LOST with the error and when to try again."""
        name, generation = view.record.spec.name, pool_generation(view.record)
        now = self._clock()
        current = self._capacity.get_pool_repair(name)
        again = (
            current is not None
            and current.generation == generation
            and current.phase is PoolRepairPhase.LOST
        )
        if current is not None and current.generation == generation:
            POOL_REPAIR_LIFECYCLE.check(current.phase, PoolRepairPhase.LOST)
        lost = PoolRepair(
            pool=name,
            generation=generation,
            phase=PoolRepairPhase.LOST,
            lost_time=current.lost_time if again and current is not None else now,
            update_time=now,
            attempts=current.attempts if again and current is not None else 0,
            retry_time=current.retry_time if again and current is not None else 0.0,
            message="its placement group is gone; creating it again",
            losses=(current.losses if current is not None else 0) + (0 if again else 1),
        )
        await self._put(lost)  # durable before Ray is asked
        if not again:
            log.warning(
                "pool %s: its placement group (generation %d) is gone; creating it again",
                name,
                generation,
            )
        result = await self._groups.realize(view)
        now = self._clock()
        if result.realization is None:
            attempts = lost.attempts + 1
            delay = retry_delay_s(attempts)
            failed = replace(
                lost,
                attempts=attempts,
                retry_time=now + delay,
                update_time=now,
                message=f"its placement group is gone and could not be created again (try "
                f"{attempts}, next in {delay:g}s): {result.message}",
            )
            await self._put(failed)
            log.warning("pool %s: %s", name, failed.message)
            return replace(result, message=failed.message)
        recreated = POOL_REPAIR_LIFECYCLE.replaced(
            lost,
            PoolRepairPhase.RECREATED,
            attempts=0,
            retry_time=0.0,
            update_time=now,
            message="its placement group was lost and has been created again; the replicas "
            "of its agents move into it once Ray has placed it",
        )
        await self._put(recreated)
        log.info("pool %s: placement group created again (%s)", name, result.state.value)
        return result

    async def _move(self, record: PoolRecord) -> bool:
        """Replaces the replicas of the pool's agents (they died with the lost group) by new
        ones in its current group, then records HEALED (or the failure, to try again later).
        True if the pool has agents."""
        repair = self.repair_of(record)
        if repair is None or not repair.outstanding:
            return False
        name = record.spec.name
        moving = POOL_REPAIR_LIFECYCLE.replaced(
            repair,
            PoolRepairPhase.RECREATED,
            attempts=repair.attempts if repair.phase is PoolRepairPhase.RECREATED else 0,
            update_time=self._clock(),
            message="its placement group was lost and has been created again; moving the "
            "replicas of its agents into it",
        )
        await self._put(moving)  # durable before the replicas are touched
        agents, failed = await self._agents.replace(name)
        now = self._clock()
        if failed:
            attempts = moving.attempts + 1
            delay = retry_delay_s(attempts)
            await self._put(
                replace(
                    moving,
                    attempts=attempts,
                    retry_time=now + delay,
                    update_time=now,
                    message="its placement group was lost and has been created again; the "
                    f"replicas of {', '.join(failed)} could not be moved into it (try "
                    f"{attempts}, next in {delay:g}s)",
                )
            )
            return bool(agents)
        await self._put(self._healed(moving, agents, "were moved into it"))
        log.info("pool %s: healed (agents moved into the new group: %s)", name, agents or "none")
        return bool(agents)

    def _healed(self, repair: PoolRepair, agents: list[str], done: str) -> PoolRepair:
        replicas = f"the replicas of {', '.join(agents)} {done}" if agents else "no agents"
        return POOL_REPAIR_LIFECYCLE.replaced(
            repair,
            PoolRepairPhase.HEALED,
            attempts=0,
            retry_time=0.0,
            update_time=self._clock(),
            message=f"its placement group was lost and created again; {replicas}",
        )
