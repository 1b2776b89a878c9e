"""Agent events on a real SQLite store: stored and read back whole, sequences that go on after
a restart, each agent pruned to its newest events now and then (not at every event), events
held through a store outage and stored once it ends, and a watcher that falls behind reading
the store again without losing anything."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.engine.agents import events as events_module
from controlplane.engine.agents.events import AgentEvents, rollout_event
from controlplane.store import SqliteStore
from controlplane.store.agent_events import AgentEventStore
from models.agent_events import SOURCE_BACKEND, AgentEvent, AgentEventType
from models.agents import (
    AgentSpec,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
)
from models.backend import ReplicaChange, ReplicaEvent

BREAKER = AgentEventType.REPLICA_BREAKER_CHANGED


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "db.sqlite", synchronous="NORMAL")
    yield store
    store.close()


def breaker_event(agent: str, number: int) -> ReplicaEvent:
    return ReplicaEvent(
        agent=agent,
        replica=f"{agent}/v1/abc/0",
        version="v1",
        change=ReplicaChange.BREAKER,
        time=1000.0 + number,
        before="CLOSED",
        after="OPEN",
        reason=f"event {number}",
        last_error="RuntimeError: broken",
    )


async def stored(events: AgentEvents) -> None:
    """Waits until every recorded event is stored (the flush task is done)."""
    for _ in range(500):
        if events._flushing is None or events._flushing.done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("agent events were not stored in time")


def test_events_round_trip_and_sequences_go_on_after_a_restart(store: SqliteStore) -> None:
    async def scenario() -> list[AgentEvent]:
        events = AgentEvents(store, clock=lambda: 5.0)
        events.replica_event(breaker_event("coder", 1))
        events.record("tester", AgentEventType.REPLICA_STOPPED, SOURCE_BACKEND, {"x": [1, 2]})
        events.replica_event(breaker_event("coder", 2))
        await stored(events)
        return events.list_events("coder", 0, "")[0]

    newest = asyncio.run(scenario())
    assert [e.sequence for e in newest] == [3, 1]
    first = newest[1]
    assert first == AgentEvent(
        sequence=1,
        time=1001.0,
        agent="coder",
        type=BREAKER,
        source="backend",
        replica="coder/v1/abc/0",
        data={
            "version": "v1",
            "from": "CLOSED",
            "to": "OPEN",
            "reason": "event 1",
            "last_error": "RuntimeError: broken",
        },
    )
    table = AgentEventStore(store)
    [other] = table.after("tester", 0, 10)
    assert other.data == {"x": [1, 2]} and other.time == 5.0 and other.replica == ""
    assert [e.sequence for e in table.after("coder", 1, 10)] == [3]

    async def restarted() -> int:
        again = AgentEvents(store, clock=lambda: 6.0)
        again.replica_event(breaker_event("coder", 3))
        await stored(again)
        return again.list_events("coder", 1, "")[0][0].sequence

    assert asyncio.run(restarted()) == 4


def test_pages_are_newest_first_and_tokens_are_bound_to_the_agent(store: SqliteStore) -> None:
    async def scenario() -> AgentEvents:
        events = AgentEvents(store, clock=lambda: 1.0)
        for number in range(7):
            events.replica_event(breaker_event("coder", number))
        await stored(events)
        return events

    events = asyncio.run(scenario())
    seen: list[int] = []
    token = ""
    while True:
        page, token = events.list_events("coder", 3, token)
        seen.extend(e.sequence for e in page)
        if not token:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    _, token = events.list_events("coder", 3, "")
    with pytest.raises(Exception, match="page_token"):
        events.list_events("tester", 3, token)


def test_each_agent_keeps_its_newest_events_pruned_now_and_then(store: SqliteStore) -> None:
    table = AgentEventStore(store)
    counts: list[int] = []

    async def scenario() -> None:
        events = AgentEvents(store, clock=lambda: 1.0, keep_per_agent=5, prune_every=3)
        events.replica_event(breaker_event("other", 0))
        for number in range(12):
            events.replica_event(breaker_event("coder", number))
            await stored(events)  # one event per transaction
            counts.append(table.count("coder"))

    asyncio.run(scenario())
    # Pruned every third event, not at each: between prunes an agent holds a few more.
    assert counts == [1, 2, 3, 4, 5, 5, 6, 7, 5, 6, 7, 5]
    kept = table.after("coder", 0, 100)
    assert [e.data["reason"] for e in kept] == [f"event {n}" for n in range(7, 12)]
    assert table.count("other") == 1  # untouched by the other agent's prunes


def set_max_pages(store: SqliteStore, pages: int | None) -> None:
    """Caps the database at its current size (None) or at `pages`."""
    writer: Any = store._writer
    with store._write_lock:
        if pages is None:
            pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages}")


def test_events_wait_out_a_store_outage_and_are_stored_once_it_ends(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=events_module.__name__)
    big = "x" * 100_000  # needs new pages, so a full store refuses it
    table = AgentEventStore(store)

    async def scenario() -> None:
        events = AgentEvents(store, clock=lambda: 1.0, retry_initial_s=0.01, retry_max_s=0.05)
        set_max_pages(store, None)
        for number in range(3):
            events.record("coder", BREAKER, SOURCE_BACKEND, {"n": number, "blob": big})
        for _ in range(100):
            if "refuses agent events" in caplog.text:
                break
            await asyncio.sleep(0.01)
        assert table.count("coder") == 0
        set_max_pages(store, 1 << 30)
        await stored(events)

    asyncio.run(scenario())
    assert [e.data["n"] for e in table.after("coder", 0, 10)] == [0, 1, 2]
    assert "3 held until it takes writes again" in caplog.text
    assert "takes agent events again" in caplog.text


def test_events_over_the_memory_bound_during_an_outage_are_given_up_and_logged(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    table = AgentEventStore(store)

    async def scenario() -> None:
        events = AgentEvents(
            store, clock=lambda: 1.0, max_pending=2, retry_initial_s=0.01, retry_max_s=0.05
        )
        set_max_pages(store, None)
        events.record("coder", BREAKER, SOURCE_BACKEND, {"n": 0, "blob": "x" * 100_000})
        await asyncio.sleep(0.05)  # the first is in flight, refused
        for number in range(1, 6):
            events.record("coder", BREAKER, SOURCE_BACKEND, {"n": number})
        set_max_pages(store, 1 << 30)
        await stored(events)

    asyncio.run(scenario())
    # The batch in flight and the newest two waiting are kept; the three oldest waiting go.
    assert [e.data["n"] for e in table.after("coder", 0, 10)] == [0, 4, 5]
    assert "giving up the oldest (first: #2 REPLICA_BREAKER_CHANGED of coder)" in caplog.text
    assert "3 agent events were given up while the store refused writes" in caplog.text


def test_an_event_the_store_cannot_take_is_given_up_alone_and_logged(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        events = AgentEvents(store, clock=lambda: 1.0)
        events.record("coder", BREAKER, SOURCE_BACKEND, {"n": 1})
        events.record("coder", BREAKER, SOURCE_BACKEND, {"n": {2}})  # no JSON for a set
        events.record("coder", BREAKER, SOURCE_BACKEND, {"n": 3})
        await stored(events)  # the three were one batch

    asyncio.run(scenario())
    assert [e.data["n"] for e in AgentEventStore(store).after("coder", 0, 10)] == [1, 3]
    assert "could not store agent event #2 (REPLICA_BREAKER_CHANGED of coder)" in caplog.text
    assert "TypeError" in caplog.text


def test_a_watcher_that_falls_behind_reads_the_store_and_misses_nothing(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "WATCHER_BUFFER", 10)

    async def scenario() -> list[int]:
        events = AgentEvents(store, clock=lambda: 1.0)
        events.replica_event(breaker_event("coder", 0))
        await stored(events)
        watch: AsyncIterator[AgentEvent] = events.watch("coder", 0)
        got = [(await anext(watch)).sequence]
        for number in range(1, 60):  # far more than its buffer while it does not read
            events.replica_event(breaker_event("coder", number))
            if number % 7 == 0:
                await stored(events)
        await stored(events)
        [subscription] = events._watchers["coder"]
        assert subscription.overflowed  # it reads the store again
        while got[-1] < 60:
            got.append((await asyncio.wait_for(anext(watch), 5)).sequence)
        events.end_watches()
        assert [e.sequence async for e in watch] == []  # ends once stopped
        return got

    assert asyncio.run(scenario()) == list(range(1, 61))


def test_rollout_steps_and_ends_carry_what_happened() -> None:
    v1 = AgentSpec("coder", "v1", "m:C")
    v2 = AgentSpec("coder", "v2", "m:C")
    record = RolloutRecord(
        rollout_id="r1",
        agent="coder",
        strategy=RolloutStrategy(),
        stable=v1,
        new=v2,
        steps=(RolloutStep(1, 1, 0.1, 60.0, True), RolloutStep(0, 1)),
        step=0,
        state=RolloutState.PROGRESSING,
        create_time=1.0,
        update_time=2.0,
        message="step 1 of 2: 10% of attempts to v2, held 60s",
    )
    kind, data = rollout_event(record)
    assert kind is AgentEventType.ROLLOUT_STEP
    assert data == {
        "rollout_id": "r1",
        "stable_version": "v1",
        "new_version": "v2",
        "message": "step 1 of 2: 10% of attempts to v2, held 60s",
        "step": 0,
        "steps": 2,
        "new_weight": 0.1,
    }
    analysis = StepAnalysis(20, 0.5, 0.1, 40, 0.0, 0.1, "fail", "error rate 50% > 0% + 5%")
    ended = dataclasses.replace(
        record,
        state=RolloutState.ROLLED_BACK,
        analysis=analysis,
        message="rolled back: error rate 50% > 0% + 5%",
    )
    kind, data = rollout_event(ended)
    assert kind is AgentEventType.ROLLOUT_ENDED
    assert data["state"] == "ROLLED_BACK" and data["verdict"] == "fail"
    assert data["analysis_reason"] == "error rate 50% > 0% + 5%"
    assert "step" not in data


def test_a_replica_lost_with_its_node_names_the_node_in_both_events() -> None:
    stopped = ReplicaEvent(
        agent="a",
        replica="a/v1/x/1",
        version="v1",
        change=ReplicaChange.STOPPED,
        time=1.0,
        before="READY",
        after="STARTING",
        reason="its node n2 died (Ray lists the node dead)",
        node_id="n2",
    )
    assert events_module.replica_data(stopped) == {
        "version": "v1",
        "reason": "its node n2 died (Ray lists the node dead)",
        "node_id": "n2",
    }
    restarted = dataclasses.replace(
        stopped, change=ReplicaChange.STARTED, reason="restarted by Ray", node_id="n1"
    )
    assert events_module.replica_data(restarted) == {
        "version": "v1",
        "node_id": "n1",
        "reason": "restarted by Ray",
    }
    stopped_elsewhere = dataclasses.replace(stopped, node_id="")
    assert "node_id" not in events_module.replica_data(stopped_elsewhere)
