"""Attempts bound for the same replica at the same moment go out in one Ray call.

A Ray actor call costs the caller about as much as everything else the control plane does for an
attempt, and costs the actor more than a no-op agent's work. The first attempt submitted for a
replica during one turn of the event loop goes out at once as a plain ``execute`` call, so a lone
attempt (light load, a chain step) takes exactly the path it always took; those that follow it in
the same turn (a burst of leases after a wave of outcomes, the start of a fan-out) are sent
together at the end of the turn, as one ``execute_batch`` call when there are several. Each attempt
still has its own answer, cancellation, heartbeats and failure: an attempt cancelled inside a
batch is cancelled on the replica by ``cancel_attempts`` (a Ray cancel would stop its
neighbours), and a batch that fails as a whole (the replica died) fails each of its attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import ray

from ray_backend.attempt_context import AttemptKey

log = logging.getLogger(__name__)

# At most this many attempts in one call (a replica's slots bound it already; this bounds the
# message, whatever the slots).
MAX_BATCH = 64


@dataclass(eq=False)
class BatchedCall:
    """One attempt's call: await `pending` for its envelope; `cancel()` stops it on the
    replica."""

    handle: Any
    input: Any
    context: dict[str, Any]
    answer: asyncio.Future[Any]
    # The lone call's ref, or None while queued or when it went out in a batch.
    ref: Any = None
    batched: bool = False
    sent: bool = False

    @property
    def pending(self) -> Any:
        """What to await for the envelope: a lone call's own ref when it went out at once
        (nothing in between), else the answer the batch (or the queued lone call) settles."""
        if self.ref is not None and not self.batched and not self.answer.done():
            return self.ref
        return self.answer

    @property
    def key(self) -> AttemptKey:
        context = self.context
        return (str(context["execution_id"]), str(context["task_id"]), int(context["attempt"]))

    def cancel(self) -> None:
        """Cancels the call wherever it is: still queued (it never goes out), a lone Ray call,
        or one attempt of a batch."""
        self.answer.cancel()
        if not self.sent:
            return
        with contextlib.suppress(Exception):
            if self.batched:
                self.handle.cancel_attempts.remote([self.key])
            elif self.ref is not None:
                ray.cancel(self.ref)


@dataclass(frozen=True)
class CallStats:
    """Ray calls made for attempts, and the attempts they carried (attempts / calls is the
    mean batch)."""

    calls: int = 0
    attempts: int = 0


class CallBatches:
    """Per replica, the attempts submitted during this turn of the loop, sent at its end."""

    def __init__(self) -> None:
        # Per replica, the calls queued behind the turn's first (which went out at once).
        self._queues: dict[str, list[BatchedCall]] = {}
        self.stats = CallStats()

    def submit(self, replica: str, handle: Any, input: Any, context: dict[str, Any]) -> BatchedCall:
        """The first attempt of a turn for `replica` goes out at once as a lone call (so a
        lone attempt waits for nothing); those that follow it in the same turn are queued and
        sent together at the end of the turn."""
        loop = asyncio.get_running_loop()
        call = BatchedCall(handle, input, context, loop.create_future())
        queue = self._queues.get(replica)
        if queue is None:
            self._queues[replica] = []
            loop.call_soon(self._flush, replica)
            self._send_lone(call)  # awaited by its own ref (see `BatchedCall.pending`)
        else:
            queue.append(call)
        return call

    def _send_lone(self, call: BatchedCall) -> bool:
        """A plain execute call; False when it could not be made (its answer says why)."""
        self._count(calls=1, attempts=1)
        call.sent = True
        try:
            call.ref = call.handle.execute.remote(call.input, call.context)
        except Exception as exc:
            call.answer.set_exception(exc)
            return False
        return True

    def _count(self, calls: int, attempts: int) -> None:
        self.stats = CallStats(self.stats.calls + calls, self.stats.attempts + attempts)

    def _flush(self, replica: str) -> None:
        calls = [c for c in self._queues.pop(replica, []) if not c.answer.done()]  # (cancelled)
        by_handle: dict[int, list[BatchedCall]] = {}
        for call in calls:  # one handle per replica, unless it was restarted meanwhile
            by_handle.setdefault(id(call.handle), []).append(call)
        for group in by_handle.values():
            for start in range(0, len(group), MAX_BATCH):
                self._send(group[start : start + MAX_BATCH])

    def _send(self, calls: list[BatchedCall]) -> None:
        handle = calls[0].handle
        if len(calls) == 1 or not _batches(handle):
            for call in calls:
                if self._send_lone(call):  # awaited through its answer: settle it from the ref
                    _settle_when_done(call.ref, [call], single=True)
            return
        self._count(calls=1, attempts=len(calls))
        for call in calls:
            call.sent = True
            call.batched = True
        try:
            ref = handle.execute_batch.remote([(c.input, c.context) for c in calls])
        except Exception as exc:
            for call in calls:
                call.answer.set_exception(exc)
            return
        _settle_when_done(ref, calls, single=False)


def _batches(handle: Any) -> bool:
    """Replicas started by an earlier version of the actor have no execute_batch."""
    try:
        return getattr(handle, "execute_batch", None) is not None
    except Exception:
        return False


def _settle_when_done(ref: Any, calls: list[BatchedCall], *, single: bool) -> None:
    future = asyncio.ensure_future(_awaited(ref))
    future.add_done_callback(lambda done: _settle(done, calls, single))


async def _awaited(ref: Any) -> Any:
    return await ref


def _settle(done: asyncio.Future[Any], calls: list[BatchedCall], single: bool) -> None:
    if done.cancelled():
        for call in calls:
            call.answer.cancel()
        return
    error = done.exception()
    if error is not None:
        for call in calls:
            if not call.answer.done():
                call.answer.set_exception(error)
        return
    answers = [done.result()] if single else done.result()
    if len(answers) != len(calls):  # pragma: no cover - the actor answers one per attempt
        log.error("a batch of %d attempts came back with %d answers", len(calls), len(answers))
        answers = list(answers) + [None] * (len(calls) - len(answers))
    for call, answer in zip(calls, answers, strict=False):
        if not call.answer.done():
            call.answer.set_result(answer)
