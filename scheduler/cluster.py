"""Pure functions over observed cluster nodes: selection by a pool's selector, totals and a
fragmentation figure (used by the control plane and by the Ray backend alike)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from models.resources import NodeInfo, NodeSelector, ResourceAmounts


def label_matches(labels: Mapping[str, str], key: str, expression: str) -> bool:
    """Evaluates one term of Ray's label-selector syntax against a node's labels.

    ``"v"`` equals, ``"!v"`` differs (or the label is absent), ``"in(a,b)"`` is one of,
    ``"!in(a,b)"`` is none of.
    """
    negate = expression.startswith("!")
    body = expression[1:] if negate else expression
    if body.startswith("in(") and body.endswith(")"):
        values = {v.strip() for v in body[3:-1].split(",")}
    else:
        values = {body}
    found = key in labels and labels[key] in values
    return not found if negate else found


def node_matches(node: NodeInfo, selector: NodeSelector) -> bool:
    if selector.node_ids and node.node_id not in selector.node_ids:
        return False
    if any(node.capacity.get(name) <= 0 for name in selector.custom_resources):
        return False
    return all(label_matches(node.labels, k, v) for k, v in selector.labels.items())


def select_nodes(nodes: Iterable[NodeInfo], selector: NodeSelector) -> list[NodeInfo]:
    """The live nodes that satisfy every criterion of ``selector``, in input order."""
    return [n for n in nodes if n.alive and node_matches(n, selector)]


def alive_nodes(nodes: Iterable[NodeInfo]) -> list[NodeInfo]:
    return [n for n in nodes if n.alive]


def total_free(nodes: Iterable[NodeInfo]) -> ResourceAmounts:
    """Unreserved resources summed over the live nodes."""
    return ResourceAmounts.total([n.free for n in nodes if n.alive])


def total_capacity(nodes: Iterable[NodeInfo]) -> ResourceAmounts:
    """Capacity summed over the live nodes."""
    return ResourceAmounts.total([n.capacity for n in nodes if n.alive])


def fragmentation(nodes: Iterable[NodeInfo], resource: str) -> float:
    """How scattered the free amount of ``resource`` is over the live nodes, in [0, 1).

    ``1 - largest free amount on one node / total free amount``; 0 when nothing is free.
    0 means every free unit sits on one node (a request as large as the total free amount can
    be placed); ``1 - 1/n`` means the free amount is split evenly over n nodes, so a request
    larger than one node's share cannot be placed although the cluster-wide sum would allow it.
    ``resource`` is ``"cpu"``, ``"memory"``, ``"gpu"`` or a custom resource name.
    """
    free = [max(n.free.get(resource), 0.0) for n in nodes if n.alive]
    total = sum(free)
    if total <= 0:
        return 0.0
    return 1.0 - max(free) / total
