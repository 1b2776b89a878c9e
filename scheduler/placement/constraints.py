"""Which nodes a live task may be placed on: its placement constraints applied to the nodes of
its pool (pure; the engine supplies what it observed)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from models.resources import NodeInfo
from scheduler.cluster import label_matches


@dataclass(frozen=True)
class PlacementContext:
    """What the constraints are checked against.

    replica_nodes: nodes with a READY replica of the task's agent (an attempt runs on one);
    affinity_nodes / anti_affinity_nodes: nodes the named sibling tasks ran or run on (a
        target that has not been placed yet imposes nothing);
    execution_load: tasks of the same execution running per node (for spread).
    """

    replica_nodes: Collection[str]
    affinity_nodes: Collection[str] = ()
    anti_affinity_nodes: Collection[str] = ()
    execution_load: Mapping[str, int] | None = None


def eligible_nodes(
    nodes: Sequence[NodeInfo],
    labels: Mapping[str, str],
    context: PlacementContext,
    *,
    spread: bool = False,
) -> list[NodeInfo]:
    """The nodes (in input order) that are alive, match every label expression, host a replica
    of the agent, share a node with every affinity target and avoid anti-affinity targets;
    with `spread`, only those running the fewest tasks of the execution."""
    out = [
        n
        for n in nodes
        if n.alive
        and n.node_id in context.replica_nodes
        and all(label_matches(n.labels, k, v) for k, v in labels.items())
        and n.node_id not in context.anti_affinity_nodes
        and all(target == n.node_id for target in context.affinity_nodes)
    ]
    if spread and out:
        load = context.execution_load or {}
        least = min(load.get(n.node_id, 0) for n in out)
        out = [n for n in out if load.get(n.node_id, 0) == least]
    return out
