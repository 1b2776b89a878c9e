"""One round of the queue system: `decide(snapshot, now) -> actions`, pure and deterministic.

Order of a round:
1. Reject queued items that can never run (their demand alone exceeds their namespace quota).
2. Dispatch by weighted DRF: repeatedly take the namespace with the lowest weighted dominant
   share (ties: higher namespace priority, then name) and serve its head item (level, then aged
   priority) if it fits both its quota and the free capacity. A namespace whose head does not
   fit is skipped for the rest of the round (free capacity only shrinks within a round), so it
   does not block the others; inside a namespace the order is strict.
3. Preempt for namespaces whose head did not fit the free capacity, when they are below their
   fair share and have a higher priority than the victims' namespaces (see `preemption`).

The caller applies the actions (`apply` does it on a snapshot): dispatched items start,
preempted attempts stop and are requeued with `requeue`; the room they free is taken in a later
round. The input is never mutated.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from models.queueing import (
    Action,
    Dispatch,
    NamespacePolicy,
    NamespaceState,
    Preempt,
    QueueConfig,
    QueuedItem,
    QueueMetrics,
    QueueSnapshot,
    Reject,
    RunningItem,
)
from models.resources import ResourceAmounts
from scheduler.queueing.admission import quota_violation, within_quota
from scheduler.queueing.fairness import dominant_share, fair_shares
from scheduler.queueing.preemption import Blocked, plan_preemptions
from scheduler.queueing.queues import NamespaceQueue, effective_priority, queue_metrics, requeue


def _check(snapshot: QueueSnapshot) -> None:
    seen: set[str] = set()
    for state in snapshot.namespaces:
        if state.name in seen:
            raise ValueError(f"namespace {state.name} appears twice in the snapshot")
        seen.add(state.name)
        for item in (*state.queued, *(r.item for r in state.running)):
            if item.namespace != state.name:
                raise ValueError(f"item {item.id} of {item.namespace} listed under {state.name}")


def usage_of(running: Iterable[RunningItem]) -> ResourceAmounts:
    return ResourceAmounts.total([r.demand for r in running])


def decide(snapshot: QueueSnapshot, now: float) -> list[Action]:
    """The ordered actions of this round: rejections, dispatches, then preemptions."""
    _check(snapshot)
    config = snapshot.config
    states = sorted(snapshot.namespaces, key=lambda s: s.name)
    rejects: list[Action] = []
    queues: dict[str, NamespaceQueue] = {}
    for state in states:
        keep: list[QueuedItem] = []
        for item in sorted(state.queued, key=lambda i: i.id):
            reject = quota_reject(state.policy, item)
            if reject is not None:
                rejects.append(reject)
            else:
                keep.append(item)
        queues[state.name] = NamespaceQueue(config, keep)
    lanes = [(s.policy, s.running, queues[s.name]) for s in states]
    return rejects + serve(lanes, snapshot.capacity, snapshot.reserved, config, now)


def quota_reject(policy: NamespacePolicy, item: QueuedItem) -> Reject | None:
    """A Reject for an item whose demand alone exceeds its namespace's quota (None: it may
    run once there is room)."""
    why = quota_violation(policy.quota, item.demand, item.replicas)
    if not why:
        return None
    reason = f"item {item.id} can never run in namespace {policy.name}: {why}"
    return Reject(item.id, policy.name, reason)


Lane = tuple[NamespacePolicy, Sequence[RunningItem], NamespaceQueue]


def serve(
    lanes: Sequence[Lane],
    capacity: ResourceAmounts,
    reserved: ResourceAmounts,
    config: QueueConfig,
    now: float,
) -> list[Action]:
    """Dispatches then preemptions of one round over the namespaces' queues (whose items all
    passed `quota_reject`), each lane a namespace's (policy, running items, queue) in name
    order. Pops every dispatched item from its queue (nothing else is changed)."""
    policies = {p.name: p for p, _, _ in lanes}
    queues = {p.name: q for p, _, q in lanes}
    usage = {p.name: usage_of(running) for p, running, _ in lanes}
    replicas = {p.name: sum(r.item.replicas for r in running) for p, running, _ in lanes}
    free = capacity.sub(reserved).sub(ResourceAmounts.total(list(usage.values())))

    active = [p.name for p, running, queue in lanes if running or queue]
    fair = fair_shares({p.name: p.weight for p, _, _ in lanes}, active)

    def key(name: str) -> tuple[float, int, str]:
        policy = policies[name]
        return (dominant_share(usage[name], capacity) / policy.weight, -policy.priority, name)

    heap = [key(p.name) for p, _, queue in lanes if queue]
    heapq.heapify(heap)
    dispatches: list[Action] = []
    blocked: list[Blocked] = []
    while heap:
        name = heapq.heappop(heap)[2]
        queue, policy = queues[name], policies[name]
        head = queue.peek(now)
        if head is None:
            continue
        if not within_quota(policy.quota, usage[name], replicas[name], head.demand, head.replicas):
            continue  # its own quota holds it back: not a reason to preempt anyone
        if not head.demand.fits(free):
            blocked.append(Blocked(policy, head))
            continue
        queue.pop(now)
        dispatches.append(
            Dispatch(head, effective_priority(head, now, config), max(0.0, now - head.enqueued_at))
        )
        usage[name] = usage[name].add(head.demand)
        replicas[name] += head.replicas
        free = free.sub(head.demand)
        if queue:
            heapq.heappush(heap, key(name))

    preempts: list[Action] = []
    if config.preemption and blocked:
        running = [r for _, items, _ in lanes for r in sorted(items, key=lambda r: r.id)]
        preempts.extend(
            plan_preemptions(
                blocked,
                running,
                policies,
                usage,
                free,
                capacity,
                fair,
                config.max_preemptions_per_round,
            )
        )
    return dispatches + preempts


def why_waiting(state: NamespaceState, item: QueuedItem, free: ResourceAmounts) -> str:
    """Why a queued item of `state`'s namespace was not dispatched by a round that left `free`
    capacity (for an operator): its namespace's quota, the capacity, or its place in the queue.
    """
    replicas = sum(r.item.replicas for r in state.running)
    return waiting_reason(state.policy, usage_of(state.running), replicas, item, free)


def waiting_reason(
    policy: NamespacePolicy,
    usage: ResourceAmounts,
    replicas: int,
    item: QueuedItem,
    free: ResourceAmounts,
) -> str:
    """`why_waiting` given the namespace's usage and replica leases (its running items')."""
    over = quota_violation(policy.quota, usage.add(item.demand), replicas + item.replicas)
    if over:
        return f"held back by the quota of namespace {policy.name!r} (with it: {over})"
    if not item.demand.fits(free):
        short = [
            f"{name} {_amount(name, item.demand.get(name))} "
            f"({_amount(name, max(0.0, free.get(name)))} free)"
            for name in item.demand.names()
            if item.demand.get(name) > free.get(name) + 1e-9
        ]
        return "waiting for capacity: needs " + ", ".join(short)
    return "held back by its namespace's queue order or fair share"


def _amount(name: str, value: float) -> str:
    return f"{value / 2**30:.3g}GiB" if name == "memory" else f"{value:g}"


def apply(snapshot: QueueSnapshot, actions: Sequence[Action], now: float) -> QueueSnapshot:
    """The snapshot after the actions took effect at `now` (a new snapshot; for the shell's
    bookkeeping and for simulations): dispatched items run, rejected items leave, preempted
    attempts go back to their queue via `requeue`."""
    dispatched = {a.item.id: a.item for a in actions if isinstance(a, Dispatch)}
    rejected = {a.id for a in actions if isinstance(a, Reject)}
    preempted = {a.victim.id for a in actions if isinstance(a, Preempt)}
    states = []
    for state in snapshot.namespaces:
        queued = [i for i in state.queued if i.id not in dispatched and i.id not in rejected]
        queued += [
            requeue(r, now, snapshot.config, preempted=True)
            for r in state.running
            if r.id in preempted
        ]
        running = [r for r in state.running if r.id not in preempted]
        running += [RunningItem(dispatched[i.id], now) for i in state.queued if i.id in dispatched]
        states.append(NamespaceState(state.policy, tuple(queued), tuple(running)))
    return QueueSnapshot(snapshot.capacity, tuple(states), snapshot.config, snapshot.reserved)


def complete(snapshot: QueueSnapshot, item_ids: Iterable[str]) -> QueueSnapshot:
    """The snapshot after these running items finished (their capacity is free again)."""
    done = set(item_ids)
    states = tuple(
        NamespaceState(s.policy, s.queued, tuple(r for r in s.running if r.id not in done))
        for s in snapshot.namespaces
    )
    return QueueSnapshot(snapshot.capacity, states, snapshot.config, snapshot.reserved)


def metrics(snapshot: QueueSnapshot, now: float) -> list[QueueMetrics]:
    """Queue depth and wait time per namespace, by name."""
    return [
        queue_metrics(s, now, snapshot.config)
        for s in sorted(snapshot.namespaces, key=lambda s: s.name)
    ]
