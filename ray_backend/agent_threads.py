"""Worker threads for a sync agent's calls, awaited from the replica's event loops.

``loop.run_in_executor`` costs, per call, a ``concurrent.futures.Future`` (a condition and its
lock), a work item, a chained asyncio future and one wake-up of the loop through its self-pipe.
``AgentThreads`` hands each call to a worker as a plain tuple, and the workers give results back
in batches: a result finished while an earlier one still waits to be collected rides on the
wake-up already scheduled, so a replica under load wakes its loop once for many calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

# (future to settle, its loop, the caller's context, function, arguments).
_Call = tuple["asyncio.Future[Any]", asyncio.AbstractEventLoop, contextvars.Context, Any, Any]


class _Inbox:
    """Results finished for one event loop and not yet collected by it."""

    __slots__ = ("results", "scheduled")

    def __init__(self) -> None:
        self.results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        self.scheduled = False


class AgentThreads:
    """Runs calls on up to `size` daemon threads, started as the calls in flight need them.

    A call runs in a copy of the caller's context (as ``asyncio.to_thread`` does). A call whose
    future was cancelled before a worker took it is not run; one already running is not stopped
    (a thread cannot be), its result is dropped.
    """

    def __init__(self, size: int, name: str = "agent") -> None:
        self._size = max(1, int(size))
        self._name = name
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._inboxes: dict[asyncio.AbstractEventLoop, _Inbox] = {}
        self._in_flight = 0
        self._threads: list[threading.Thread] = []

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """`fn(*args)` on a worker thread; await the returned future for its result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._in_flight += 1
            start = self._in_flight > len(self._threads) and len(self._threads) < self._size
            if start:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        if start:
            thread.start()
        self._calls.put((future, loop, contextvars.copy_context(), fn, args))
        return future

    def _work(self) -> None:
        while True:
            call = self._calls.get()
            future, loop, context, fn, args = call
            ok, result = False, None
            if not future.cancelled():
                try:
                    result, ok = context.run(fn, *args), True
                # Everything, as an executor does: the awaiting coroutine raises it.
                except BaseException as exc:
                    result = exc
            del call, context, fn, args
            self._hand_back(loop, future, ok, result)

    def _hand_back(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], ok: bool, result: Any
    ) -> None:
        with self._lock:
            inbox = self._inboxes.get(loop)
            if inbox is None:
                inbox = self._inboxes[loop] = _Inbox()
            inbox.results.append((future, ok, result))
            if inbox.scheduled:
                return  # collected by the wake-up already on its way
            inbox.scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits any more
            loop.call_soon_threadsafe(self._collect, inbox)

    def _collect(self, inbox: _Inbox) -> None:
        """On the loop: settles every future whose call finished since the last collection."""
        with self._lock:
            results, inbox.results = inbox.results, []
            inbox.scheduled = False
            self._in_flight -= len(results)
        for future, ok, result in results:
            if future.cancelled():
                continue
            if ok:
                future.set_result(result)
            elif isinstance(result, StopIteration):  # a future cannot carry StopIteration
                future.set_exception(RuntimeError(f"agent raised StopIteration: {result}"))
            else:
                future.set_exception(result)
