"""Resource pools and reservations realised as Ray placement groups, so Ray enforces them.

A pool is a placement group: its bundles reserve the pool's share on the chosen nodes, and
actors/tasks that must run inside the pool are scheduled with
``PlacementGroupSchedulingStrategy`` (``actor_options_for_pool``). A reservation is the same
thing with a time window: ``reserve`` at the window start, ``release`` at its end.

Bundles are pinned to nodes with per-bundle label selectors (``bundle_label_selector``, Ray
>= 2.49): every node carries Ray's default label ``ray.io/node-id`` (its hex id), so
``{"ray.io/node-id": "<id>"}`` pins a bundle to one node and ``"in(<id1>,<id2>)"`` to a set.
(``node:<ip>`` resources cannot tell apart nodes that share an IP, as in local test clusters.)
User labels (``zone``, ``tier``...) use the same selector syntax.

Every function here blocks on Ray (or is cheap); callers on the event loop wrap the blocking
ones in ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.util.placement_group import (
    PlacementGroup,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from models.resources import (
    NodeInfo,
    PlacementStrategy,
    PoolRealization,
    ResourceAmounts,
)
from ray_backend.cluster_state import resources_from_ray, resources_to_ray

# Ray's default label naming a node by its hex id (set on every node).
NODE_ID_LABEL = "ray.io/node-id"

Bundle = dict[str, float]


# ---------------------------------------------------------------------------- node selection


# ---------------------------------------------------------------------------- bundles


def bundle_from_amounts(amounts: ResourceAmounts) -> Bundle:
    """One bundle holding ``amounts`` (a pool's share, or a slice of it)."""
    bundle = resources_to_ray(amounts)
    if not bundle:
        raise ValueError("a bundle must reserve some resource")
    return bundle


def whole_node_bundles(nodes: Sequence[NodeInfo]) -> list[Bundle]:
    """One bundle per node holding that node's entire capacity (cpu, memory, gpu, custom)."""
    return [bundle_from_amounts(n.capacity) for n in nodes]


def node_id_selector(node_ids: Sequence[str]) -> str:
    """The label-selector value matching any of ``node_ids``."""
    if not node_ids:
        raise ValueError("node_ids must not be empty")
    return node_ids[0] if len(node_ids) == 1 else f"in({','.join(node_ids)})"


def bundle_label_selectors(
    count: int,
    node_ids: Sequence[str] | None = None,
    label_selector: Mapping[str, str] | None = None,
    *,
    pin_each: bool = False,
) -> list[dict[str, str]]:
    """Per-bundle label selectors: every bundle gets ``label_selector``; with ``node_ids``
    every bundle may go to any of them, or with ``pin_each`` bundle i goes to node_ids[i]."""
    base = dict(label_selector or {})
    if node_ids and NODE_ID_LABEL in base:
        raise ValueError(f"give node_ids or a {NODE_ID_LABEL!r} label selector, not both")
    if not node_ids:
        return [dict(base) for _ in range(count)]
    if pin_each:
        if len(node_ids) != count:
            raise ValueError(f"pin_each needs one node id per bundle ({count}), got {node_ids}")
        return [{**base, NODE_ID_LABEL: node_id} for node_id in node_ids]
    allowed = node_id_selector(list(node_ids))
    return [{**base, NODE_ID_LABEL: allowed} for _ in range(count)]


# ---------------------------------------------------------------------------- placement groups


def create_pool_placement_group(
    name: str,
    bundles: Sequence[Mapping[str, float]],
    strategy: PlacementStrategy,
    node_ids: Sequence[str] | None = None,
    *,
    label_selector: Mapping[str, str] | None = None,
    pin_each: bool = False,
    detached: bool = False,
) -> PlacementGroup:
    """Asks Ray to reserve ``bundles`` laid out by ``strategy``; returns at once.

    ``node_ids`` restricts every bundle to those nodes (``pin_each``: bundle i to node i);
    ``label_selector`` (Ray selector syntax) applies to every bundle. ``detached`` keeps the
    group alive when this driver exits (a restarted control plane finds it by ``name``).
    Use ``wait_ready`` to learn whether Ray could place it.
    """
    if not bundles:
        raise ValueError("a pool needs at least one bundle")
    selectors = bundle_label_selectors(len(bundles), node_ids, label_selector, pin_each=pin_each)
    return placement_group(
        [{k: float(v) for k, v in b.items()} for b in bundles],
        strategy=strategy.value,
        name=name,
        lifetime="detached" if detached else None,
        bundle_label_selector=selectors if any(selectors) else None,
    )


def create_whole_node_pool(
    name: str, nodes: Sequence[NodeInfo], *, detached: bool = False
) -> PlacementGroup:
    """A pool owning ``nodes`` entirely: one capacity-sized bundle pinned to each node,
    STRICT_SPREAD. Only placeable while nothing else holds resources on those nodes."""
    return create_pool_placement_group(
        name,
        whole_node_bundles(nodes),
        PlacementStrategy.STRICT_SPREAD,
        [n.node_id for n in nodes],
        pin_each=True,
        detached=detached,
    )


def wait_ready(pg: PlacementGroup, timeout: float) -> bool:
    """Blocks until Ray has placed every bundle (True) or ``timeout`` seconds pass (False)."""
    return bool(pg.wait(timeout_seconds=timeout))


def remove_pool(pg: PlacementGroup) -> None:
    """Gives the reservation back (idempotent); actors and tasks inside the group are killed."""
    remove_placement_group(pg)


def lookup_pool(name: str) -> PlacementGroup | None:
    """The live placement group called ``name`` in this namespace, if any."""
    try:
        return get_placement_group(name)
    except ValueError:
        return None


def placement_group_id(pg: PlacementGroup) -> str:
    return str(pg.id.hex())


def pool_realization(name: str, pg: PlacementGroup) -> PoolRealization:
    """Where the pool's bundles landed (empty ``node_ids`` until Ray has placed them)."""
    table: dict[str, Any] = placement_group_table(pg)
    bundles: Mapping[int, Mapping[str, float]] = table.get("bundles") or {}
    placed: Mapping[int, str] = table.get("bundles_to_node_id") or {}
    node_ids: list[str] = []
    for index in sorted(placed):
        node_id = str(placed[index])
        if node_id and node_id not in node_ids:
            node_ids.append(node_id)
    capacity = ResourceAmounts.total([resources_from_ray(b) for b in bundles.values()])
    return PoolRealization(
        name=name,
        node_ids=tuple(node_ids),
        capacity=capacity,
        placement_group_id=placement_group_id(pg),
    )


def actor_options_for_pool(
    pg: PlacementGroup, bundle_index: int = -1, *, capture_child_tasks: bool = False
) -> dict[str, Any]:
    """``.options(**...)`` for an actor or task that must run inside the pool.

    ``bundle_index`` -1 lets Ray pick any bundle with room. The actor's own resource request
    (``num_cpus``, ``resources``) is drawn from the bundle, so it must fit into one bundle.
    """
    return {
        "scheduling_strategy": PlacementGroupSchedulingStrategy(
            placement_group=pg,
            placement_group_bundle_index=bundle_index,
            placement_group_capture_child_tasks=capture_child_tasks,
        )
    }


# ---------------------------------------------------------------------------- reservations


def reserve(
    bundles: Sequence[Mapping[str, float]],
    strategy: PlacementStrategy,
    *,
    name: str = "",
    node_ids: Sequence[str] | None = None,
    label_selector: Mapping[str, str] | None = None,
    detached: bool = False,
) -> PlacementGroup:
    """Holds capacity for a reservation window (call at the window start; returns at once)."""
    return create_pool_placement_group(
        name, bundles, strategy, node_ids, label_selector=label_selector, detached=detached
    )


def release(handle: PlacementGroup) -> None:
    """Ends a reservation window: the held resources return to the cluster."""
    remove_pool(handle)
