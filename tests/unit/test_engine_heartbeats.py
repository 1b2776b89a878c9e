"""Heartbeats through the engine, against a real SQLite store and the in-process backend: the
heartbeat timeout fails a silent attempt and its retry resumes from the last details, which
GetExecution shows while the attempt runs (within the response budget) and the store keeps
across a restart."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from controlplane.api.codec.workflows import execution_to_proto
from controlplane.api.fitting import RESPONSE_LIMIT_BYTES, fit_execution
from controlplane.app import ControlPlane
from controlplane.cli import render
from models.backend import AttemptRequest
from models.executions import (
    AttemptStatus,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.workflows import View
from tests.unit.engine_runs import Body, eventually, finished
from tests.unit.engine_runs import run as run_engine
from tests.unit.fake_backend import Behaviour, FakeBackend


def run(body: Body, tmp_path: Path, behaviour: Behaviour | None = None) -> None:
    """Runs `body` with the agent "worker"; `behaviour`, when given, is its from the start
    (before a restarted control plane resumes anything)."""
    backend = FakeBackend()
    if behaviour is not None:
        backend.behaviours["worker"] = behaviour
    run_engine(body, tmp_path, backend, agents=("worker",))


def heartbeat_events(cp: ControlPlane, execution_id: str) -> list[Event]:
    events = cp.store.read_events(execution_id)
    return [e for e in events if e.type is EventType.ATTEMPT_HEARTBEAT]


def heartbeat_of(backend: FakeBackend, request: AttemptRequest) -> Callable[[Any], None]:
    return backend.heartbeats[(request.task_id, request.attempt)]


def test_a_silent_attempt_fails_as_heartbeat_timeout_and_its_retry_resumes(
    tmp_path: Path,
) -> None:
    text = """
name: crawl
tasks:
  - id: pages
    agent: worker
    heartbeat_timeout: 1s
    retry: {max_attempts: 2, initial_interval: 10ms}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        async def heartbeats_then_hangs(value: Any, request: AttemptRequest) -> Any:
            if request.attempt == 1:
                assert request.last_heartbeat is None
                heartbeat_of(backend, request)({"page": 3})
                await eventually(lambda: heartbeat_events(cp, request.execution_id))
                heartbeat_of(backend, request)({"page": 7})  # within the interval: held back
                await asyncio.sleep(60)
            return {"resumed_from": request.last_heartbeat}

        backend.behaviours["worker"] = heartbeats_then_hangs
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("crawl", 0, {}, "")
        started = time.monotonic()
        done = await finished(cp, record.execution_id)
        assert time.monotonic() - started < 5
        assert done.status is ExecutionStatus.SUCCEEDED
        task = done.tasks["pages"]
        assert [a.status for a in task.attempts] == [
            AttemptStatus.TIMED_OUT,
            AttemptStatus.SUCCEEDED,
        ]
        first = task.attempts[0].error
        assert first is not None and first.type == "HeartbeatTimeout"
        assert "heartbeat_timeout 1s" in first.message
        assert task.output == {"resumed_from": {"page": 7}}
        assert task.last_heartbeat == {"page": 7}
        assert [c.attempt for c in backend.cancelled] == [1]  # the silent call was stopped
        # The first details at once; the second, held back, when the attempt ended.
        recorded = heartbeat_events(cp, record.execution_id)
        assert [(e.details["attempt"], e.details["details"]) for e in recorded] == [
            (1, {"page": 3}),
            (1, {"page": 7}),
        ]
        types = [e.type for e in cp.store.read_events(record.execution_id)]
        timed_out = types.index(EventType.ATTEMPT_TIMED_OUT)
        assert types[timed_out - 1] is EventType.ATTEMPT_HEARTBEAT

    run(body, tmp_path)


def test_heartbeat_timeout_without_retries_left_times_the_task_out(tmp_path: Path) -> None:
    text = """
name: once
tasks:
  - {id: a, agent: worker, heartbeat_timeout: 1s, retry: {max_attempts: 1}}
"""

    async def silent(value: Any, request: AttemptRequest) -> Any:
        await asyncio.sleep(60)

    async def body(cp: ControlPlane, fake: FakeBackend) -> None:
        fake.behaviours["worker"] = silent
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("once", 0, {}, "")
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert done.tasks["a"].status is TaskStatus.TIMED_OUT
        assert done.error is not None and done.error.type == "HeartbeatTimeout"
        assert done.tasks["a"].last_heartbeat is None  # it never sent any

    run(body, tmp_path)


def test_get_execution_shows_the_latest_details_while_the_store_gets_few(tmp_path: Path) -> None:
    text = """
name: busy
tasks:
  - {id: a, agent: worker}
"""
    release = asyncio.Event()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        async def chatty(value: Any, request: AttemptRequest) -> Any:
            beat = heartbeat_of(backend, request)
            # The first details are recorded at once (asynchronously: wait for the commit);
            # the rest come within the interval, so the store gets none of them until the end.
            beat({"i": 0})
            await eventually(lambda: heartbeat_events(cp, request.execution_id))
            for i in range(1, 200):
                beat({"i": i})
                beat(None)
                if i == 100:
                    beat({"bad": float("nan")})  # dropped with a reason; the attempt goes on
                await asyncio.sleep(0)
            await release.wait()
            return {"n": 200}

        backend.behaviours["worker"] = chatty
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("busy", 0, {}, "")
        eid = record.execution_id

        def latest_shown() -> ExecutionRecord | None:
            shown = cp.executions.get(eid)
            return shown if shown.tasks["a"].last_heartbeat == {"i": 199} else None

        shown = await eventually(latest_shown)
        task = shown.tasks["a"]
        assert task.status is TaskStatus.RUNNING
        assert task.last_heartbeat_time is not None
        assert abs(task.last_heartbeat_time - time.time()) < 5
        # The store holds one recording so far (the rest came within the interval).
        events = heartbeat_events(cp, eid)
        assert len(events) == 1 and events[0].details["details"] == {"i": 0}
        stored = cp.store.load_execution(eid)
        assert stored is not None
        assert stored.tasks["a"].last_heartbeat == events[0].details["details"]
        release.set()
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.tasks["a"].last_heartbeat == {"i": 199}
        events = heartbeat_events(cp, eid)
        assert len(events) == 2 and events[1].details["details"] == {"i": 199}

    run(body, tmp_path)


def test_the_last_stored_details_reach_the_attempt_after_a_restart(tmp_path: Path) -> None:
    text = """
name: resumable
tasks:
  - {id: a, agent: worker}
"""
    state: dict[str, str] = {}

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        async def stops_midway(value: Any, request: AttemptRequest) -> Any:
            heartbeat_of(backend, request)({"page": 12})
            await asyncio.sleep(60)

        backend.behaviours["worker"] = stops_midway
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("resumable", 0, {}, "")
        state["id"] = record.execution_id

        def stored() -> bool:
            loaded = cp.store.load_execution(record.execution_id)
            return loaded is not None and loaded.tasks["a"].last_heartbeat == {"page": 12}

        await eventually(stored)

    run(first, tmp_path)  # the control plane stops with the attempt in flight

    async def resumes(value: Any, request: AttemptRequest) -> Any:
        return {"from": request.last_heartbeat}

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, state["id"])
        assert done.status is ExecutionStatus.SUCCEEDED
        task = done.tasks["a"]
        assert [a.status for a in task.attempts] == [AttemptStatus.LOST, AttemptStatus.SUCCEEDED]
        assert task.output == {"from": {"page": 12}}
        assert task.last_heartbeat == {"page": 12}

    run(second, tmp_path, behaviour=resumes)


def test_responses_and_the_cli_show_heartbeats_within_their_budget() -> None:
    big = {"log": "x" * 60_000}  # just within the 64 KiB a heartbeat may carry
    tasks = {
        f"t{i}": TaskRecord(f"t{i}", "worker", TaskStatus.RUNNING, last_heartbeat=big)
        for i in range(100)
    }
    tasks["t0"].last_heartbeat = {"page": 7}
    record = ExecutionRecord("e", "wf", 1, ExecutionStatus.RUNNING, {}, 0.0, tasks=tasks)
    message = fit_execution(record, View.FULL, execution_to_proto)
    assert message.ByteSize() <= RESPONSE_LIMIT_BYTES
    shown = [t for t in message.tasks if t.HasField("last_heartbeat")]
    assert 10 < len(shown) < 100  # as many as the value budget holds, the rest left out
    assert message.tasks[0].last_heartbeat["page"] == 7

    out = io.StringIO()
    render.execution_detail(Console(file=out, width=160), record)
    assert 'heartbeat: {"page":7}' in out.getvalue()
