"""The event hub remembers the last sequence of live executions and of only the most recently
finished ones, so that memory does not grow with every execution that ever ran."""

from __future__ import annotations

import asyncio
import time

from controlplane.engine.executions.event_hub import EventHub


def test_only_the_most_recently_finished_executions_are_remembered() -> None:
    hub = EventHub(keep_finished=2)
    for k in range(5):
        hub.published(f"e{k}", 3)
    hub.published("live", 7)
    for k in range(5):
        hub.finished(f"e{k}")
    assert hub.remembered() == 3  # e3, e4 and the live one


def test_a_publish_after_the_end_is_remembered_until_others_finish() -> None:
    hub = EventHub(keep_finished=1)
    hub.published("late", 5)
    hub.finished("late")
    hub.published("late", 6)  # a change that was in flight when the execution ended
    assert hub.remembered() == 1
    hub.published("next", 1)
    hub.finished("next")
    assert hub.remembered() == 1  # "late" went
    hub.published("late", 7)  # retried: remembered again, and again until others finish
    hub.finished("late")
    hub.published("after", 1)
    hub.finished("after")
    assert hub.remembered() == 1


def test_finishing_an_unknown_or_forgotten_execution_keeps_nothing() -> None:
    hub = EventHub(keep_finished=4)
    hub.finished("never-published")
    hub.published("deleted", 2)
    hub.forget("deleted")
    hub.finished("deleted")
    assert hub.remembered() == 0


def test_a_watcher_of_a_recently_finished_execution_does_not_wait() -> None:
    async def scenario() -> tuple[float, float]:
        hub = EventHub(keep_finished=1)
        hub.published("old", 4)
        hub.finished("old")
        hub.published("new", 4)
        hub.finished("new")  # "old" is forgotten now
        started = time.monotonic()
        await hub.wait_beyond("new", 3, timeout=5.0)
        at_once = time.monotonic() - started
        started = time.monotonic()
        await hub.wait_beyond("old", 3, timeout=0.2)  # the store has the events: a poll
        return at_once, time.monotonic() - started

    at_once, polled = asyncio.run(scenario())
    assert at_once < 0.1
    assert polled >= 0.15
