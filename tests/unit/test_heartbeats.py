"""The heartbeat timeout and the coalescing of heartbeat records, on a fake clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from controlplane.engine.executions.heartbeats import (
    AttemptBeats,
    HeardBeat,
    HeartbeatLost,
    HeartbeatWatch,
    heartbeating,
)
from models.heartbeats import MAX_DETAILS_BYTES, RECORD_INTERVAL_S, details_problem


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Timer:
    at: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """call_later on the fake clock: `advance` runs what falls due."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.timers: list[Timer] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.clock.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        for timer in list(self.timers):
            if timer.at <= self.clock.now and not timer.cancelled:
                self.timers.remove(timer)
                timer.callback()


def beats_on(
    clock: FakeClock, timeout_s: float | None = None
) -> tuple[AttemptBeats, FakeScheduler, list[str]]:
    """An attempt's beats whose due recordings take at once (as the runner's step does), the
    scheduler of its timers and what was recorded."""
    scheduler = FakeScheduler(clock)
    recorded: list[str] = []

    def record_now() -> None:
        beat = beats.take()
        recorded.append(repr(beat.details if beat else None))

    beats = AttemptBeats(
        "e/t attempt 1",
        timeout_s,
        monotonic=clock,
        wall=lambda: 1_000.0 + clock.now,
        call_later=scheduler,
        on_due=record_now,
    )
    return beats, scheduler, recorded


def test_watch_counts_the_start_as_a_heartbeat_and_each_heartbeat_extends_it() -> None:
    watch = HeartbeatWatch(timeout_s=10.0, last=100.0)
    assert watch.left(105.0) == 5.0
    watch.beat(108.0)
    assert watch.left(115.0) == 3.0
    watch.beat(90.0)  # a late report never moves it back
    assert watch.left(118.0) == 0.0
    assert str(watch.lost(121.5)) == "no heartbeat for 13.5s (heartbeat_timeout 10s)"
    assert HeartbeatLost.error_type == "HeartbeatTimeout"


def test_without_a_timeout_an_attempt_is_never_lost() -> None:
    assert HeartbeatWatch(timeout_s=None, last=0.0).left(1e9) == float("inf")


def test_heartbeats_keep_the_attempt_alive_on_the_fake_clock() -> None:
    clock = FakeClock()
    beats, timers, _ = beats_on(clock, timeout_s=3.0)
    for _ in range(5):
        timers.advance(2.0)
        beats.heard(None)
        assert beats.watch.left(clock.now) == 3.0
    timers.advance(2.9)
    assert beats.watch.left(clock.now) > 0
    timers.advance(0.2)
    assert beats.watch.left(clock.now) < 0


def test_first_details_are_recorded_at_once_later_ones_at_most_every_interval() -> None:
    clock = FakeClock()
    beats, timers, recorded = beats_on(clock)
    beats.heard({"step": 1})
    timers.advance(0)
    assert recorded == ["{'step': 1}"]
    for step in range(2, 50):  # many heartbeats inside one interval
        timers.advance(0.01)
        beats.heard({"step": step})
    assert recorded == ["{'step': 1}"]
    timers.advance(RECORD_INTERVAL_S)
    assert recorded == ["{'step': 1}", "{'step': 49}"]  # only the latest of them
    timers.advance(RECORD_INTERVAL_S * 3)
    assert len(recorded) == 2  # nothing new: nothing recorded


def test_heartbeats_without_details_record_nothing_on_their_own() -> None:
    clock = FakeClock()
    beats, timers, recorded = beats_on(clock)
    for _ in range(10):
        timers.advance(1.0)
        beats.heard(None)
    assert recorded == [] and timers.timers == []
    # What the attempt's end records: the time of the last heartbeat, no new details.
    assert beats.take() == HeardBeat(time=1_000.0 + clock.now, details=None)
    assert beats.take() is None


def test_end_of_attempt_takes_the_unrecorded_details_and_cancels_the_pending_record() -> None:
    clock = FakeClock()
    beats, timers, recorded = beats_on(clock)
    beats.heard({"step": 1})
    timers.advance(0)
    timers.advance(1.0)
    beats.heard({"step": 2})
    final = beats.take()
    beats.close()
    assert final == HeardBeat(time=1_000.0 + clock.now, details={"step": 2})
    timers.advance(RECORD_INTERVAL_S)
    assert recorded == ["{'step': 1}"]
    beats.heard({"step": 3})  # after the end: not heard
    assert beats.details == {"step": 2}


def test_bad_details_are_dropped_with_a_reason_and_the_heartbeat_still_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    beats, timers, recorded = beats_on(clock, timeout_s=5.0)
    beats.heard({"ok": 1})
    timers.advance(4.0)
    with caplog.at_level(logging.WARNING):
        beats.heard({"score": float("nan")})
        beats.heard({"blob": "x" * MAX_DETAILS_BYTES})
    assert beats.watch.left(clock.now) == 5.0
    assert beats.details == {"ok": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert any("details.score nan is not a JSON number" in m for m in messages)
    assert any("over the 65,536-byte limit" in m for m in messages)
    assert all(m.startswith("e/t attempt 1: heartbeat details dropped") for m in messages)
    assert recorded == ["{'ok': 1}"]


def test_details_problem_names_the_value_domain_and_size() -> None:
    assert details_problem({"a": [1, "x", None]}) is None
    assert details_problem([1, 2]) == "details must be an object or None, got list"
    assert details_problem({"n": 2**60}) is not None
    assert details_problem({1: "x"}) == "details has the key 1: keys must be strings"


def test_heartbeating_cancels_a_silent_invocation() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        hung: asyncio.Future[str] = loop.create_future()
        watch = HeartbeatWatch(timeout_s=0.1, last=loop.time())
        with pytest.raises(HeartbeatLost):
            await heartbeating(hung, watch)
        assert hung.cancelled()

    asyncio.run(main())


def test_heartbeating_returns_the_result_while_heartbeats_keep_coming() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        watch = HeartbeatWatch(timeout_s=0.2, last=loop.time())

        async def long_call() -> str:
            for _ in range(10):  # 0.5 s in all, more than twice the timeout
                await asyncio.sleep(0.05)
                watch.beat(loop.time())
            return "done"

        assert await heartbeating(asyncio.ensure_future(long_call()), watch) == "done"

    asyncio.run(main())


def test_heartbeating_passes_cancellation_on_to_the_invocation() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        hung: asyncio.Future[str] = loop.create_future()
        watch = HeartbeatWatch(timeout_s=60, last=loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(heartbeating(hung, watch), 0.05)
        assert hung.cancelled()

    asyncio.run(main())
