"""Queues that stand between rounds: the waiting items of one capacity group, kept in
per-namespace `NamespaceQueue`s from one round to the next.

`decide` rebuilds every namespace's queue from a snapshot, so one round costs O(n log n) in the
n waiting items even when it dispatches one of them; with a round after every change that is
quadratic over a long queue. `StandingQueues.round` returns exactly the actions `decide`
returns for the snapshot of the same waiting items (same rejections, dispatches and
preemptions, in the same order), at the cost of what changed: items pushed since the last
round are checked against their namespace's quota and inserted (O(log n) each), a namespace
whose quota changed is checked again in full, and the round itself (`decide.serve`) costs
O(dispatched x log n) plus the namespaces and running items. The heads are the same because a
`NamespaceQueue`'s order is a total order on the items (id last) that does not depend on when
they were inserted, and its multi-level promotions follow a closed form in `now`.

Dispatched and rejected items leave the queues; a caller that cannot start a dispatched item
pushes it back. Items whose plan rank changed are re-keyed with `reset`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from models.queueing import (
    Action,
    Dispatch,
    NamespacePolicy,
    QueueConfig,
    QueuedItem,
    Quota,
    Reject,
    RunningItem,
)
from models.resources import ResourceAmounts
from scheduler.queueing.decide import Lane, quota_reject, serve
from scheduler.queueing.queues import NamespaceQueue

_COMPACT_SLACK = 64  # removed entries a queue may carry beyond its size before a rebuild


class StandingQueues:
    """The waiting items of one capacity group across rounds (see the module docstring)."""

    def __init__(self, config: QueueConfig) -> None:
        self._config = config
        self._queues: dict[str, NamespaceQueue] = {}
        self._quotas: dict[str, Quota] = {}  # the quota each queue's items were checked against
        self._arrived: dict[str, dict[str, QueuedItem]] = {}  # pushed since the last round
        self._removed: dict[str, int] = {}  # lazily removed entries left in each queue's heaps
        self._namespace_of: dict[str, str] = {}
        self._now: float | None = None

    # -- changes between rounds -----------------------------------------------------------

    def push(self, item: QueuedItem) -> None:
        """A new waiting item (or one the caller could not start); checked at the next round."""
        if item.id in self._namespace_of:
            raise ValueError(f"item {item.id} is already queued")
        self._namespace_of[item.id] = item.namespace
        self._arrived.setdefault(item.namespace, {})[item.id] = item

    def remove(self, item_id: str) -> QueuedItem | None:
        """Takes an item out wherever it is (None if it is not queued)."""
        namespace = self._namespace_of.pop(item_id, None)
        if namespace is None:
            return None
        arrived = self._arrived.get(namespace)
        if arrived is not None and item_id in arrived:
            return arrived.pop(item_id)
        queue = self._queues[namespace]
        removed = queue.remove(item_id)
        self._removed[namespace] = self._removed.get(namespace, 0) + 1
        if not queue:
            self._drop(namespace)
        elif self._removed[namespace] > len(queue) + _COMPACT_SLACK:
            self._queues[namespace] = NamespaceQueue(self._config, list(queue))
            self._removed[namespace] = 0
        return removed

    def reset(self, namespace: str, items: Iterable[QueuedItem]) -> None:
        """Replaces every item of the namespace (e.g. with new plan ranks)."""
        for item_id in [i for i, ns in self._namespace_of.items() if ns == namespace]:
            del self._namespace_of[item_id]
        self._drop(namespace)
        self._arrived.pop(namespace, None)
        for item in items:
            if item.namespace != namespace:
                raise ValueError(f"item {item.id} of {item.namespace} reset under {namespace}")
            self.push(item)

    # -- observation ----------------------------------------------------------------------

    def namespaces(self) -> set[str]:
        """The namespaces with waiting items."""
        return set(self._queues) | {ns for ns, items in self._arrived.items() if items}

    def __len__(self) -> int:
        return len(self._namespace_of)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._namespace_of

    # -- one round ------------------------------------------------------------------------

    def round(
        self,
        policies: Mapping[str, NamespacePolicy],
        running: Mapping[str, Sequence[RunningItem]],
        capacity: ResourceAmounts,
        reserved: ResourceAmounts,
        now: float,
    ) -> list[Action]:
        """`decide(QueueSnapshot(capacity, states, config, reserved), now)` where the states
        hold these waiting items and `running` (per namespace, in the caller's order), with
        `policies` (one for every namespace that has items). Dispatched and rejected items
        leave the queues."""
        config = self._config
        if config.multilevel and self._now is not None and now < self._now:
            # Promotions are not undone when the clock steps back: rebuild from the items.
            for name, queue in self._queues.items():
                self._queues[name] = NamespaceQueue(config, list(queue))
                self._removed[name] = 0
        self._now = now
        names = sorted(self.namespaces() | {ns for ns, items in running.items() if items})
        rejects: list[Action] = []
        lanes: list[Lane] = []
        for name in names:
            policy = policies[name]
            rejects.extend(self._admit(policy))
            queue = self._queues.get(name) or NamespaceQueue(config)
            lanes.append((policy, tuple(running.get(name, ())), queue))
        actions = rejects + serve(lanes, capacity, reserved, config, now)
        for action in actions:
            if isinstance(action, Dispatch):
                del self._namespace_of[action.item.id]
        for name in names:
            if name in self._queues and not self._queues[name]:
                self._drop(name)
        return actions

    def _admit(self, policy: NamespacePolicy) -> list[Reject]:
        """Checks the namespace's new items (all of them if its quota changed) against its
        quota, inserts those that may run and rejects the others (by id, as `decide` does)."""
        name = policy.name
        queue = self._queues.get(name)
        rejects: list[Reject] = []
        if queue is not None and self._quotas.get(name) != policy.quota:
            for item in list(queue):
                reject = quota_reject(policy, item)
                if reject is not None:
                    rejects.append(reject)
                    queue.remove(item.id)
                    self._removed[name] = self._removed.get(name, 0) + 1
        self._quotas[name] = policy.quota
        arrived = self._arrived.pop(name, {})
        keep: list[QueuedItem] = []
        for item in arrived.values():
            reject = quota_reject(policy, item)
            if reject is not None:
                rejects.append(reject)
            else:
                keep.append(item)
        if queue is None or not queue:
            if keep:
                self._queues[name] = NamespaceQueue(self._config, keep)
                self._removed[name] = 0
        else:
            for item in keep:
                queue.push(item)
        for reject in rejects:
            del self._namespace_of[reject.id]
        return sorted(rejects, key=lambda r: r.id)

    def _drop(self, name: str) -> None:
        self._queues.pop(name, None)
        self._removed.pop(name, None)
