"""What each namespace holds and waits for right now (GetClusterState's namespace usage)."""

from __future__ import annotations

from collections.abc import Callable

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.executions.service import ExecutionEngine
from models.queueing import NamespacePolicy, NamespaceUsage, QueuedItem
from models.resources import ResourceAmounts
from scheduler.queueing import weighted_share


class UsageReport:
    def __init__(
        self,
        dispatcher: Dispatcher,
        executions: ExecutionEngine,
        policy_of: Callable[[str], NamespacePolicy],
        clock: Callable[[], float],
    ) -> None:
        self._dispatcher = dispatcher
        self._executions = executions
        self._policy_of = policy_of
        self._clock = clock

    def namespaces(self, capacity: ResourceAmounts) -> list[NamespaceUsage]:
        """Every namespace with live work; shares are of `capacity` (the cluster's)."""
        now = self._clock()
        names = self._executions.namespaces() | set(self._executions.waiting_namespaces())
        names |= {g.request.namespace for g in self._dispatcher.running()}
        queued_items: dict[str, list[QueuedItem]] = {}
        for item in self._dispatcher.queued():
            queued_items.setdefault(item.namespace, []).append(item)
        names |= set(queued_items)
        out = []
        for name in sorted(names):
            grants = self._dispatcher.running(name)
            waiting = queued_items.get(name, [])
            allocated = ResourceAmounts.total([g.item.demand for g in grants])
            running, queued = self._executions.execution_counts(name)
            out.append(
                NamespaceUsage(
                    namespace=name,
                    allocated=allocated,
                    running_tasks=len(grants),
                    queued_tasks=len(waiting),
                    oldest_wait_s=max((now - i.enqueued_at for i in waiting), default=0.0),
                    running_executions=running,
                    queued_executions=queued,
                    weighted_dominant_share=weighted_share(
                        allocated, capacity, self._policy_of(name).weight
                    ),
                )
            )
        return out
