"""Reservations: capacity of a pool held for a namespace over a window, checked against the
pool's other reservations when asked for and held in a placement group of its own while the
window is open. The reservation loop (``reservation_loop``) opens and closes the windows."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.fields import check_amounts, check_name
from controlplane.engine.capacity.requests import reservation_request
from controlplane.engine.capacity.reservation_loop import ended
from controlplane.ports import CapacityBackend
from controlplane.store.capacity import CapacityStore
from models.capacity import (
    RESERVATION_LIFECYCLE,
    PoolRecord,
    PoolView,
    Reservation,
    ReservationState,
)
from models.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    invalid,
)
from models.resources import RealizationState, ResourceAmounts
from scheduler.cluster import select_nodes
from scheduler.reservations import find_conflict

log = logging.getLogger(__name__)

MAX_RESERVATION_S = 366 * 24 * 3600.0


class PoolReader(Protocol):
    async def get_pool(self, name: str) -> PoolView:
        """The pool as it stands now; NotFound if there is none."""
        ...


class ReservationService:
    def __init__(
        self,
        capacity: CapacityStore,
        cluster: ClusterObserver,
        pools: PoolReader,
        placement: CapacityBackend,
        clock: Callable[[], float],
        *,
        ready_wait_s: float = 2.0,
    ) -> None:
        self._capacity = capacity
        self._cluster = cluster
        self._pools = pools
        self._placement = placement
        self._clock = clock
        # How long a call waits for Ray to place a new group before answering PENDING.
        self._ready_wait_s = ready_wait_s
        self._locks: dict[str, asyncio.Lock] = {}

    async def reserve(
        self,
        namespace: str,
        pool: str,
        resources: ResourceAmounts,
        start_time: float | None,
        duration_s: float,
        request_id: str,
    ) -> Reservation:
        if request_id:
            existing = self._capacity.find_reservation(request_id)
            if existing is not None:
                return existing
        problems = check_name("namespace", namespace) + check_amounts("resources", resources)
        if resources.is_zero():
            problems.append(FieldViolation("resources", "must ask for something"))
        if not 0 < duration_s <= MAX_RESERVATION_S:
            problems.append(FieldViolation("duration", "must be positive and at most a year"))
        now = self._clock()
        start = now if start_time is None else start_time
        if start + duration_s <= now:
            problems.append(FieldViolation("start_time", "the window has already ended"))
        if problems:
            raise InvalidArgument("invalid reservation", problems)
        view = await self._pools.get_pool(pool)
        candidate = Reservation(
            reservation_id=uuid.uuid4().hex,
            namespace=namespace,
            pool=pool,
            resources=resources,
            start_time=start,
            duration_s=duration_s,
            state=ReservationState.PENDING,
            create_time=now,
            strategy=view.record.spec.strategy,
            request_id=request_id,
        )
        conflict = find_conflict(
            candidate, self._capacity.reservations_in_pool(pool), view.capacity
        )
        if conflict is not None:
            raise ResourceExhausted(
                f"reservation does not fit in pool {pool!r}: {conflict.describe()}",
                [FieldViolation("resources", conflict.describe())],
            )
        await asyncio.to_thread(self._capacity.put_reservation, candidate)
        return candidate

    def get_reservation(self, reservation_id: str) -> Reservation:
        """The stored reservation; one whose window is over reads as EXPIRED (or FAILED if it
        never held capacity) even before the reservation loop has recorded that."""
        if not reservation_id:
            raise invalid("reservation_id", "is required")
        found = self._capacity.get_reservation(reservation_id)
        if found is None:
            raise NotFound(
                f"reservation {reservation_id!r} not found",
                [FieldViolation("reservation_id", "no such reservation")],
            )
        return ended(found, self._clock()) or found

    async def cancel_reservation(self, reservation_id: str) -> Reservation:
        """Records CANCELLED, then gives an ACTIVE (or pending) group back at once."""
        async with self._lock(reservation_id):
            found = self.get_reservation(reservation_id)
            if not found.state.holds_capacity:
                raise FailedPrecondition(
                    f"reservation is already {found.state.value}",
                    [FieldViolation("reservation_id", f"reservation is {found.state.value}")],
                )
            cancelled = RESERVATION_LIFECYCLE.replaced(
                found, ReservationState.CANCELLED, message="cancelled by request"
            )
            await self._put(cancelled)
            await self._release(reservation_id)
        self._locks.pop(reservation_id, None)
        return cancelled

    def active_reservations(self) -> list[Reservation]:
        """Reservations whose window is open now (their capacity is not for the queue)."""
        now = self._clock()
        return [
            r
            for pool in self._capacity.list_pools()
            for r in self._capacity.reservations_in_pool(pool.spec.name)
            if r.state.holds_capacity and r.start_time <= now < r.end_time
        ]

    # -- what the reservation loop acts through -------------------------------------------

    def _lock(self, reservation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(reservation_id, asyncio.Lock())

    async def _put(self, reservation: Reservation) -> None:
        await asyncio.to_thread(self._capacity.put_reservation, reservation)

    async def _release(self, reservation_id: str) -> None:
        try:
            await self._placement.release(reservation_id)
        except Exception:  # the group is an orphan now: the reservation loop releases it
            log.exception("could not release the placement group of %s", reservation_id)

    def live_reservations(self) -> list[Reservation]:
        """Every PENDING or ACTIVE reservation, as stored."""
        return [
            r
            for pool in self._capacity.list_pools()
            for r in self._capacity.reservations_in_pool(pool.spec.name)
        ]

    async def held_reservations(self) -> frozenset[str] | None:
        """Ids of the reservations with a group on the cluster (None: could not tell)."""
        try:
            return (await self._placement.held()).reservations
        except Exception:
            log.exception("could not list the placement groups on the cluster")
            return None

    async def activate_reservation(self, reservation_id: str) -> Reservation | None:
        """Holds the capacity of a reservation whose window is open: ACTIVE once Ray has placed
        its group, else PENDING with the reason (Ray keeps trying; so does the next round)."""
        async with self._lock(reservation_id):
            current = self._capacity.get_reservation(reservation_id)
            now = self._clock()
            if (
                current is None
                or not current.state.holds_capacity
                or not current.start_time <= now < current.end_time
            ):
                return current
            pool = self._capacity.get_pool(current.pool)
            if pool is None:  # cannot happen while delete_pool refuses pools with reservations
                updated = RESERVATION_LIFECYCLE.replaced(
                    current,
                    ReservationState.FAILED,
                    message=f"pool {current.pool!r} no longer exists",
                )
            else:
                updated = await self._hold(current, pool)
            if updated != current:
                await self._put(updated)
            return updated

    async def _hold(self, reservation: Reservation, pool: PoolRecord) -> Reservation:
        members = select_nodes(await self._cluster.nodes(), pool.spec.selector)
        try:
            request = reservation_request(reservation, pool.spec, members)
            held = await self._placement.hold(
                reservation.reservation_id, request, self._ready_wait_s
            )
        except Exception as exc:
            return RESERVATION_LIFECYCLE.replaced(
                reservation,
                ReservationState.PENDING,
                message=f"could not hold the capacity yet: {exc}",
            )
        if held.state is RealizationState.READY:
            return RESERVATION_LIFECYCLE.replaced(
                reservation,
                ReservationState.ACTIVE,
                message="",
                placement_group_id=held.placement_group_id,
            )
        return RESERVATION_LIFECYCLE.replaced(
            reservation,
            ReservationState.PENDING,
            message=f"waiting for Ray to hold the capacity: {held.message}",
            placement_group_id=held.placement_group_id,
        )

    async def end_reservation(self, reservation_id: str) -> Reservation | None:
        """A window that is over: records EXPIRED (FAILED if it never held capacity), then
        releases the group."""
        async with self._lock(reservation_id):
            current = self._capacity.get_reservation(reservation_id)
            over = None if current is None else ended(current, self._clock())
            if over is None:
                return current
            await self._put(over)
            await self._release(reservation_id)
        self._locks.pop(reservation_id, None)
        return over

    async def release_orphan(self, reservation_id: str) -> None:
        """Releases the group of a reservation that no longer holds capacity (or is unknown):
        a release that failed earlier, or one a crash interrupted."""
        async with self._lock(reservation_id):
            current = self._capacity.get_reservation(reservation_id)
            if current is not None and current.state.holds_capacity:
                return  # activated meanwhile
            await self._release(reservation_id)
        self._locks.pop(reservation_id, None)
