"""Per-namespace priority queues with aging and an optional multi-level feedback.

Aging: effective priority = priority + age_rate * (now - enqueued_at). The order of two items by
that value does not depend on `now` (both gain age_rate per second), so one heap keyed by
priority - age_rate * enqueued_at serves the aged order at any time in O(log n).

Multi-level feedback: one such heap per level, levels served in order (0 first). An item climbs
one level for every `promote_after_s` it has spent in its level (a second heap per level, keyed
by the time the item entered it, finds those due in O(log n) each). Promotions follow the closed
form level - floor((now - level_since) / promote_after_s), whatever the cadence of the calls;
`now` must not go backwards between calls on one queue.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import NamedTuple

from models.queueing import (
    NamespaceState,
    QueueConfig,
    QueuedItem,
    QueueMetrics,
    RunningItem,
)


def effective_priority(item: QueuedItem, now: float, config: QueueConfig) -> float:
    return item.priority + config.age_rate * max(0.0, now - item.enqueued_at)


def level_since(item: QueuedItem) -> float:
    return item.enqueued_at if item.level_since is None else item.level_since


def effective_level(item: QueuedItem, now: float, config: QueueConfig) -> int:
    """The level an item is served at `now` (0 without the multi-level option)."""
    if not config.multilevel:
        return 0
    level = min(item.level, config.levels - 1)
    climbed = int(max(0.0, now - level_since(item)) // config.promote_after_s)
    return max(0, level - climbed)


def requeue(
    running: RunningItem, now: float, config: QueueConfig, *, preempted: bool = True
) -> QueuedItem:
    """The queued item a stopped attempt goes back as (after a Preempt, or a retry).

    It keeps its id, namespace, priority, demand and original `enqueued_at` (documented
    choice: wait time and aging count from when it first became ready, so a preempted item is
    not sent to the back). `attempt` grows by one, `preempted_count` when preempted. With the
    multi-level option it drops one level when preempted or when it ran `long_run_s` or longer,
    and its time in the level starts now.
    """
    item = running.item
    ran_long = config.long_run_s is not None and now - running.started_at >= config.long_run_s
    level = item.level
    if config.multilevel and (preempted or ran_long):
        level = min(item.level + 1, config.levels - 1)
    return replace(
        item,
        attempt=item.attempt + 1,
        preempted_count=item.preempted_count + (1 if preempted else 0),
        level=level,
        level_since=now if config.multilevel else item.level_since,
    )


class _Entry(NamedTuple):
    item: QueuedItem
    level: int
    since: float
    token: int


def _serve_key(item: QueuedItem, config: QueueConfig) -> tuple[float, float, float, str]:
    # Highest aged priority first, then plan rank, then first enqueued, then id (a total,
    # deterministic order).
    rank = math.inf if item.rank is None else item.rank
    return (
        -(item.priority - config.age_rate * item.enqueued_at),
        rank,
        item.enqueued_at,
        item.id,
    )


class NamespaceQueue:
    """The waiting items of one namespace, served by level then aged priority."""

    def __init__(self, config: QueueConfig, items: Iterable[QueuedItem] = ()) -> None:
        self._config = config
        self._levels = config.effective_levels
        self._serve: list[list[tuple[tuple[float, float, float, str], int]]] = [
            [] for _ in range(self._levels)
        ]
        self._promo: list[list[tuple[float, str, int]]] = [[] for _ in range(self._levels)]
        self._entries: dict[str, _Entry] = {}
        self._token = 0
        for item in items:
            self._add(item, heap=False)
        for heap in self._serve:
            heapq.heapify(heap)
        for promo in self._promo:
            heapq.heapify(promo)

    # -- operations -----------------------------------------------------------------------

    def push(self, item: QueuedItem) -> None:
        self._add(item, heap=True)

    def peek(self, now: float) -> QueuedItem | None:
        entry = self._head(now)
        return None if entry is None else self._served(entry)

    def pop(self, now: float) -> QueuedItem | None:
        entry = self._head(now)
        if entry is None:
            return None
        heapq.heappop(self._serve[entry.level])
        del self._entries[entry.item.id]
        return self._served(entry)

    def remove(self, item_id: str) -> QueuedItem | None:
        """Removes an item wherever it is (lazily: its heap entries are skipped later)."""
        entry = self._entries.pop(item_id, None)
        return None if entry is None else entry.item

    def promote(self, now: float) -> None:
        """Moves items up one level for every `promote_after_s` waited in their level."""
        step = self._config.promote_after_s
        for level in range(self._levels - 1, 0, -1):  # top-down: an item may climb twice
            promo = self._promo[level]
            while promo and promo[0][0] + step <= now:
                since, item_id, token = heapq.heappop(promo)
                entry = self._entries.get(item_id)
                if entry is None or entry.token != token:
                    continue
                self._place(entry.item, level - 1, since + step, heap=True)

    def items(self, now: float) -> list[QueuedItem]:
        """Every waiting item in serving order (O(n log n); for metrics and inspection)."""
        self.promote(now)
        ordered = sorted(
            self._entries.values(),
            key=lambda e: (e.level, _serve_key(e.item, self._config)),
        )
        return [self._served(e) for e in ordered]

    def depth_by_level(self, now: float) -> tuple[int, ...]:
        self.promote(now)
        counts = [0] * self._levels
        for entry in self._entries.values():
            counts[entry.level] += 1
        return tuple(counts)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._entries

    def __iter__(self) -> Iterator[QueuedItem]:
        return iter([e.item for e in self._entries.values()])

    # -- internals ------------------------------------------------------------------------

    def _add(self, item: QueuedItem, *, heap: bool) -> None:
        if item.id in self._entries:
            raise ValueError(f"item {item.id} is already queued")
        level = min(item.level, self._levels - 1) if self._config.multilevel else 0
        self._place(item, level, level_since(item), heap=heap)

    def _place(self, item: QueuedItem, level: int, since: float, *, heap: bool) -> None:
        self._token += 1
        entry = _Entry(item, level, since, self._token)
        self._entries[item.id] = entry
        serve = (_serve_key(item, self._config), entry.token)
        promo = (since, item.id, entry.token)
        if heap:
            heapq.heappush(self._serve[level], serve)
            if level > 0:
                heapq.heappush(self._promo[level], promo)
        else:
            self._serve[level].append(serve)
            if level > 0:
                self._promo[level].append(promo)

    def _head(self, now: float) -> _Entry | None:
        self.promote(now)
        for level, heap in enumerate(self._serve):
            while heap:
                (*_, item_id), token = heap[0]
                entry = self._entries.get(item_id)
                if entry is not None and entry.token == token and entry.level == level:
                    return entry
                heapq.heappop(heap)  # stale: removed, popped or promoted
        return None

    def _served(self, entry: _Entry) -> QueuedItem:
        item = entry.item
        if not self._config.multilevel or (item.level, item.level_since) == (
            entry.level,
            entry.since,
        ):
            return item
        return replace(item, level=entry.level, level_since=entry.since)


def queue_metrics(state: NamespaceState, now: float, config: QueueConfig) -> QueueMetrics:
    """Depth and wait time of one namespace's queue (export as gauges / histograms)."""
    waits = [max(0.0, now - item.enqueued_at) for item in state.queued]
    depth_by_level = [0] * config.effective_levels
    for item in state.queued:
        depth_by_level[effective_level(item, now, config)] += 1
    return QueueMetrics(
        namespace=state.name,
        depth=len(waits),
        running=len(state.running),
        oldest_wait_s=max(waits, default=0.0),
        mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
        depth_by_level=tuple(depth_by_level),
    )
