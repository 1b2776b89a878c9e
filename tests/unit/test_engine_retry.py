"""RetryExecution through the engine, against a real SQLite store and the in-process backend:
a finished execution runs again from its failed, cancelled and skipped tasks, keeps every
succeeded output, numbers its new attempts after the old ones, and survives a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from models.backend import AttemptRequest
from models.errors import FailedPrecondition
from models.executions import (
    AttemptStatus,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskStatus,
)
from tests.unit.engine_runs import eventually, run
from tests.unit.fake_backend import FakeBackend

CHAIN = """
name: chain
tasks:
  - {id: first, agent: worker, input: {step: 1}}
  - id: middle
    agent: flaky
    depends_on: [first]
    input: {step: 2}
    retry: {max_attempts: 2, initial_interval: 10ms}
  - {id: last, agent: worker, depends_on: [middle], input: {after: "${tasks.middle.output}"}}
outputs: {result: "${tasks.last.output}"}
"""
HELD = """
name: held
tasks:
  - {id: first, agent: worker, input: {step: 1}}
  - {id: wait, agent: slow, depends_on: [first]}
finally:
  - {id: notify, agent: worker, input: {status: "${execution.status}"}}
"""
SAGA = """
name: saga
tasks:
  - {id: book, agent: worker, input: {n: 1}, compensate: {agent: worker, input: {undo: book}}}
  - {id: settle, agent: worker, input: {n: 2}}
  - {id: pay, agent: flaky, depends_on: [book, settle], retry: {max_attempts: 1}}
"""
SLOW_WORKFLOW = """
name: slow-workflow
timeout: 1s
tasks:
  - {id: first, agent: worker, input: {step: 1}}
  - {id: wait, agent: slow, depends_on: [first]}
"""


class Flaky:
    """Fails every attempt while `broken`."""

    def __init__(self) -> None:
        self.broken = True

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        if self.broken:
            raise RuntimeError(f"{request.task_id} attempt {request.attempt} broke")
        return {"fixed": request.attempt}


class Slow:
    """Holds every attempt until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        await self.release.wait()
        return {"done": request.attempt}


async def start(cp: ControlPlane, text: str) -> str:
    await cp.catalog.create(text)
    name = text.split("name:", 1)[1].split()[0]
    record, _ = await cp.executions.start(name, 0, {}, "")
    return record.execution_id


def numbers(record: ExecutionRecord, task_id: str) -> list[tuple[int, str]]:
    return [(a.number, a.status.value) for a in record.tasks[task_id].attempts]


def events_of(cp: ControlPlane, execution_id: str, type_: EventType) -> list[Event]:
    return [e for e in cp.store.read_events(execution_id) if e.type is type_]


def test_a_retry_runs_the_failed_task_and_those_after_it_keeping_what_succeeded(
    tmp_path: Path,
) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        flaky = Flaky()
        backend.behaviours["flaky"] = flaky
        eid = await start(cp, CHAIN)
        failed = await cp.executions.ended(eid)
        assert failed.status is ExecutionStatus.FAILED
        assert failed.tasks["last"].status is TaskStatus.SKIPPED
        first_before = failed.tasks["first"]

        flaky.broken = False
        retried = await cp.executions.retry(eid)
        assert retried.status is ExecutionStatus.RUNNING
        assert retried.end_time is None and retried.error is None
        done = await cp.executions.ended(eid)

        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.outputs == {"result": {"after": {"fixed": 3}}}
        # The first task kept its output and its one attempt; it did not run again.
        assert done.tasks["first"].output == first_before.output == {"step": 1}
        assert done.tasks["first"].attempts == first_before.attempts
        assert [c.task_id for c in backend.calls].count("first") == 1
        # The middle task's new attempt is numbered after the two of the first run.
        assert numbers(done, "middle") == [(1, "FAILED"), (2, "FAILED"), (3, "SUCCEEDED")]
        assert numbers(done, "last") == [(1, "SUCCEEDED")]

        types = [e.type for e in cp.store.read_events(eid)]
        assert types.index(EventType.EXECUTION_FAILED) < types.index(EventType.EXECUTION_RETRIED)
        assert types[-1] is EventType.EXECUTION_SUCCEEDED
        (event,) = events_of(cp, eid, EventType.EXECUTION_RETRIED)
        assert event.details["tasks"] == ["middle", "last"]
        assert event.details["previous_status"] == "FAILED"
        assert event.details["previous_error"]["task_id"] == "middle"
        assert event.details["retry"] == 1

    run(body, tmp_path)


def test_each_run_has_its_retry_budget_and_attempt_numbers_continue(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["flaky"] = Flaky()  # broken for good
        eid = await start(cp, CHAIN)
        await cp.executions.ended(eid)
        await cp.executions.retry(eid)
        again = await cp.executions.ended(eid)
        assert again.status is ExecutionStatus.FAILED
        # Two attempts again (max_attempts: 2 counts this run only), numbered 3 and 4.
        assert [n for n, _ in numbers(again, "middle")] == [1, 2, 3, 4]
        await cp.executions.retry(eid, "second")
        third = await cp.executions.ended(eid)
        assert [n for n, _ in numbers(third, "middle")] == [1, 2, 3, 4, 5, 6]
        retries = events_of(cp, eid, EventType.EXECUTION_RETRIED)
        assert [e.details["retry"] for e in retries] == [1, 2]
        assert [e.details["request_id"] for e in retries] == ["", "second"]

    run(body, tmp_path)


def test_a_cancelled_execution_retried_runs_its_finally_task_again(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        slow = Slow()
        backend.behaviours["slow"] = slow
        eid = await start(cp, HELD)
        await eventually(lambda: cp.executions.get(eid).tasks["wait"].status is TaskStatus.RUNNING)
        await cp.executions.cancel(eid, "not now")
        cancelled = await cp.executions.ended(eid)
        assert cancelled.status is ExecutionStatus.CANCELLED
        assert cancelled.tasks["notify"].output == {"status": "CANCELLED"}

        slow.release.set()
        await cp.executions.retry(eid)
        done = await cp.executions.ended(eid)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert numbers(done, "wait") == [(1, "CANCELLED"), (2, "SUCCEEDED")]
        assert done.tasks["notify"].output == {"status": "SUCCEEDED"}
        assert numbers(done, "notify") == [(1, "SUCCEEDED"), (2, "SUCCEEDED")]
        assert numbers(done, "first") == [(1, "SUCCEEDED")]
        (event,) = events_of(cp, eid, EventType.EXECUTION_RETRIED)
        assert event.details["tasks"] == ["wait", "notify"]
        assert event.details["previous_status"] == "CANCELLED"

    run(body, tmp_path)


def test_a_timed_out_execution_gets_its_whole_timeout_again(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        slow = Slow()
        backend.behaviours["slow"] = slow
        eid = await start(cp, SLOW_WORKFLOW)
        timed_out = await cp.executions.ended(eid)
        assert timed_out.status is ExecutionStatus.TIMED_OUT
        retried = await cp.executions.retry(eid)
        assert retried.start_time is not None and timed_out.start_time is not None
        assert retried.start_time > timed_out.start_time
        slow.release.set()  # well within the second counted from the retry
        done = await cp.executions.ended(eid)
        assert done.status is ExecutionStatus.SUCCEEDED

    run(body, tmp_path)


def test_a_task_whose_compensation_ran_runs_again(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        flaky = Flaky()
        backend.behaviours["flaky"] = flaky
        eid = await start(cp, SAGA)
        failed = await cp.executions.ended(eid)
        assert failed.tasks["book:compensate"].status is TaskStatus.SUCCEEDED
        flaky.broken = False
        await cp.executions.retry(eid)
        done = await cp.executions.ended(eid)
        assert done.status is ExecutionStatus.SUCCEEDED
        # book was undone, so it ran again; settle was not undone and kept its output.
        assert numbers(done, "book") == [(1, "SUCCEEDED"), (2, "SUCCEEDED")]
        assert numbers(done, "settle") == [(1, "SUCCEEDED")]
        assert done.tasks["book:compensate"].status is TaskStatus.SKIPPED

    run(body, tmp_path)


def test_only_a_failed_cancelled_or_timed_out_execution_is_retried(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        flaky, slow = Flaky(), Slow()
        backend.behaviours.update(flaky=flaky, slow=slow)
        succeeded = await start(cp, SAGA.replace("agent: flaky", "agent: worker"))
        assert (await cp.executions.ended(succeeded)).status is ExecutionStatus.SUCCEEDED
        with pytest.raises(FailedPrecondition, match="SUCCEEDED") as refused:
            await cp.executions.retry(succeeded)
        assert [v.field for v in refused.value.violations] == ["execution_id"]

        running = await start(cp, HELD)
        await eventually(lambda: cp.executions.get(running).status is ExecutionStatus.RUNNING)
        with pytest.raises(FailedPrecondition, match="RUNNING"):
            await cp.executions.retry(running)

        eid = await start(cp, CHAIN)
        await cp.executions.ended(eid)
        slow.release.clear()
        backend.behaviours["flaky"] = slow  # the retried task holds: the execution runs
        first = await cp.executions.retry(eid, "req-1")
        await eventually(
            lambda: cp.executions.get(eid).tasks["middle"].status is TaskStatus.RUNNING
        )
        # The same request again answers the execution as it is; another is refused.
        again = await cp.executions.retry(eid, "req-1")
        assert again.execution_id == first.execution_id and again.status is ExecutionStatus.RUNNING
        with pytest.raises(FailedPrecondition, match="RUNNING"):
            await cp.executions.retry(eid, "req-2")
        with pytest.raises(FailedPrecondition, match="RUNNING"):
            await cp.executions.retry(eid)
        assert len(events_of(cp, eid, EventType.EXECUTION_RETRIED)) == 1
        slow.release.set()
        assert (await cp.executions.ended(eid)).status is ExecutionStatus.SUCCEEDED
        # Once ended, the last request id still answers without retrying again.
        assert (await cp.executions.retry(eid, "req-1")).status is ExecutionStatus.SUCCEEDED

    run(body, tmp_path)


def test_concurrent_retries_of_one_execution_record_one(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        flaky = Flaky()
        backend.behaviours["flaky"] = flaky
        same, other = await start(cp, CHAIN), await start(cp, CHAIN)
        await cp.executions.ended(same)
        await cp.executions.ended(other)
        flaky.broken = False
        # One request sent twice at once: one retry, the same answer to both.
        answers = await asyncio.gather(
            cp.executions.retry(same, "one"), cp.executions.retry(same, "one")
        )
        assert {r.execution_id for r in answers} == {same}
        # Two different requests at once: one retries, the other is refused.
        outcomes = await asyncio.gather(
            cp.executions.retry(other, "x"), cp.executions.retry(other, "y"), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, FailedPrecondition)]
        assert len(refused) == 1 and "being retried" in str(refused[0])
        for eid in (same, other):
            assert (await cp.executions.ended(eid)).status is ExecutionStatus.SUCCEEDED
            assert len(events_of(cp, eid, EventType.EXECUTION_RETRIED)) == 1

    run(body, tmp_path)


def test_a_child_execution_is_retried_on_its_own(tmp_path: Path) -> None:
    child = """
name: child
tasks:
  - {id: work, agent: flaky, retry: {max_attempts: 1}}
outputs: {result: "${tasks.work.output}"}
"""
    parent = """
name: parent
tasks:
  - {id: call, workflow: child, retry: {max_attempts: 1}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        flaky = Flaky()
        backend.behaviours["flaky"] = flaky
        await cp.catalog.create(child)
        parent_id = await start(cp, parent)
        assert (await cp.executions.ended(parent_id)).status is ExecutionStatus.FAILED
        (child_record,) = cp.executions.list("child", [], 10, "")[0]
        assert child_record.parent_execution_id == parent_id
        flaky.broken = False
        await cp.executions.retry(child_record.execution_id)
        done = await cp.executions.ended(child_record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.outputs == {"result": {"fixed": 2}}
        # The parent's task took the child's first end; the parent is not affected.
        assert cp.executions.get(parent_id).status is ExecutionStatus.FAILED
        assert not events_of(cp, parent_id, EventType.EXECUTION_RETRIED)

    run(body, tmp_path)


def test_a_retried_execution_resumes_after_a_restart(tmp_path: Path) -> None:
    eid: list[str] = []

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["flaky"] = Flaky()
        eid.append(await start(cp, CHAIN))
        await cp.executions.ended(eid[0])
        backend.behaviours["flaky"] = Slow()  # never released: the control plane stops
        await cp.executions.retry(eid[0])
        await eventually(
            lambda: cp.executions.get(eid[0]).tasks["middle"].status is TaskStatus.RUNNING
        )

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await cp.executions.ended(eid[0])
        assert done.status is ExecutionStatus.SUCCEEDED
        middle = done.tasks["middle"]
        assert [(a.number, a.status) for a in middle.attempts] == [
            (1, AttemptStatus.FAILED),
            (2, AttemptStatus.FAILED),
            (3, AttemptStatus.LOST),
            (4, AttemptStatus.SUCCEEDED),
        ]
        assert middle.earlier_attempts == 2  # stored: the retry policy counts 3 and 4 only
        assert [c.task_id for c in backend.calls] == ["middle", "last"]
        types = [e.type for e in cp.store.read_events(eid[0])]
        retried = types.index(EventType.EXECUTION_RETRIED)
        assert EventType.EXECUTION_RESUMED in types[retried:]

    first_backend = FakeBackend()
    run(first, tmp_path, first_backend)
    fixed = Flaky()
    fixed.broken = False
    second_backend = FakeBackend()
    second_backend.behaviours["flaky"] = fixed
    run(second, tmp_path, second_backend)
