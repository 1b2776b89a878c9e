"""An in-process CapacityBackend for unit tests of pools and reservations (no Ray).

Groups are kept by name like the Ray backend names them; ``placeable`` says whether "the
cluster" has room, so a group reads READY or PENDING (and turns READY once there is room).
``create_error`` makes creating a group fail; ``before_create`` is called with a group's name
just before it is created (to look at what was recorded first).
"""

from __future__ import annotations

from collections.abc import Callable

from models.backend import CapacityRequest, HeldCapacity
from models.resources import PoolRealization, RealizationState, ResourceAmounts


class FakeCapacity:
    def __init__(self) -> None:
        self.groups: dict[str, CapacityRequest] = {}
        self.placeable = True
        self.created: list[str] = []
        self.removed: list[str] = []
        self.create_error: str | None = None
        self.before_create: Callable[[str], None] | None = None

    def _status(self, name: str) -> PoolRealization | None:
        request = self.groups.get(name)
        if request is None:
            return None
        return PoolRealization(
            name=name,
            node_ids=request.node_ids,
            capacity=ResourceAmounts.total(list(request.bundles)),
            placement_group_id=f"pg-{name}",
            state=RealizationState.READY if self.placeable else RealizationState.PENDING,
            message="" if self.placeable else "0 of 1 bundles placed: no room",
        )

    def _ensure(self, name: str, request: CapacityRequest) -> PoolRealization:
        if name not in self.groups:
            if self.before_create is not None:
                self.before_create(name)
            if self.create_error is not None:
                raise RuntimeError(self.create_error)
            self.groups[name] = request
            self.created.append(name)
        status = self._status(name)
        assert status is not None
        return status

    def _remove(self, name: str) -> None:
        if self.groups.pop(name, None) is not None:
            self.removed.append(name)

    async def realize_pool(
        self, pool: str, generation: int, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        return self._ensure(f"pool:{pool}:{generation}", request)

    async def pool_status(self, pool: str, generation: int) -> PoolRealization | None:
        return self._status(f"pool:{pool}:{generation}")

    async def remove_pool(self, pool: str, keep_generation: int | None = None) -> None:
        for name in list(self.groups):
            prefix, _, generation = name.rpartition(":")
            if prefix == f"pool:{pool}" and generation != str(keep_generation):
                self._remove(name)

    async def hold(
        self, reservation_id: str, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        return self._ensure(f"reservation:{reservation_id}", request)

    async def reservation_status(self, reservation_id: str) -> PoolRealization | None:
        return self._status(f"reservation:{reservation_id}")

    async def release(self, reservation_id: str) -> None:
        self._remove(f"reservation:{reservation_id}")

    async def held(self) -> HeldCapacity:
        pools: dict[str, list[int]] = {}
        reservations: set[str] = set()
        for name in self.groups:
            kind, _, rest = name.partition(":")
            if kind == "pool":
                pool, _, generation = rest.rpartition(":")
                pools.setdefault(pool, []).append(int(generation))
            else:
                reservations.add(rest)
        return HeldCapacity(
            pools={p: tuple(sorted(g)) for p, g in pools.items()},
            reservations=frozenset(reservations),
        )
