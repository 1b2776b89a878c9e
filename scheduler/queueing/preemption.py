"""Preemption: a higher-priority namespace below its weighted fair share whose head item does
not fit may stop attempts of lower-priority namespaces that are above their fair share.

Victims: the fewest attempts that free enough room, preferring the youngest (least work lost).
A single attempt that suffices is taken if there is one (the youngest such); otherwise attempts
are taken youngest first while they help and their namespace is still above its fair share,
then any that turn out unnecessary are released again (oldest first). Nothing is preempted
unless the head item then fits (all or nothing). Preempted attempts are requeued by the caller
with `queues.requeue`, never lost; the Preempt reason names both namespaces and their shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.queueing import NamespacePolicy, Preempt, QueuedItem, RunningItem
from models.resources import ResourceAmounts
from scheduler.queueing.fairness import dominant_share

_EPSILON = 1e-9


@dataclass(frozen=True)
class Blocked:
    """A namespace whose head item fits its quota but not the free capacity."""

    policy: NamespacePolicy
    head: QueuedItem


def describe(amounts: ResourceAmounts) -> str:
    parts = [f"{name}={amounts.get(name):g}" for name in amounts.names()]
    return " ".join(parts) or "nothing"


def _helps(demand: ResourceAmounts, need: ResourceAmounts, avail: ResourceAmounts) -> bool:
    return any(
        demand.get(name) > 0 and need.get(name) > avail.get(name) + _EPSILON
        for name in need.names()
    )


def choose_victims(
    need: ResourceAmounts,
    free: ResourceAmounts,
    candidates: Sequence[RunningItem],
    usage: Mapping[str, ResourceAmounts],
    fair: Mapping[str, float],
    capacity: ResourceAmounts,
) -> tuple[RunningItem, ...] | None:
    """The attempts to stop so that `need` fits, or None if no eligible set frees enough.

    `candidates` are ordered youngest first; an attempt is eligible while its namespace's
    dominant share (after the victims already chosen) is above its fair share.
    """

    def above(namespace: str, used: ResourceAmounts) -> bool:
        return dominant_share(used, capacity) > fair.get(namespace, 0.0) + _EPSILON

    for victim in candidates:  # one attempt is enough?
        if above(victim.namespace, usage[victim.namespace]) and need.fits(free.add(victim.demand)):
            return (victim,)
    chosen: list[RunningItem] = []
    used = dict(usage)
    avail = free
    for victim in candidates:
        if need.fits(avail):
            break
        ns = victim.namespace
        if above(ns, used[ns]) and _helps(victim.demand, need, avail):
            chosen.append(victim)
            avail = avail.add(victim.demand)
            used[ns] = used[ns].sub(victim.demand)
    if not need.fits(avail):
        return None
    for victim in reversed(list(chosen)):  # release the oldest that are not needed
        if need.fits(avail.sub(victim.demand)):
            chosen.remove(victim)
            avail = avail.sub(victim.demand)
    return tuple(chosen)


def plan_preemptions(
    blocked: Sequence[Blocked],
    running: Sequence[RunningItem],
    policies: Mapping[str, NamespacePolicy],
    usage: dict[str, ResourceAmounts],
    free: ResourceAmounts,
    capacity: ResourceAmounts,
    fair: Mapping[str, float],
    limit: int,
) -> list[Preempt]:
    """Preemptions for the blocked namespaces, highest priority (then lowest weighted share)
    first. Updates `usage` as if the victims stopped and the heads started (the room a
    preemption frees is promised to the head it was made for)."""
    actions: list[Preempt] = []
    taken: set[str] = set()

    def order(b: Blocked) -> tuple[int, float, str]:
        share = dominant_share(usage[b.policy.name], capacity) / b.policy.weight
        return (-b.policy.priority, share, b.policy.name)

    for entry in sorted(blocked, key=order):
        policy, head = entry.policy, entry.head
        ns = policy.name
        share = dominant_share(usage[ns], capacity)
        if share >= fair.get(ns, 0.0) - _EPSILON or not head.demand.fits(capacity):
            continue
        candidates = sorted(
            (
                r
                for r in running
                if r.id not in taken and policies[r.namespace].priority < policy.priority
            ),
            key=lambda r: (-r.started_at, r.id),
        )
        victims = choose_victims(head.demand, free, candidates, usage, fair, capacity)
        if not victims or len(actions) + len(victims) > limit:
            continue
        shares_before = {v.namespace: dominant_share(usage[v.namespace], capacity) for v in victims}
        for victim in victims:
            vns = victim.namespace
            victim_share = shares_before[vns]
            reason = (
                f"namespace {ns!r} (priority {policy.priority}, dominant share {share:.3f} "
                f"below its fair share {fair.get(ns, 0.0):.3f}) needs {describe(head.demand)} "
                f"for item {head.id}; preempted attempt {victim.id} of namespace {vns!r} "
                f"(priority {policies[vns].priority}, dominant share {victim_share:.3f} above "
                f"its fair share {fair.get(vns, 0.0):.3f})"
            )
            actions.append(Preempt(victim, ns, head.id, reason))
            taken.add(victim.id)
            usage[vns] = usage[vns].sub(victim.demand)
            free = free.add(victim.demand)
        usage[ns] = usage[ns].add(head.demand)
        free = free.sub(head.demand)
    return actions
