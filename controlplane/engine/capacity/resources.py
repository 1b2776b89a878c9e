"""Resource pools, namespace quotas and reservations: validated, durable, and checked against
the capacity observed on the cluster.

Pools are recorded durably first, then realised on the cluster as placement groups through the
CapacityBackend (one group per pool generation, see ``capacity_requests``), so the cluster
enforces them; replicas of agents deployed into a pool run inside its group. A group that
goes missing is created again by the pool loop (``pool_loop``), which then moves the pool's
replicas into it. Reservations hold their capacity in a group of their own while their window
is open; the reservation loop (``reservation_loop``) opens and closes the windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace

from controlplane.engine import paging
from controlplane.engine.capacity.pool_loop import PoolObservation, retry_delay_s
from controlplane.engine.capacity.requests import (
    NoLiveMembers,
    pool_generation,
    pool_request,
    reservation_request,
)
from controlplane.engine.capacity.reservation_loop import ended
from controlplane.ports import AgentBackend, CapacityBackend
from controlplane.store import SqliteStore
from controlplane.store.capacity import CapacityStore
from models.agents import ReplicaResources, ReplicaState
from models.backend import AgentUnavailable
from models.capacity import (
    POOL_REPAIR_LIFECYCLE,
    RESERVATION_LIFECYCLE,
    ClusterView,
    PoolRecord,
    PoolRepair,
    PoolRepairPhase,
    PoolSpec,
    PoolView,
    Reservation,
    ReservationState,
)
from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    invalid,
)
from models.queueing import NamespacePolicy
from models.resources import NodeInfo, RealizationState, ResourceAmounts
from scheduler.cluster import fragmentation, select_nodes, total_capacity
from scheduler.reservations import find_conflict

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_RESERVATION_S = 366 * 24 * 3600.0
# How long a pool update waits for the old replicas of an agent in the pool to stop.
REPLACE_TIMEOUT_S = 60.0
# Replicas in these states occupy a slot of their pool's placement group.
_PLACED = (ReplicaState.READY, ReplicaState.DRAINING)
NO_GROUP = "no placement group on the cluster"


def _check_name(field: str, name: str) -> list[FieldViolation]:
    if NAME_RE.match(name) and len(name) <= 63:
        return []
    return [FieldViolation(field, "must be 1-63 lower-case letters, digits or '-'")]


def replica_amounts(resources: ReplicaResources, count: int = 1) -> ResourceAmounts:
    """What ``count`` replicas of this size hold."""
    return ResourceAmounts(
        cpu=resources.num_cpus * count,
        memory=resources.memory * count,
        gpu=resources.num_gpus * count,
        custom={k: v * count for k, v in sorted(resources.custom.items())},
    )


def _check_amounts(field: str, amounts: ResourceAmounts) -> list[FieldViolation]:
    out = []
    for name in ("cpu", "memory", "gpu", *amounts.custom):
        if amounts.get(name) < 0:
            out.append(FieldViolation(f"{field}.{name}", "must not be negative"))
    return out


class ResourceManager:
    def __init__(
        self,
        store: SqliteStore,
        backend: AgentBackend,
        clock: Callable[[], float],
        placement: CapacityBackend,
        *,
        ready_wait_s: float = 2.0,
    ) -> None:
        self._store = store
        self._capacity = CapacityStore(store)
        self._backend = backend
        self._placement = placement
        self._clock = clock
        # How long a call waits for Ray to place a new group before answering PENDING.
        self._ready_wait_s = ready_wait_s
        self._pool_lock = asyncio.Lock()
        self._reservation_locks: dict[str, asyncio.Lock] = {}

    # -- cluster --------------------------------------------------------------------------

    async def _nodes(self) -> list[NodeInfo]:
        return await self._backend.observe_nodes()

    def _allocated_by_pool(self) -> dict[str, ResourceAmounts]:
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

    def _view(
        self,
        record: PoolRecord,
        nodes: list[NodeInfo],
        allocated: Mapping[str, ResourceAmounts] | None = None,
    ) -> PoolView:
        members = select_nodes(nodes, record.spec.selector)
        capacity = record.spec.share if record.spec.share is not None else total_capacity(members)
        used = (allocated or {}).get(record.spec.name, ResourceAmounts())
        return PoolView(record, members, capacity, allocated=used)

    async def cluster_state(self) -> ClusterView:
        nodes = await self._nodes()
        resources = sorted({name for n in nodes for name in n.capacity.names()})
        allocated = self._allocated_by_pool()
        return ClusterView(
            nodes=nodes,
            pools=[self._view(r, nodes, allocated) for r in self._capacity.list_pools()],
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

    async def _realize(self, view: PoolView) -> PoolView:
        """Finds or creates the group of the pool's current generation (waiting briefly for
        Ray to place it), then removes the groups of other generations."""
        spec = view.record.spec
        generation = pool_generation(view.record)
        try:
            request = pool_request(spec, view.nodes)
        except NoLiveMembers as exc:
            # Nothing to create the group on; one made earlier may still be there.
            found = await self._with_status(view)
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

    async def _with_status(self, view: PoolView) -> PoolView:
        """The view with the placement group as Ray reports it now."""
        spec = view.record.spec
        try:
            status = await self._placement.pool_status(spec.name, pool_generation(view.record))
        except Exception as exc:
            return replace(view, message=f"could not read the placement group: {exc}")
        if status is None:
            return replace(view, message=NO_GROUP)
        return replace(view, realization=status)

    def _repair_of(self, record: PoolRecord) -> PoolRepair | None:
        """The repair record of the pool's current generation (None: none, or stale)."""
        repair = self._capacity.get_pool_repair(record.spec.name)
        if repair is None or repair.generation != pool_generation(record):
            return None
        return repair

    def _describe(self, view: PoolView) -> PoolView:
        """The view as GetPool shows it: with where the repair of a lost group stands."""
        repair = self._repair_of(view.record)
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

    async def create_pool(self, spec: PoolSpec) -> PoolView:
        async with self._pool_lock:
            nodes = await self._nodes()
            self._validate_pool(spec, nodes)
            if self._capacity.get_pool(spec.name) is not None:
                raise AlreadyExists(
                    f"pool {spec.name!r} exists", [FieldViolation("pool.name", "already exists")]
                )
            now = self._clock()
            record = PoolRecord(spec, now, now)
            await asyncio.to_thread(self._capacity.put_pool, record)  # durable, then Ray
            return await self._realize(self._view(record, nodes, self._allocated_by_pool()))

    async def update_pool(self, spec: PoolSpec) -> PoolView:
        """A changed spec is a new generation: its group is created, then the old one removed
        and the replicas of agents in the pool (which Ray cannot restart once their group is
        gone) replaced by new ones in the new group. The same spec again repairs the group
        if it went missing, as the pool loop does (re-created, replicas moved into it)."""
        async with self._pool_lock:
            old = self._get_record(spec.name)
            nodes = await self._nodes()
            self._validate_pool(spec, nodes)
            if spec == old.spec:
                # Nothing changed: re-creates the group (and moves the replicas) if it is lost.
                return self._describe(await self._repair_locked(old))
            # Strictly later, so the new generation never shares the old group's name.
            record = PoolRecord(spec, old.create_time, max(self._clock(), old.update_time + 0.001))
            await asyncio.to_thread(self._capacity.put_pool, record)
            view = await self._realize(self._view(record, nodes, self._allocated_by_pool()))
            if view.realization is None:  # the new group was not made: the old one stays
                return view
            agents, _ = await self._replace_pooled_replicas(spec.name)
            if not agents:
                return view
            return await self._with_status(
                self._view(record, await self._nodes(), self._allocated_by_pool())
            )

    def _agents_in(self, pool: str) -> list[str]:
        return sorted(r.spec.name for r in self._store.list_agents() if r.spec.pool == pool)

    async def _replace_pooled_replicas(self, pool: str) -> tuple[list[str], list[str]]:
        """Replaces the replicas of every agent in ``pool`` (after their group was removed,
        Ray keeps them restarting forever): scaled to zero (their in-flight attempts end as
        crashed and are retried), then deployed again as stored, so they are created in the
        pool's current group (also when an earlier try left none). Leases wait meanwhile. The
        agents in the pool, and those whose replicas could not be replaced."""
        names = self._agents_in(pool)
        failed: list[str] = []
        for name in names:
            try:
                with contextlib.suppress(AgentUnavailable):  # none running: none to stop
                    await self._backend.scale(name, 0)
                deadline = asyncio.get_running_loop().time() + REPLACE_TIMEOUT_S
                while self._backend.replicas(name):
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"replicas of {name} did not stop")
                    await asyncio.sleep(0.05)
                current = self._store.get_agent(name)
                if current is not None:
                    await self._backend.deploy(current.spec)
            except Exception:
                log.exception("could not move the replicas of %s into pool %s", name, pool)
                failed.append(name)
        return names, failed

    def _get_record(self, name: str) -> PoolRecord:
        record = self._capacity.get_pool(name)
        if record is None:
            raise NotFound(f"pool {name!r} not found", [FieldViolation("name", "no such pool")])
        return record

    async def get_pool(self, name: str) -> PoolView:
        record = self._get_record(name)
        view = self._view(record, await self._nodes(), self._allocated_by_pool())
        return self._describe(await self._with_status(view))

    async def list_pools(self, page_size: int, page_token: str) -> tuple[list[PoolView], str]:
        size = paging.page_size(page_size)
        after = paging.decode(page_token, "pools") or ""
        records = self._capacity.list_pools(str(after), size + 1)
        more = len(records) > size
        records = records[:size]
        nodes = await self._nodes()
        allocated = self._allocated_by_pool()
        token = paging.encode(records[-1].spec.name, "pools") if more else ""
        views = [
            self._describe(await self._with_status(self._view(r, nodes, allocated)))
            for r in records
        ]
        return views, token

    async def delete_pool(self, name: str) -> None:
        async with self._pool_lock:
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
            agents = sorted(r.spec.name for r in self._store.list_agents() if r.spec.pool == name)
            if agents:
                raise FailedPrecondition(
                    f"pool {name!r} runs agents {', '.join(agents)}",
                    [FieldViolation("name", f"agent {agents[0]} is deployed into the pool")],
                )
            await asyncio.to_thread(self._capacity.delete_pool, name)
            try:
                await self._placement.remove_pool(name)
            except Exception:  # the next restore removes what is left
                log.exception("could not remove the placement groups of pool %s", name)

    async def restore(self) -> None:
        """On start: re-attaches to (or re-creates) the group of every stored pool and removes
        groups of pools deleted while no control plane ran. Never raises: a pool that cannot
        be realised now reports why in its view."""
        async with self._pool_lock:
            records = self._capacity.list_pools()
            if records:
                nodes = await self._nodes()
                for record in records:
                    view = await self._restore_pool(self._view(record, nodes))
                    log.info(
                        "pool %s: %s %s", record.spec.name, view.state.value, view.state_message
                    )
            try:
                held = await self._placement.held()
                stored = {r.spec.name for r in records}
                for pool in set(held.pools) - stored:
                    log.info("removing the placement groups of deleted pool %s", pool)
                    await self._placement.remove_pool(pool)
            except Exception:
                log.exception("could not list the placement groups on the cluster")

    async def _restore_pool(self, view: PoolView) -> PoolView:
        """A group lost while no control plane ran (or whose repair a stop interrupted) is
        repaired as the pool loop does, except that the replicas stuck in the lost group are
        killed rather than replaced: the agents' restore, which runs next, starts them again
        in the pool's group (and the pool loop, if the group is not placed yet)."""
        record = view.record
        try:
            status = await self._placement.pool_status(record.spec.name, pool_generation(record))
        except Exception:
            return await self._realize(view)
        repair = self._repair_of(record)
        if status is not None and (repair is None or not repair.outstanding):
            return await self._realize(view)
        view = await (self._recreate_locked(view) if status is None else self._realize(view))
        # Stopped either way: attaching to them would wait for replicas that never come back.
        agents = self._agents_in(record.spec.name)
        for agent in agents:
            try:
                await self._backend.remove(agent)  # not from the store: only its replicas
            except Exception:
                log.exception("could not stop the stale replicas of %s", agent)
        repair = self._repair_of(record)
        if view.state is RealizationState.READY and repair is not None:
            healed = self._healed(repair, agents, "are started in it again")
            await self._put_repair(healed)
        return view

    # -- what the pool loop acts through --------------------------------------------------

    async def observe_pools(self) -> list[PoolObservation]:
        """Every stored pool's current generation and its group as Ray reports it now."""
        out: list[PoolObservation] = []
        for record in self._capacity.list_pools():
            name, generation = record.spec.name, pool_generation(record)
            try:
                status = await self._placement.pool_status(name, generation)
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
        async with self._pool_lock:
            record = self._capacity.get_pool(name)
            if record is None or pool_generation(record) != generation:
                return None
            return await self._repair_locked(record)

    async def move_pool_replicas(self, name: str, generation: int) -> PoolView | None:
        """Moves the replicas of the pool's agents into its re-created group, once placed."""
        async with self._pool_lock:
            record = self._capacity.get_pool(name)
            if record is None or pool_generation(record) != generation:
                return None
            view = await self._with_status(
                self._view(record, await self._nodes(), self._allocated_by_pool())
            )
            if view.state is RealizationState.READY and await self._move_locked(record):
                return await self._with_status(
                    self._view(record, await self._nodes(), self._allocated_by_pool())
                )
            return view

    async def _put_repair(self, repair: PoolRepair) -> None:
        await asyncio.to_thread(self._capacity.put_pool_repair, repair)

    async def _repair_locked(self, record: PoolRecord) -> PoolView:
        """The group of the pool's current generation, created again if it is missing; once
        it is placed, the replicas of an unfinished repair are moved into it."""
        view = self._view(record, await self._nodes(), self._allocated_by_pool())
        try:
            status = await self._placement.pool_status(record.spec.name, pool_generation(record))
        except Exception as exc:
            return replace(view, message=f"could not read the placement group: {exc}")
        view = await (self._recreate_locked(view) if status is None else self._realize(view))
        if view.state is RealizationState.READY and await self._move_locked(record):
            return await self._with_status(
                self._view(record, await self._nodes(), self._allocated_by_pool())
            )
        return view

    async def _recreate_locked(self, view: PoolView) -> PoolView:
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
        await self._put_repair(lost)  # durable before Ray is asked
        if not again:
            log.warning(
                "pool %s: its placement group (generation %d) is gone; creating it again",
                name,
                generation,
            )
        result = await self._realize(view)
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
            await self._put_repair(failed)
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
        await self._put_repair(recreated)
        log.info("pool %s: placement group created again (%s)", name, result.state.value)
        return result

    async def _move_locked(self, record: PoolRecord) -> bool:
        """Replaces the replicas of the pool's agents (they died with the lost group) by new
        ones in its current group, then records HEALED (or the failure, to try again later).
        True if the pool has agents."""
        repair = self._repair_of(record)
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
        await self._put_repair(moving)  # durable before the replicas are touched
        agents, failed = await self._replace_pooled_replicas(name)
        now = self._clock()
        if failed:
            attempts = moving.attempts + 1
            delay = retry_delay_s(attempts)
            await self._put_repair(
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
        await self._put_repair(self._healed(moving, agents, "were moved into it"))
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
        async with self._reservation_lock(reservation_id):
            found = self.get_reservation(reservation_id)
            if not found.state.holds_capacity:
                raise FailedPrecondition(
                    f"reservation is already {found.state.value}",
                    [FieldViolation("reservation_id", f"reservation is {found.state.value}")],
                )
            cancelled = RESERVATION_LIFECYCLE.replaced(
                found, ReservationState.CANCELLED, message="cancelled by request"
            )
            await self._put_reservation(cancelled)
            await self._release(reservation_id)
        self._reservation_locks.pop(reservation_id, None)
        return cancelled

    # -- what the reservation loop acts through -------------------------------------------

    def _reservation_lock(self, reservation_id: str) -> asyncio.Lock:
        return self._reservation_locks.setdefault(reservation_id, asyncio.Lock())

    async def _put_reservation(self, reservation: Reservation) -> None:
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
        async with self._reservation_lock(reservation_id):
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
                await self._put_reservation(updated)
            return updated

    async def _hold(self, reservation: Reservation, pool: PoolRecord) -> Reservation:
        members = select_nodes(await self._nodes(), pool.spec.selector)
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
        async with self._reservation_lock(reservation_id):
            current = self._capacity.get_reservation(reservation_id)
            over = None if current is None else ended(current, self._clock())
            if over is None:
                return current
            await self._put_reservation(over)
            await self._release(reservation_id)
        self._reservation_locks.pop(reservation_id, None)
        return over

    async def release_orphan(self, reservation_id: str) -> None:
        """Releases the group of a reservation that no longer holds capacity (or is unknown):
        a release that failed earlier, or one a crash interrupted."""
        async with self._reservation_lock(reservation_id):
            current = self._capacity.get_reservation(reservation_id)
            if current is not None and current.state.holds_capacity:
                return  # activated meanwhile
            await self._release(reservation_id)
        self._reservation_locks.pop(reservation_id, None)

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
