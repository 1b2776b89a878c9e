"""Wakes WatchExecution streams when an execution's committed event history grows.

It carries no events itself: watchers re-read the store, so a slow watcher can never lose
or reorder anything and memory stays bounded. It remembers the last committed sequence of every
live execution, and of only the most recently finished ones: a watcher that read the store just
before an execution's last commit still wakes at once; one of an execution that ended long ago
finds everything in the store without waiting.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict

KEEP_FINISHED = 1024


class EventHub:
    def __init__(self, keep_finished: int | None = None) -> None:
        self._last: dict[str, int] = {}
        self._waiters: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)
        # Finished executions whose last sequence is still remembered, oldest first.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._keep_finished = KEEP_FINISHED if keep_finished is None else keep_finished

    def published(self, execution_id: str, last_sequence: int) -> None:
        """Called after the events up to `last_sequence` are durable."""
        self._last[execution_id] = max(self._last.get(execution_id, 0), last_sequence)
        for waiter in self._waiters.pop(execution_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def finished(self, execution_id: str) -> None:
        """The execution ended: its last sequence is forgotten once `keep_finished` executions
        have finished after it. Commits of it may still land meanwhile (two tasks' changes in
        flight when the second ends it), and a retry publishes again: either only sets its last
        sequence anew, and a watcher is woken by every publish whether or not it is held."""
        if execution_id not in self._last:
            return
        self._finished[execution_id] = None
        self._finished.move_to_end(execution_id)
        while len(self._finished) > self._keep_finished:
            oldest, _ = self._finished.popitem(last=False)
            self._last.pop(oldest, None)

    def forget(self, execution_id: str) -> None:
        self._last.pop(execution_id, None)
        self._finished.pop(execution_id, None)

    def remembered(self) -> int:
        """How many executions' last sequences are held (live and recently finished)."""
        return len(self._last)

    async def wait_beyond(self, execution_id: str, sequence: int, timeout: float) -> None:
        """Returns once an event after `sequence` is committed, or after `timeout` seconds."""
        if self._last.get(execution_id, 0) > sequence:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[execution_id].append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[execution_id]
