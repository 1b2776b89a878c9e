"""A change the engine cannot record for a reason other than a store outage (a "poison" write:
a constraint, a value that cannot be encoded, a bug) fails the task whose change it was, with an
EngineError naming the cause; the execution goes on by its failure rules, a cancel still takes
effect, and nothing runs again after a restart. Faults are injected by wrapping the store's
write so that it refuses one specific record, through the real gRPC server."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.engine.executions import progress as transitions
from controlplane.store import WriteBatch
from models.agents import AgentSpec
from models.executions import (
    AttemptStatus,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskStatus,
)
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

CHAIN = """
name: chain
tasks:
  - {id: a, agent: work, input: {n: 1}}
  - {id: b, agent: work, input: "${tasks.a.output}", depends_on: [a]}
  - {id: c, agent: work, input: "${tasks.b.output}", depends_on: [b]}
"""
FAN = """
name: fan
tasks:
  - {id: quick, agent: work, input: {n: 1}}
  - {id: slow, agent: held, input: {n: 2}}
outputs: {quick: "${tasks.quick.output}", slow: "${tasks.slow.output}"}
"""
PAIR = """
name: pair
tasks:
  - {id: first, agent: held, input: {n: 1}}
  - {id: second, agent: later, input: {n: 2}}
"""


class RefusedRecord:
    """Wraps the store's write: a batch holding an event of `event_type` for `task_id` raises
    `error()` (after `before()`, the first time) instead of being written."""

    def __init__(
        self,
        server: ServerThread,
        event_type: EventType,
        task_id: str,
        error: Callable[[], Exception],
        before: Callable[[], None] = lambda: None,
    ) -> None:
        store: Any = server.control_plane.store
        self._write = store.write
        self._event_type = event_type.value
        self._task_id = task_id
        self._error = error
        self._before = before
        self.refused = 0
        store.write = self

    def __call__(self, batch: WriteBatch) -> None:
        if any(e[2] == self._event_type and e[3] == self._task_id for e in batch.events):
            if not self.refused:
                self._before()
            self.refused += 1
            raise self._error()
        self._write(batch)


def integrity_error() -> Exception:
    return sqlite3.IntegrityError("UNIQUE constraint failed: events.execution_id")


@pytest.fixture
def held() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def later() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@contextlib.contextmanager
def serving(data_dir: Path, held: Gate, later: Gate) -> Iterator[tuple[ServerThread, FakeBackend]]:
    """A server on `data_dir` with the fake backend; agents and workflows in place."""
    backend = FakeBackend()
    backend.behaviours["held"] = held
    backend.behaviours["later"] = later
    server = ServerThread(
        data_dir, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            for agent in ("work", "held", "later"):
                client.deploy_agent(AgentSpec(agent, "v1", f"m:{agent}"))
            for definition in (CHAIN, FAN, PAIR):
                client.create_workflow(definition)
        yield server, backend
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path, held: Gate, later: Gate) -> Iterator[tuple[ServerThread, FakeBackend]]:
    with serving(tmp_path, held, later) as running:
        yield running


def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def calls_for(backend: FakeBackend, execution_id: str, task_id: str) -> int:
    return sum(1 for c in backend.calls if c.execution_id == execution_id and c.task_id == task_id)


def whole_history(client: OrchestratorClient, execution_id: str) -> list[Event]:
    """The execution's events, checked to be numbered without a gap up to the terminal one."""
    events = list(client.watch_execution(execution_id, timeout_s=10))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type.terminal
    return events


def test_a_refused_outcome_fails_its_task_and_the_execution_by_the_failure_rules(
    server: tuple[ServerThread, FakeBackend], caplog: pytest.LogCaptureFixture
) -> None:
    thread, backend = server
    fault = RefusedRecord(thread, EventType.TASK_SUCCEEDED, "b", integrity_error)
    with caplog.at_level(logging.ERROR), OrchestratorClient(thread.address) as client:
        handle = client.start_execution("chain")
        done = handle.result(timeout=10)

        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.type == "EngineError"
        assert done.error.task_id == "b"
        assert "IntegrityError: UNIQUE constraint failed" in done.error.message
        tasks = done.tasks
        assert tasks["a"].status is TaskStatus.SUCCEEDED
        assert tasks["b"].status is TaskStatus.FAILED
        assert tasks["b"].error is not None and tasks["b"].error.type == "EngineError"
        assert [a.status for a in tasks["b"].attempts] == [AttemptStatus.FAILED]
        assert tasks["b"].output is None  # the refused outcome is not claimed anywhere
        assert tasks["c"].status is TaskStatus.SKIPPED
        events = whole_history(client, handle.execution_id)
        assert [e.type for e in events if e.task_id == "b"] == [
            EventType.TASK_SCHEDULED,
            EventType.ATTEMPT_STARTED,
            EventType.ATTEMPT_FAILED,
            EventType.TASK_FAILED,
        ]
        assert [e.type for e in events[-2:]] == [EventType.TASK_SKIPPED, EventType.EXECUTION_FAILED]
        assert calls_for(backend, handle.execution_id, "b") == 1  # failed for good, not retried
    assert fault.refused == 2  # in its group, then on its own
    logged = [r for r in caplog.records if r.exc_info and "could not be recorded" in r.message]
    assert len(logged) == 1 and handle.execution_id in logged[0].message


def test_a_fault_computing_the_final_state_fails_the_last_task_instead_of_hanging(
    server: tuple[ServerThread, FakeBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    thread, _ = server
    real_resolve = transitions.resolve

    def resolve_with_a_bug(template: Any, inputs: Any, outputs: Any, path: str) -> Any:
        if path == "outputs":
            raise TypeError("keys must be str, int, float, bool or None, not date")
        return real_resolve(template, inputs, outputs, path)

    monkeypatch.setattr(transitions, "resolve", resolve_with_a_bug)
    with OrchestratorClient(thread.address) as client:
        handle = client.start_execution("chain")
        done = handle.result(timeout=10)
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.type == "EngineError"
        assert "TypeError: keys must be str" in done.error.message
        assert [done.tasks[t].status for t in "abc"] == [
            TaskStatus.SUCCEEDED,
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
        ]
        assert done.outputs is None
        whole_history(client, handle.execution_id)


def test_cancel_takes_effect_after_a_refused_outcome_and_a_restart_reruns_nothing(
    tmp_path: Path, held: Gate, later: Gate
) -> None:
    with serving(tmp_path, held, later) as (thread, backend):
        RefusedRecord(thread, EventType.TASK_SUCCEEDED, "quick", integrity_error)
        with OrchestratorClient(thread.address) as client:
            execution_id = client.start_execution("fan").execution_id

            def quick_failed_slow_running() -> bool:
                tasks = client.get_execution(execution_id).tasks
                return tasks["quick"].status is TaskStatus.FAILED and bool(tasks["slow"].attempts)

            eventually(quick_failed_slow_running)
            assert client.get_execution(execution_id).status is ExecutionStatus.RUNNING

            cancelled = client.cancel_execution(execution_id, "no longer needed")
            assert cancelled.status is ExecutionStatus.CANCELLED
            assert cancelled.tasks["slow"].status is TaskStatus.CANCELLED
            eventually(lambda: backend.cancelled)  # the call on the replica was cancelled too
            before = client.get_execution(execution_id)

    with (
        serving(tmp_path, held, later) as (again, new_backend),
        OrchestratorClient(again.address) as client,
    ):
        after = client.get_execution(execution_id)
        assert after.status is ExecutionStatus.CANCELLED  # durable
        check = client.start_execution("chain").result(timeout=10)  # the engine has run
        assert check.status is ExecutionStatus.SUCCEEDED
        assert attempts(client.get_execution(execution_id)) == attempts(before)
        assert {c.execution_id for c in new_backend.calls} == {check.execution_id}


def attempts(record: ExecutionRecord) -> dict[str, list[AttemptStatus]]:
    return {t: [a.status for a in task.attempts] for t, task in record.tasks.items()}


def test_a_refused_cancel_still_ends_the_execution(
    server: tuple[ServerThread, FakeBackend],
) -> None:
    thread, backend = server
    RefusedRecord(thread, EventType.EXECUTION_CANCELLED, "", lambda: ValueError("cannot encode"))
    with OrchestratorClient(thread.address) as client:
        handle = client.start_execution("fan")
        eventually(lambda: client.get_execution(handle.execution_id).tasks["slow"].attempts)

        ended = client.cancel_execution(handle.execution_id)
        assert ended.status is ExecutionStatus.FAILED
        assert ended.error is not None and ended.error.type == "EngineError"
        assert "ValueError: cannot encode" in ended.error.message
        assert ended.tasks["slow"].status is TaskStatus.CANCELLED
        whole_history(client, handle.execution_id)
        eventually(lambda: backend.cancelled)


def test_a_change_held_back_behind_a_refused_one_runs_again(
    server: tuple[ServerThread, FakeBackend], held: Gate, later: Gate
) -> None:
    """`first`'s outcome is refused while `second`'s is queued behind it: `second` was built on
    the refused change, so it is not written either; its attempt is recorded as lost and the
    task runs again."""
    thread, backend = server
    writer: Any = thread.control_plane.writer
    queued_behind = threading.Event()

    def let_second_queue() -> None:
        later.open.set()
        deadline = time.monotonic() + 10
        while not writer._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        queued_behind.set()

    RefusedRecord(thread, EventType.TASK_SUCCEEDED, "first", integrity_error, let_second_queue)
    with OrchestratorClient(thread.address) as client:
        handle = client.start_execution("pair")
        execution_id = handle.execution_id

        def both_running() -> bool:
            tasks = client.get_execution(execution_id).tasks
            return all(t.status is TaskStatus.RUNNING for t in tasks.values())

        eventually(both_running)
        held.open.set()
        done = handle.result(timeout=10)

    assert queued_behind.is_set()
    assert done.status is ExecutionStatus.FAILED
    assert done.tasks["first"].status is TaskStatus.FAILED
    second = done.tasks["second"]
    assert second.status is TaskStatus.SUCCEEDED
    assert [a.status for a in second.attempts] == [AttemptStatus.LOST, AttemptStatus.SUCCEEDED]
    assert second.attempts[0].error is not None
    assert second.attempts[0].error.type == "ChangeNotRecorded"
    assert calls_for(backend, execution_id, "second") == 2


def test_a_cancel_that_cannot_be_recorded_at_all_says_so(
    server: tuple[ServerThread, FakeBackend],
) -> None:
    """Both the cancel and the end it falls back to hold the running task's cancellation: the
    cancel answers INTERNAL naming the cause rather than OK with nothing changed."""
    thread, _ = server
    RefusedRecord(thread, EventType.TASK_CANCELLED, "slow", lambda: ValueError("cannot encode"))
    with OrchestratorClient(thread.address, retry=None) as client:
        handle = client.start_execution("fan")
        eventually(lambda: client.get_execution(handle.execution_id).tasks["slow"].attempts)
        with pytest.raises(ClientError) as refused:
            client.cancel_execution(handle.execution_id)
        assert refused.value.code_name == "INTERNAL"
        assert "ValueError: cannot encode" in refused.value.message
        assert client.get_execution(handle.execution_id).status is ExecutionStatus.RUNNING
