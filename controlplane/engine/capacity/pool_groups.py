"""The placement groups that hold pools on the cluster, one per pool generation (see
``requests``), created and read through the CapacityBackend."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from controlplane.engine.capacity.requests import NoLiveMembers, pool_generation, pool_request
from controlplane.ports import CapacityBackend
from models.capacity import PoolRecord, PoolView
from models.resources import PoolRealization

log = logging.getLogger(__name__)

NO_GROUP = "no placement group on the cluster"


class PoolGroups:
    def __init__(self, placement: CapacityBackend, *, ready_wait_s: float = 2.0) -> None:
        self._placement = placement
        # How long a call waits for Ray to place a new group before answering PENDING.
        self._ready_wait_s = ready_wait_s
        # Held by every change to a pool or its group (create, update, delete, restore and each
        # repair step), so a decision made on a snapshot never overrides a newer change.
        self.lock = asyncio.Lock()

    async def status(self, record: PoolRecord) -> PoolRealization | None:
        """The group of the pool's current generation as Ray reports it (None: there is none).
        Raises if Ray could not be asked."""
        return await self._placement.pool_status(record.spec.name, pool_generation(record))

    async def realize(self, view: PoolView) -> PoolView:
        """Finds or creates the group of the pool's current generation (waiting briefly for
        Ray to place it), then removes the groups of other generations."""
        spec = view.record.spec
        generation = pool_generation(view.record)
        try:
            request = pool_request(spec, view.nodes)
        except NoLiveMembers as exc:
            # Nothing to create the group on; one made earlier may still be there.
            found = await self.with_status(view)
            return found if found.realization is not None else replace(view, message=str(exc))
        try:
            realization = await self._placement.realize_pool(
                spec.name, generation, request, self._ready_wait_s
            )
        except Exception as exc:
            log.exception("could not realise pool %s", spec.name)
            return replace(view, message=f"could not create the placement group: {exc}")
        try:
            await self._placement.remove_pool(spec.name, keep_generation=generation)
        except Exception:
            log.exception("could not remove older placement groups of pool %s", spec.name)
        return replace(view, realization=realization)

    async def with_status(self, view: PoolView) -> PoolView:
        """The view with the placement group as Ray reports it now."""
        try:
            status = await self.status(view.record)
        except Exception as exc:
            return replace(view, message=f"could not read the placement group: {exc}")
        if status is None:
            return replace(view, message=NO_GROUP)
        return replace(view, realization=status)

    async def remove(self, pool: str) -> None:
        """Removes every group of the pool (all its generations)."""
        await self._placement.remove_pool(pool)

    async def held_pools(self) -> frozenset[str]:
        """The pools with a group on the cluster."""
        return frozenset((await self._placement.held()).pools)
