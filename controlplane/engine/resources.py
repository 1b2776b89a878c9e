"""Resource pools, namespace quotas and reservations: validated, durable, and checked against
the capacity observed on the cluster.

Pools are recorded and their membership and capacity computed from the live nodes; realising
them as Ray placement groups and dispatching into them is the next step (ray_backend/pools.py
holds the primitives).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from controlplane.backend import AgentBackend
from controlplane.engine import paging
from controlplane.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    invalid,
)
from controlplane.store import SqliteStore
from controlplane.store.capacity import CapacityStore
from models.capacity import PoolRecord, PoolSpec, Reservation, ReservationState
from models.queueing import NamespacePolicy
from models.resources import NodeInfo, ResourceAmounts
from scheduler.cluster import fragmentation, select_nodes, total_capacity
from scheduler.reservations import find_conflict

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_RESERVATION_S = 366 * 24 * 3600.0


@dataclass(frozen=True)
class PoolView:
    record: PoolRecord
    nodes: list[NodeInfo]
    capacity: ResourceAmounts


@dataclass(frozen=True)
class ClusterView:
    nodes: list[NodeInfo]
    pools: list[PoolView]
    fragmentation: dict[str, float]
    observe_time: float


def _check_name(field: str, name: str) -> list[FieldViolation]:
    if NAME_RE.match(name) and len(name) <= 63:
        return []
    return [FieldViolation(field, "must be 1-63 lower-case letters, digits or '-'")]


def _check_amounts(field: str, amounts: ResourceAmounts) -> list[FieldViolation]:
    out = []
    for name in ("cpu", "memory", "gpu", *amounts.custom):
        if amounts.get(name) < 0:
            out.append(FieldViolation(f"{field}.{name}", "must not be negative"))
    return out


class ResourceManager:
    def __init__(
        self, store: SqliteStore, backend: AgentBackend, clock: Callable[[], float]
    ) -> None:
        self._capacity = CapacityStore(store)
        self._backend = backend
        self._clock = clock

    # -- cluster --------------------------------------------------------------------------

    async def _nodes(self) -> list[NodeInfo]:
        return await self._backend.observe_nodes()

    def _view(self, record: PoolRecord, nodes: list[NodeInfo]) -> PoolView:
        members = select_nodes(nodes, record.spec.selector)
        capacity = record.spec.share if record.spec.share is not None else total_capacity(members)
        return PoolView(record, members, capacity)

    async def cluster_state(self) -> ClusterView:
        nodes = await self._nodes()
        resources = sorted({name for n in nodes for name in n.capacity.names()})
        return ClusterView(
            nodes=nodes,
            pools=[self._view(r, nodes) for r in self._capacity.list_pools()],
            fragmentation={name: fragmentation(nodes, name) for name in resources},
            observe_time=self._clock(),
        )

    # -- pools ----------------------------------------------------------------------------

    def _validate_pool(self, spec: PoolSpec, nodes: list[NodeInfo]) -> None:
        problems = _check_name("pool.name", spec.name)
        if spec.share is not None:
            problems += _check_amounts("pool.share", spec.share)
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
        nodes = await self._nodes()
        self._validate_pool(spec, nodes)
        if self._capacity.get_pool(spec.name) is not None:
            raise AlreadyExists(
                f"pool {spec.name!r} exists", [FieldViolation("pool.name", "already exists")]
            )
        now = self._clock()
        record = PoolRecord(spec, now, now)
        await asyncio.to_thread(self._capacity.put_pool, record)
        return self._view(record, nodes)

    async def update_pool(self, spec: PoolSpec) -> PoolView:
        old = self._get_record(spec.name)
        nodes = await self._nodes()
        self._validate_pool(spec, nodes)
        record = PoolRecord(spec, old.create_time, self._clock())
        await asyncio.to_thread(self._capacity.put_pool, record)
        return self._view(record, nodes)

    def _get_record(self, name: str) -> PoolRecord:
        record = self._capacity.get_pool(name)
        if record is None:
            raise NotFound(f"pool {name!r} not found", [FieldViolation("name", "no such pool")])
        return record

    async def get_pool(self, name: str) -> PoolView:
        return self._view(self._get_record(name), await self._nodes())

    async def list_pools(self, page_size: int, page_token: str) -> tuple[list[PoolView], str]:
        size = paging.page_size(page_size)
        after = paging.decode(page_token, "pools") or ""
        records = self._capacity.list_pools(str(after), size + 1)
        more = len(records) > size
        records = records[:size]
        nodes = await self._nodes()
        token = paging.encode(records[-1].spec.name, "pools") if more else ""
        return [self._view(r, nodes) for r in records], token

    async def delete_pool(self, name: str) -> None:
        self._get_record(name)
        holding = self._capacity.reservations_in_pool(name)
        if holding:
            raise FailedPrecondition(
                f"pool {name!r} has {len(holding)} pending or active reservations",
                [FieldViolation("name", f"reservation {holding[0].reservation_id} holds capacity")],
            )
        await asyncio.to_thread(self._capacity.delete_pool, name)

    # -- quotas ---------------------------------------------------------------------------

    async def set_quota(self, policy: NamespacePolicy) -> NamespacePolicy:
        problems = _check_name("quota.namespace", policy.name)
        if policy.quota.max_resources is not None:
            problems += _check_amounts("quota.max", policy.quota.max_resources)
        for field, value in (
            ("quota.max_replicas", policy.quota.max_replicas),
            ("quota.max_concurrent_executions", policy.quota.max_concurrent_executions),
        ):
            if value is not None and value < 0:
                problems.append(FieldViolation(field, "must not be negative"))
        if problems:
            raise InvalidArgument("invalid quota", problems)
        await asyncio.to_thread(self._capacity.put_namespace, policy)
        return policy

    def get_quota(self, namespace: str) -> NamespacePolicy:
        """A namespace that was never configured has the defaults (weight 1, no limits)."""
        if _check_name("namespace", namespace):
            raise InvalidArgument("invalid namespace", _check_name("namespace", namespace))
        return self._capacity.get_namespace(namespace) or NamespacePolicy(namespace)

    # -- reservations ---------------------------------------------------------------------

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
        problems = _check_name("namespace", namespace) + _check_amounts("resources", resources)
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
        view = await self.get_pool(pool)
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
        if not reservation_id:
            raise invalid("reservation_id", "is required")
        found = self._capacity.get_reservation(reservation_id)
        if found is None:
            raise NotFound(
                f"reservation {reservation_id!r} not found",
                [FieldViolation("reservation_id", "no such reservation")],
            )
        return self._expire(found)

    def _expire(self, reservation: Reservation) -> Reservation:
        """A reservation whose window has passed reads as EXPIRED (and is stored so)."""
        if reservation.state.holds_capacity and reservation.end_time <= self._clock():
            reservation = replace(reservation, state=ReservationState.EXPIRED)
            self._capacity.put_reservation(reservation)
        return reservation

    async def cancel_reservation(self, reservation_id: str) -> Reservation:
        found = self.get_reservation(reservation_id)
        if not found.state.holds_capacity:
            raise FailedPrecondition(
                f"reservation is already {found.state.value}",
                [FieldViolation("reservation_id", f"reservation is {found.state.value}")],
            )
        cancelled = replace(found, state=ReservationState.CANCELLED, message="cancelled by request")
        await asyncio.to_thread(self._capacity.put_reservation, cancelled)
        return cancelled

    # -- what the dispatcher hands out ----------------------------------------------------

    def active_reservations(self) -> list[Reservation]:
        """Reservations whose window is open now (their capacity is not for the queue)."""
        now = self._clock()
        return [
            r
            for pool in self._capacity.list_pools()
            for r in self._capacity.reservations_in_pool(pool.spec.name)
            if r.state.holds_capacity and r.start_time <= now < r.end_time
        ]
