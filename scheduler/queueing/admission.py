"""Quota checks and backpressure.

`admit` decides StartExecution: Accept, Queue (wait in the namespace's queue) or Reject
(RESOURCE_EXHAUSTED), from the namespace's concurrent-execution quota, its waiting room
(`max_queue`) and a saturation signal, according to its backpressure mode. The resource and
replica checks (`within_quota`) guard every dispatch in `decide`.
"""

from __future__ import annotations

from models.queueing import (
    Accept,
    Admission,
    AdmissionState,
    Backpressure,
    ExecutionRequest,
    Queue,
    Quota,
    Reject,
)
from models.resources import ResourceAmounts

_EPSILON = 1e-9


def quota_violation(quota: Quota, usage: ResourceAmounts, replicas: int) -> str:
    """Why `usage` holding `replicas` replica leases exceeds `quota` ("" when it does not).
    A zero component of `max_resources` means that resource is not limited."""
    if quota.max_replicas is not None and replicas > quota.max_replicas:
        return f"replicas {replicas} > quota {quota.max_replicas}"
    limit = quota.max_resources
    if limit is None:
        return ""
    for name in usage.names():
        cap = limit.get(name)
        if cap > 0 and usage.get(name) > cap + _EPSILON:
            return f"{name} {usage.get(name):g} > quota {cap:g}"
    return ""


def within_quota(
    quota: Quota, usage: ResourceAmounts, replicas: int, demand: ResourceAmounts, more: int
) -> bool:
    """True if adding `demand` (holding `more` replicas) keeps the namespace within its quota."""
    return not quota_violation(quota, usage.add(demand), replicas + more)


def pools_saturated(
    capacity: ResourceAmounts, used: ResourceAmounts, *, threshold: float = 1.0
) -> bool:
    """The saturation signal: some resource the pools have is used at `threshold` or more."""
    for name in capacity.names():
        cap = capacity.get(name)
        if cap > 0 and used.get(name) >= threshold * cap - _EPSILON:
            return True
    return False


def admit(request: ExecutionRequest, state: AdmissionState) -> Admission:
    """Accept, Queue or Reject a StartExecution for `state.policy`'s namespace.

    - a demand that exceeds the namespace's quota by itself can never run: Reject;
    - at the concurrent-execution quota, or with saturated pools: QUEUE mode queues while the
      waiting room (`max_queue`) has space and rejects beyond it; REJECT mode rejects;
    - otherwise Accept.
    """
    policy = state.policy
    if request.namespace != policy.name:
        raise ValueError(f"request for {request.namespace} checked against {policy.name}")
    too_big = quota_violation(policy.quota, request.demand, 0)
    if too_big:
        return Reject(
            request.execution_id,
            policy.name,
            f"namespace {policy.name}: a task's demand exceeds the quota ({too_big})",
        )
    limit = policy.quota.max_concurrent_executions
    if limit is not None and state.active_executions >= limit:
        why = f"{state.active_executions}/{limit} concurrent executions (quota)"
    elif state.saturated:
        why = "resource pools saturated"
    else:
        return Accept(request.execution_id)
    if policy.backpressure is Backpressure.REJECT:
        return Reject(request.execution_id, policy.name, f"namespace {policy.name}: {why}")
    if policy.max_queue is not None and state.waiting_executions >= policy.max_queue:
        return Reject(
            request.execution_id,
            policy.name,
            f"namespace {policy.name}: {why} and its queue is full "
            f"({state.waiting_executions}/{policy.max_queue} waiting)",
        )
    return Queue(request.execution_id, f"namespace {policy.name}: {why}")
