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
    hosts, avoid, near = context.replica_nodes, context.anti_affinity_nodes, context.affinity_nodes
    out = [
        n
        for n in nodes
        if n.alive
        and n.node_id in hosts
        and (not labels or all(label_matches(n.labels, k, v) for k, v in labels.items()))
        and n.node_id not in avoid
        and (not near or all(target == n.node_id for target in near))
    ]
    if spread and out:
        load = context.execution_load or {}
        least = min(load.get(n.node_id, 0) for n in out)
        out = [n for n in out if load.get(n.node_id, 0) == least]
    return out


def no_eligible_node_reason(
    nodes: Sequence[NodeInfo],
    labels: Mapping[str, str],
    context: PlacementContext,
    affinity_targets: Mapping[str, str] | None = None,
    scope: str = "the cluster",
) -> str:
    """Why `eligible_nodes` found no node, for an operator: the first constraint that rules out
    every node. `affinity_targets`: the placed affinity targets and the node each ran on (to
    name them in the reason; without it only the nodes of `context.affinity_nodes` are named);
    `scope`: what `nodes` are, e.g. "pool 'gpu'".
    """
    targets = dict(affinity_targets or {})
    affinity = sorted(set(targets.values()) | set(context.affinity_nodes))
    if len(affinity) > 1:
        names = ", ".join(sorted(targets)) or "the affinity targets"
        return (
            f"affinity targets {names} ran on different nodes ({', '.join(affinity)}): "
            "the task can never be placed"
        )
    alive = [n for n in nodes if n.alive]
    if not alive:
        return f"no node in {scope} is alive"
    selector = "{" + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items())) + "}"
    matching = [n for n in alive if all(label_matches(n.labels, k, v) for k, v in labels.items())]
    if not matching:
        return f"no alive node in {scope} matches node_labels {selector}"
    hosting = [n for n in matching if n.node_id in context.replica_nodes]
    if not hosting:
        which = f"matching node_labels {selector}" if labels else f"in {scope}"
        return f"no alive node {which} hosts a ready replica of its agent"
    if affinity:
        (node,) = affinity
        named = sorted(t for t, n in targets.items() if n == node)
        who = f"affinity target{'s' if len(named) > 1 else ''} {', '.join(named)}"
        if node not in {n.node_id for n in nodes}:
            why = f"is not in {scope}"
        elif node not in {n.node_id for n in alive}:
            why = "is not alive"
        elif node not in {n.node_id for n in matching}:
            why = f"does not match node_labels {selector}"
        elif node not in {n.node_id for n in hosting}:
            why = "hosts no ready replica of its agent"
        else:
            why = "also runs an anti-affinity target"
        return f"{who if named else 'its affinity targets'} ran on node {node}, which {why}"
    return "every node that hosts a ready replica runs an anti-affinity target"
