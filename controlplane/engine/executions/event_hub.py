"""Wakes WatchExecution streams when an execution's committed event history grows.

It carries no events itself: watchers re-read the store, so a slow watcher can never lose
or reorder anything and memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class EventHub:
    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._waiters: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)

    def published(self, execution_id: str, last_sequence: int) -> None:
        """Called after the events up to `last_sequence` are durable."""
        self._last[execution_id] = max(self._last.get(execution_id, 0), last_sequence)
        for waiter in self._waiters.pop(execution_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def forget(self, execution_id: str) -> None:
        self._last.pop(execution_id, None)

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
