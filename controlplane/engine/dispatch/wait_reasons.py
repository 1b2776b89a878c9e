"""Why a task still waits, worked out when asked from what the last round of its capacity group
left (free capacity, each namespace's usage), as that round would have said it."""

from __future__ import annotations

from controlplane.engine.dispatch.ledger import GroupBook, RoundView, Waiter
from controlplane.engine.dispatch.topology import CapacityGroup
from models.queueing import NamespacePolicy, RunningItem
from models.resources import ResourceAmounts
from scheduler.queueing import waiting_reason

QUEUED = "queued: not yet considered by a dispatch round"


def leave_view(
    kept: GroupBook, group: CapacityGroup, policies: dict[str, NamespacePolicy], round_: int
) -> set[str]:
    """Records what the round left (for why each task still waits); the namespaces that wait
    for capacity the pool does not have (backpressure)."""
    in_use = ResourceAmounts.total([g.item.demand for g in kept.running.values()])
    free = group.capacity.sub(group.reserved).sub(in_use)
    held: dict[str, list[RunningItem]] = {}
    for grant in kept.running.values():
        if not grant.preempted:
            held.setdefault(grant.request.namespace, []).append(grant.running_item)
    namespaces = {}
    for name in kept.waiters:
        items = held.get(name, [])
        usage = ResourceAmounts.total([r.demand for r in items])
        namespaces[name] = (policies[name], usage, sum(r.item.replicas for r in items))
    kept.view = RoundView(round_, free, namespaces)
    # The pool itself is full for a task: the signal admission's backpressure acts on.
    # (A task the round dispatched but no node took fits what is left, the round having
    # counted its demand, so it never raises the signal.)
    return {
        name
        for name, shapes in kept.demands.items()
        if any(not entry.demand.fits(free) for entry in shapes.values())
    }


def why_blocked(waiter: Waiter, kept: GroupBook | None) -> str:
    """Why the waiter still waits, as the last round of its group saw it ("" if no round
    considered it yet)."""
    view = None if kept is None else kept.view
    if view is None or view.round <= waiter.arrived:
        return ""
    if waiter.why_round == view.round:
        return waiter.why
    if view.free is None or waiter.item.namespace not in view.namespaces:
        return ""
    policy, usage, replicas = view.namespaces[waiter.item.namespace]
    waiter.why = waiting_reason(policy, usage, replicas, waiter.item, view.free)
    waiter.why_round = view.round
    return waiter.why
