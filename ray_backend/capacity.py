"""RayCapacityBackend: pools and reservations held as detached, named Ray placement groups.

Names are deterministic, so every operation looks the group up first and creates it only when
it is missing (idempotent; a restarted control plane re-attaches to what it made before):

- ``pool:<name>:<generation>``: a pool; every update of the pool is a new generation (the
  new group is created before the old one is removed, and Ray rejects a second live group of
  the same name in a namespace, hence the generation);
- ``reservation:<id>``: a reservation's window.

Groups are created with ``lifetime="detached"`` in the control plane's Ray namespace (names are
unique per namespace), so they outlive the driver.

On node loss Ray keeps the group and moves it to RESCHEDULING: the bundles that were on the
dead node are placed again, on any node their label selector allows, and actors that ran in
them (with restarts left) are restarted inside the group once their bundle has a node. A
bundle with no node to go to keeps the group RESCHEDULING until one joins.

Blocking Ray calls run in worker threads (``asyncio.to_thread``); waiting for a group to be
placed polls its state rather than parking a thread in ``PlacementGroup.wait``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import ray
from ray.exceptions import RaySystemError
from ray.util.placement_group import (
    PlacementGroup,
    placement_group_table,
    remove_placement_group,
)

from models.backend import CapacityRequest, HeldCapacity
from models.resources import PoolRealization, RealizationState, ResourceAmounts
from ray_backend import pools
from ray_backend.cluster_state import resources_from_ray

log = logging.getLogger(__name__)

POOL_PREFIX = "pool:"
RESERVATION_PREFIX = "reservation:"
# Ray's names for the states of a placement group (placement_group_table()["state"]).
_STATES = {
    "CREATED": RealizationState.READY,
    "RESCHEDULING": RealizationState.RESCHEDULING,
}
# Why a group is not placed yet, from its scheduling state (stats.scheduling_state).
_REASONS = {
    "INFEASIBLE": "no node the selector allows can fit a bundle",
    "NO_RESOURCES": "the nodes the selector allows have no room now",
    "FAILED_TO_COMMIT_RESOURCES": "a node refused the bundles; Ray retries",
}


def pool_group_name(pool: str, generation: int) -> str:
    return f"{POOL_PREFIX}{pool}:{generation}"


def reservation_group_name(reservation_id: str) -> str:
    return f"{RESERVATION_PREFIX}{reservation_id}"


def parse_pool_group_name(name: str) -> tuple[str, int] | None:
    """(pool, generation) of a pool group's name, else None."""
    if not name.startswith(POOL_PREFIX):
        return None
    pool, sep, generation = name[len(POOL_PREFIX) :].rpartition(":")
    if not sep or not pool or not generation.isdigit():
        return None
    return pool, int(generation)


def _is_nil(node_id: str) -> bool:
    return not node_id or set(node_id) <= {"0"} or set(node_id) <= {"f"}


def realization_from_table(name: str, info: Mapping[str, Any]) -> PoolRealization:
    """A PoolRealization from one ``placement_group_table`` entry."""
    bundles: Mapping[int, Mapping[str, float]] = info.get("bundles") or {}
    placed: Mapping[int, str] = info.get("bundles_to_node_id") or {}
    node_ids: list[str] = []
    for index in sorted(placed):
        node_id = str(placed[index])
        if not _is_nil(node_id) and node_id not in node_ids:
            node_ids.append(node_id)
    unplaced = sum(1 for index in bundles if _is_nil(str(placed.get(index, ""))))
    state = _STATES.get(str(info.get("state")), RealizationState.PENDING)
    stats = info.get("stats") or {}
    reason = _REASONS.get(str(stats.get("scheduling_state")), "Ray is placing the bundles")
    if state is RealizationState.READY:
        message = ""
    elif state is RealizationState.RESCHEDULING:
        message = (
            f"{unplaced} of {len(bundles)} bundles lost their node; Ray is placing them on "
            f"other matching nodes ({reason})"
        )
    else:
        message = f"{len(bundles) - unplaced} of {len(bundles)} bundles placed: {reason}"
    return PoolRealization(
        name=name,
        node_ids=tuple(node_ids),
        capacity=ResourceAmounts.total([resources_from_ray(b) for b in bundles.values()]),
        placement_group_id=str(info.get("placement_group_id", "")),
        state=state,
        message=message,
    )


# ---------------------------------------------------------------------------- blocking helpers


class NotConnected(RuntimeError):
    """This process is not a Ray driver (Ray's API would start a local cluster instead)."""


def _require_connection() -> None:
    if not ray.is_initialized():
        raise NotConnected("not connected to a Ray cluster")


def _status(name: str) -> PoolRealization | None:
    """The live group called ``name`` in this driver's namespace, as Ray reports it now."""
    _require_connection()
    pg = pools.lookup_pool(name)
    if pg is None:
        return None
    info: dict[str, Any] = placement_group_table(pg)
    if not info or info.get("state") == "REMOVED":
        return None
    return realization_from_table(name, info)


def _ensure(name: str, request: CapacityRequest) -> bool:
    """Creates the detached group ``name`` unless it exists (a racing creator may win);
    True if this call created it."""
    _require_connection()
    if pools.lookup_pool(name) is not None:
        return False
    bundles = [pools.bundle_from_amounts(b) for b in request.bundles]
    try:
        pools.create_pool_placement_group(
            name,
            bundles,
            request.strategy,
            list(request.node_ids) or None,
            label_selector=request.labels,
            detached=True,
        )
    except RaySystemError as exc:
        if "already exists" not in str(exc):
            raise
        log.debug("placement group %s was created meanwhile", name)
        return False
    return True


def _ours(names: list[str]) -> dict[str, PlacementGroup]:
    """Of the group names seen in the cluster-wide table, those live in this namespace (the
    table covers every namespace; a lookup by name answers for this driver's namespace)."""
    out: dict[str, PlacementGroup] = {}
    for name in names:
        pg = pools.lookup_pool(name)
        if pg is not None:
            out[name] = pg
    return out


def _live_names(prefix: str) -> list[str]:
    table: dict[str, dict[str, Any]] = placement_group_table()
    return sorted(
        {
            str(info.get("name", ""))
            for info in table.values()
            if str(info.get("name", "")).startswith(prefix) and info.get("state") != "REMOVED"
        }
    )


def _remove(name: str) -> None:
    _require_connection()
    pg = pools.lookup_pool(name)
    if pg is not None:
        remove_placement_group(pg)


def _remove_pool_groups(pool: str, keep_generation: int | None) -> None:
    _require_connection()
    for name in _live_names(f"{POOL_PREFIX}{pool}:"):
        parsed = parse_pool_group_name(name)
        if parsed is None or parsed[0] != pool or parsed[1] == keep_generation:
            continue
        log.info("removing placement group %s", name)
        _remove(name)


def _held() -> HeldCapacity:
    if not ray.is_initialized():
        return HeldCapacity()  # not connected: this driver holds nothing
    found = _ours(_live_names(POOL_PREFIX) + _live_names(RESERVATION_PREFIX))
    generations: dict[str, list[int]] = {}
    reservations: set[str] = set()
    for name in found:
        parsed = parse_pool_group_name(name)
        if parsed is not None:
            generations.setdefault(parsed[0], []).append(parsed[1])
        elif name.startswith(RESERVATION_PREFIX):
            reservations.add(name[len(RESERVATION_PREFIX) :])
    return HeldCapacity(
        pools={pool: tuple(sorted(gens)) for pool, gens in generations.items()},
        reservations=frozenset(reservations),
    )


def find_pool_group(pool: str) -> PlacementGroup | None:
    """The newest live group of ``pool`` in this driver's namespace (what replicas of agents
    in the pool are scheduled into). Blocking."""
    _require_connection()
    candidates = sorted(
        (parsed[1], name)
        for name in _live_names(f"{POOL_PREFIX}{pool}:")
        if (parsed := parse_pool_group_name(name)) is not None and parsed[0] == pool
    )
    for _, name in reversed(candidates):
        pg = pools.lookup_pool(name)
        if pg is not None:
            return pg
    return None


# ---------------------------------------------------------------------------- the backend


class RayCapacityBackend:
    """The engine's CapacityBackend on Ray (shares the driver connection of the agent
    backend, which connects first)."""

    def __init__(self, poll_interval_s: float = 0.25) -> None:
        self._poll_interval_s = poll_interval_s

    async def _await_ready(self, name: str, wait_s: float) -> PoolRealization:
        deadline = time.monotonic() + wait_s
        delay = 0.02
        while True:
            status = await asyncio.to_thread(_status, name)
            if status is None:
                raise RuntimeError(f"placement group {name} disappeared")
            remaining = deadline - time.monotonic()
            if status.state is RealizationState.READY or remaining <= 0:
                return status
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self._poll_interval_s)

    async def realize_pool(
        self, pool: str, generation: int, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        name = pool_group_name(pool, generation)
        created = await asyncio.to_thread(_ensure, name, request)
        return await self._await_ready(name, wait_s if created else 0.0)

    async def pool_status(self, pool: str, generation: int) -> PoolRealization | None:
        return await asyncio.to_thread(_status, pool_group_name(pool, generation))

    async def remove_pool(self, pool: str, keep_generation: int | None = None) -> None:
        await asyncio.to_thread(_remove_pool_groups, pool, keep_generation)

    async def hold(
        self, reservation_id: str, request: CapacityRequest, wait_s: float
    ) -> PoolRealization:
        name = reservation_group_name(reservation_id)
        created = await asyncio.to_thread(_ensure, name, request)
        return await self._await_ready(name, wait_s if created else 0.0)

    async def reservation_status(self, reservation_id: str) -> PoolRealization | None:
        return await asyncio.to_thread(_status, reservation_group_name(reservation_id))

    async def release(self, reservation_id: str) -> None:
        await asyncio.to_thread(_remove, reservation_group_name(reservation_id))

    async def held(self) -> HeldCapacity:
        return await asyncio.to_thread(_held)
