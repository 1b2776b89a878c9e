"""Observing the Ray cluster: nodes, their labels, capacity and unreserved resources.

Every function that talks to Ray blocks; callers on the event loop run it with
``asyncio.to_thread(observe_nodes)``.

Ray APIs used (Ray 2.60):

- ``ray.nodes()`` (DeveloperAPI; the GCS node table): id, address, ``Alive`` (dead nodes stay
  listed with ``Alive: False``), total ``Resources`` and ``Labels``. Labels include the custom
  ones given to ``ray start --labels`` / ``Cluster.add_node(labels=...)`` and Ray's defaults such
  as ``ray.io/node-id``.
- ``ray._private.state.available_resources_per_node()`` (DeveloperAPI, exported for tests and
  tools): what each live node still has unreserved. Ray's public API only offers the
  cluster-wide ``ray.available_resources()``; the state API's ``list_nodes`` reports totals and
  labels but not availability. Resources reserved by placement groups are subtracted from the
  plain names (``CPU``) and reappear under derived names (``CPU_group_<i>_<pg id>``); those
  derived names are dropped here, so ``free`` means "not held by any task, actor or pool".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import ray

from models.resources import CPU, GPU, MEMORY, NodeInfo, ResourceAmounts

RAY_CPU = "CPU"
RAY_GPU = "GPU"
RAY_MEMORY = "memory"
# Ray bookkeeping resources that are not capacity a pool can draw from.
_IGNORED = frozenset({"object_store_memory"})
_IGNORED_PREFIXES = ("node:",)
# Resources Ray derives for placement-group bundles: "<name>_group_[<index>_]<pg id hex>".
_PG_DERIVED = re.compile(r"_group_(\d+_)?[0-9a-f]{16,}$")


def resources_from_ray(resources: Mapping[str, float]) -> ResourceAmounts:
    """Converts a Ray resource dict (``{"CPU": 2, "memory": ..., "acc": 1}``) to the model."""
    custom: dict[str, float] = {}
    for name, value in resources.items():
        if name in (RAY_CPU, RAY_GPU, RAY_MEMORY) or name in _IGNORED:
            continue
        if name.startswith(_IGNORED_PREFIXES) or _PG_DERIVED.search(name):
            continue
        custom[name] = float(value)
    return ResourceAmounts(
        cpu=float(resources.get(RAY_CPU, 0.0)),
        memory=int(resources.get(RAY_MEMORY, 0)),
        gpu=float(resources.get(RAY_GPU, 0.0)),
        custom=dict(sorted(custom.items())),
    )


def resources_to_ray(amounts: ResourceAmounts) -> dict[str, float]:
    """Converts the model to a Ray resource dict (a bundle); zero amounts are left out."""
    out: dict[str, float] = {}
    if amounts.cpu:
        out[RAY_CPU] = float(amounts.cpu)
    if amounts.gpu:
        out[RAY_GPU] = float(amounts.gpu)
    if amounts.memory:
        out[RAY_MEMORY] = float(amounts.memory)
    for name, value in amounts.custom.items():
        if value:
            out[name] = float(value)
    return out


def node_from_ray(entry: Mapping[str, Any], available: Mapping[str, float] | None) -> NodeInfo:
    """Builds a NodeInfo from one ``ray.nodes()`` entry and that node's available resources.

    A dead node, or a live one Ray has no availability for yet, has nothing free.
    """
    alive = bool(entry.get("Alive", False))
    free = resources_from_ray(available) if alive and available is not None else None
    return NodeInfo(
        node_id=str(entry["NodeID"]),
        address=str(entry.get("NodeManagerAddress", "")),
        alive=alive,
        labels={str(k): str(v) for k, v in (entry.get("Labels") or {}).items()},
        capacity=resources_from_ray(entry.get("Resources") or {}),
        free=free if free is not None else ResourceAmounts(),
    )


def observe_nodes() -> list[NodeInfo]:
    """Every node Ray knows (alive and dead), sorted by node id. Blocking."""
    entries = ray.nodes()
    available: dict[str, dict[str, float]] = ray._private.state.available_resources_per_node()
    nodes = [node_from_ray(e, available.get(str(e["NodeID"]))) for e in entries]
    # The node table can list a node twice around a restart; keep the live entry.
    by_id: dict[str, NodeInfo] = {}
    for node in nodes:
        if node.node_id not in by_id or node.alive:
            by_id[node.node_id] = node
    return [by_id[k] for k in sorted(by_id)]


def node_is_dead(node_id: str) -> bool:
    """True if Ray's node table lists `node_id` and has no live entry for it (the GCS has
    declared the node dead). An unknown or empty id is not known to be dead. Blocking."""
    if not node_id:
        return False
    entries = [e for e in ray.nodes() if str(e.get("NodeID")) == node_id]
    return bool(entries) and not any(e.get("Alive", False) for e in entries)


__all__ = [
    "CPU",
    "GPU",
    "MEMORY",
    "node_from_ray",
    "node_is_dead",
    "observe_nodes",
    "resources_from_ray",
    "resources_to_ray",
]
