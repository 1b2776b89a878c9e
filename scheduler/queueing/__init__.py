"""The queue system between "ready" and "dispatched" (pure: no clock, I/O, Ray or gRPC).

Per-namespace priority queues with aging and an optional multi-level feedback (`queues`),
weighted Dominant Resource Fairness across namespaces (`fairness`), quotas and backpressure at
admission (`admission`), preemption (`preemption`), and one round tying them together:
`decide(snapshot, now) -> [Reject | Dispatch | Preempt]` (`decide`); `StandingQueues`
(`standing`) keeps the queues between rounds and returns what `decide` would, at the cost of
what changed since the last round.
"""

from scheduler.queueing.admission import admit, pools_saturated, quota_violation, within_quota
from scheduler.queueing.decide import (
    apply,
    complete,
    decide,
    metrics,
    usage_of,
    waiting_reason,
    why_waiting,
)
from scheduler.queueing.fairness import (
    dominant_resource,
    dominant_share,
    fair_shares,
    weighted_share,
)
from scheduler.queueing.preemption import choose_victims
from scheduler.queueing.queues import (
    NamespaceQueue,
    effective_level,
    effective_priority,
    queue_metrics,
    requeue,
)
from scheduler.queueing.standing import StandingQueues

__all__ = [
    "NamespaceQueue",
    "StandingQueues",
    "admit",
    "apply",
    "choose_victims",
    "complete",
    "decide",
    "dominant_resource",
    "dominant_share",
    "effective_level",
    "effective_priority",
    "fair_shares",
    "metrics",
    "pools_saturated",
    "queue_metrics",
    "quota_violation",
    "requeue",
    "usage_of",
    "waiting_reason",
    "weighted_share",
    "why_waiting",
    "within_quota",
]
