"""Weighted Dominant Resource Fairness (Ghodsi et al., NSDI 2011).

A namespace's dominant share is the largest fraction of any cluster resource it uses; divided
by its weight it orders namespaces: the next dispatch goes to the lowest weighted dominant share.
Its fair share of the dominant resource is its weight over the weights of the active namespaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from models.resources import ResourceAmounts


def resource_names(capacity: ResourceAmounts) -> tuple[str, ...]:
    """The resources shares are measured on: those the cluster has."""
    return capacity.names()


def dominant_share(usage: ResourceAmounts, capacity: ResourceAmounts) -> float:
    """max over the cluster's resources of usage / capacity (0 with an empty cluster)."""
    # The resources of `capacity.names()` spelled out: this runs for every dispatch.
    share = 0.0
    if capacity.cpu > 0:
        share = max(share, usage.cpu / capacity.cpu)
    if capacity.memory > 0:
        share = max(share, float(usage.memory) / float(capacity.memory))
    if capacity.gpu > 0:
        share = max(share, usage.gpu / capacity.gpu)
    for name in sorted(capacity.custom):
        cap = float(capacity.custom[name])
        if cap > 0:
            share = max(share, usage.get(name) / cap)
    return share


def dominant_resource(usage: ResourceAmounts, capacity: ResourceAmounts) -> str:
    """The resource whose share is the largest ("" when nothing is used)."""
    best, best_share = "", 0.0
    for name in capacity.names():
        cap = capacity.get(name)
        if cap > 0 and usage.get(name) / cap > best_share:
            best, best_share = name, usage.get(name) / cap
    return best


def weighted_share(usage: ResourceAmounts, capacity: ResourceAmounts, weight: float) -> float:
    return dominant_share(usage, capacity) / weight


def fair_shares(weights: Mapping[str, float], active: Iterable[str]) -> dict[str, float]:
    """Each active namespace's entitled fraction of its dominant resource: w / sum(w active).
    Inactive namespaces are entitled to nothing now (their share is redistributed)."""
    names = sorted(set(active))
    total = sum(weights[n] for n in names)
    if total <= 0:
        return {n: 0.0 for n in names}
    return {n: weights[n] / total for n in names}
