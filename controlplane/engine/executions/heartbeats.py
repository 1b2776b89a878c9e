"""Heartbeats of attempts in flight: whether an attempt still heartbeats (its task's
`heartbeat_timeout`), its latest details, and when to record them.

Agents may heartbeat many times a second; the store sees a fraction of that. New details are
recorded at once when none were recorded in the last RECORD_INTERVAL_S, otherwise when that
interval has passed (the latest ones then), and the latest unrecorded ones when the attempt ends.
A heartbeat without details records nothing on its own: it only proves the attempt alive.
Details outside the value domain or over the size limit are dropped with a logged reason;
the heartbeat still counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from models.heartbeats import HEARTBEAT_TIMEOUT, RECORD_INTERVAL_S, details_problem

log = logging.getLogger(__name__)

T = TypeVar("T")


class Cancellable(Protocol):
    def cancel(self) -> None: ...


# call_later(delay_s, callback): an asyncio loop's, or a fake one in tests.
Scheduler = Callable[[float, Callable[[], None]], Cancellable]


class HeartbeatLost(Exception):
    """The attempt stopped heartbeating for longer than its task allows."""

    error_type = HEARTBEAT_TIMEOUT


@dataclass
class HeartbeatWatch:
    """Whether an attempt still heartbeats. Times are seconds of one monotonic clock, read by
    the caller; the attempt's start counts as its first heartbeat."""

    timeout_s: float | None
    last: float

    def beat(self, now: float) -> None:
        self.last = max(self.last, now)

    def left(self, now: float) -> float:
        """Seconds until the attempt counts as lost (infinite without a timeout)."""
        if self.timeout_s is None:
            return float("inf")
        return self.last + self.timeout_s - now

    def lost(self, now: float) -> HeartbeatLost:
        return HeartbeatLost(
            f"no heartbeat for {now - self.last:.1f}s (heartbeat_timeout {self.timeout_s:g}s)"
        )


@dataclass(frozen=True)
class HeardBeat:
    """The latest heartbeat of an attempt, to record: its wall-clock time, and its details when
    they are new since the last recording (None otherwise)."""

    time: float
    details: dict[str, Any] | None


class AttemptBeats:
    """The heartbeats of one attempt in flight; `heard` is the listener the backend calls."""

    def __init__(
        self,
        where: str,
        timeout_s: float | None,
        *,
        monotonic: Callable[[], float],
        wall: Callable[[], float],
        call_later: Scheduler,
        on_due: Callable[[], None],
        record_interval_s: float = RECORD_INTERVAL_S,
    ) -> None:
        """`on_due()` is called when unrecorded details should be recorded now (by `take`)."""
        self._where = where
        self._monotonic = monotonic
        self._wall = wall
        self._call_later = call_later
        self._on_due = on_due
        self._interval = record_interval_s
        self.watch = HeartbeatWatch(timeout_s, monotonic())
        # The latest accepted details of this attempt, and the wall time of its latest heartbeat.
        self.details: dict[str, Any] | None = None
        self.time: float | None = None
        self._new_details = False
        self._new_time = False
        self._recorded_at: float | None = None
        self._timer: Cancellable | None = None
        self._closed = False

    def heard(self, details: dict[str, Any] | None) -> None:
        if self._closed:
            return
        now = self._monotonic()
        self.watch.beat(now)
        self.time, self._new_time = self._wall(), True
        if details is None:
            return
        problem = details_problem(details)
        if problem is not None:
            log.warning("%s: heartbeat details dropped: %s", self._where, problem)
            return
        self.details, self._new_details = details, True
        if self._timer is None:
            since = None if self._recorded_at is None else now - self._recorded_at
            wait = 0.0 if since is None else max(0.0, self._interval - since)
            self._timer = self._call_later(wait, self._due)

    def _due(self) -> None:
        if self._closed:
            return
        if not self._new_details:
            self._timer = None
            return
        # The timer stays set until `take`, so no second recording is arranged meanwhile.
        self._on_due()

    def take(self) -> HeardBeat | None:
        """The heartbeat to record now, if anything of it is unrecorded; marks it recorded."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not (self._new_time and self.time is not None):
            return None
        beat = HeardBeat(self.time, self.details if self._new_details else None)
        if self._new_details:
            self._recorded_at = self._monotonic()
        self._new_details = self._new_time = False
        return beat

    def awaiting(self, invocation: asyncio.Future[T]) -> Awaitable[T]:
        """What to await for the attempt's outcome: the invocation itself, or with a
        heartbeat timeout, a watch that cancels it and raises HeartbeatLost once it is silent
        for too long."""
        if self.watch.timeout_s is None:
            return invocation
        return heartbeating(invocation, self.watch)

    def close(self) -> None:
        """The attempt ended: later heartbeats are ignored and nothing more is due."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def heartbeating(invocation: asyncio.Future[T], watch: HeartbeatWatch) -> T:
    """The invocation's result, unless the attempt stops heartbeating first: then it is
    cancelled (on the replica too) and HeartbeatLost raised."""
    loop = asyncio.get_running_loop()
    try:
        while (left := watch.left(loop.time())) > 0:
            await asyncio.wait((invocation,), timeout=left)
            if invocation.done():
                return invocation.result()
    except asyncio.CancelledError:
        invocation.cancel()
        raise
    invocation.cancel()
    raise watch.lost(loop.time())


class LiveHeartbeats:
    """The heartbeats of one execution's attempts in flight, by task, and the recordings of
    their details under way. Lives on the engine's event loop."""

    def __init__(self, execution_id: str, wall: Callable[[], float]) -> None:
        self._execution_id = execution_id
        self._wall = wall
        self._beats: dict[str, AttemptBeats] = {}
        self._recordings: set[asyncio.Task[None]] = set()

    def start(
        self,
        task_id: str,
        attempt: int,
        timeout_s: float | None,
        record: Callable[[AttemptBeats], Awaitable[bool]],
    ) -> AttemptBeats:
        """Follows a new attempt of `task_id`. `record(beats)` records its latest heartbeat
        (taking it) and says whether that change was recorded; when it was not, the task is
        being reconciled with the store and the coroutine running the attempt is cancelled."""
        loop = asyncio.get_running_loop()
        owner = asyncio.current_task()

        def due() -> None:
            recording = loop.create_task(self._recording(record, beats, owner))
            self._recordings.add(recording)
            recording.add_done_callback(self._recordings.discard)

        beats = AttemptBeats(
            f"{self._execution_id}/{task_id} attempt {attempt}",
            timeout_s,
            monotonic=loop.time,
            wall=self._wall,
            call_later=loop.call_later,
            on_due=due,
        )
        self._beats[task_id] = beats
        return beats

    @staticmethod
    async def _recording(
        record: Callable[[AttemptBeats], Awaitable[bool]],
        beats: AttemptBeats,
        owner: asyncio.Task[Any] | None,
    ) -> None:
        if not await record(beats) and owner is not None:
            owner.cancel()

    def of(self, task_id: str) -> AttemptBeats:
        return self._beats[task_id]

    def end(self, task_id: str) -> None:
        """The attempt of `task_id` has ended (and its outcome is recorded)."""
        beats = self._beats.pop(task_id, None)
        if beats is not None:
            beats.close()

    def heard(self) -> dict[str, tuple[float, dict[str, Any] | None]]:
        """The latest heartbeat heard of each attempt in flight (recorded or not yet): its
        wall-clock time and this attempt's latest details (None if it sent none)."""
        return {
            task_id: (beats.time, beats.details)
            for task_id, beats in self._beats.items()
            if beats.time is not None
        }

    def stop(self) -> None:
        """Shutting down: recordings under way are abandoned (the store keeps the last one)."""
        for recording in self._recordings:
            recording.cancel()
