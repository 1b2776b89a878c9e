"""Workflows that decide, through the engine against a real SQLite store and the in-process
backend: trigger rules and conditions (SKIPPED with the reason), fail_fast, compensations and
finally tasks, durable timers, signals, pauses and child executions, across a restart where it
matters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from controlplane.app import ControlPlane
from models.backend import AttemptRequest
from models.errors import FailedPrecondition, InvalidArgument
from models.executions import EventType, ExecutionRecord, ExecutionStatus, TaskStatus
from tests.unit.engine_runs import eventually, finished, run, start
from tests.unit.fake_backend import FakeBackend


def statuses(record: ExecutionRecord) -> dict[str, str]:
    return {tid: t.status.value for tid, t in record.tasks.items()}


async def fail_on(value: Any, request: AttemptRequest) -> Any:
    if isinstance(value, dict) and value.get("fail"):
        raise RuntimeError(f"{request.task_id} failed as asked")
    return value


def test_trigger_rules_decide_who_runs_after_a_failure(tmp_path: Path) -> None:
    text = """
name: triggers
tasks:
  - {id: a, agent: worker, input: {fail: true}, retry: {max_attempts: 1}}
  - {id: after, agent: worker, depends_on: [a]}
  - {id: on-failure, agent: worker, depends_on: [a], trigger: any_failed}
  - {id: cleanup, agent: worker, depends_on: [a], trigger: all_done}
  - {id: tolerant, agent: worker, depends_on: [after], trigger: none_failed}
  - {id: strict, agent: worker, depends_on: [after]}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = fail_on
        done = await finished(cp, await start(cp, text))
        assert done.status is ExecutionStatus.FAILED
        assert statuses(done) == {
            "a": "FAILED",
            "after": "SKIPPED",
            "on-failure": "SUCCEEDED",
            "cleanup": "SUCCEEDED",
            "tolerant": "SUCCEEDED",
            "strict": "SKIPPED",
        }
        after, strict = done.tasks["after"].error, done.tasks["strict"].error
        assert after is not None and after.type == "UpstreamFailed"
        assert strict is not None and strict.type == "UpstreamSkipped"

    run(body, tmp_path)


def test_a_condition_skips_runs_or_fails_its_task(tmp_path: Path) -> None:
    text = """
name: conditions
inputs: {level: {type: integer}}
tasks:
  - {id: plan, agent: worker, input: {score: 0.5}}
  - {id: fix, agent: worker, depends_on: [plan], when: "tasks.plan.output.score < 0.8"}
  - {id: celebrate, agent: worker, depends_on: [plan], when: "tasks.plan.output.score >= 0.8"}
  - {id: loud, agent: worker, when: "inputs.level > 3"}
  - {id: broken, agent: worker, when: "inputs.level"}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, await start(cp, text, {"level": 5}))
        assert statuses(done) == {
            "plan": "SUCCEEDED",
            "fix": "SUCCEEDED",
            "celebrate": "SKIPPED",
            "loud": "SUCCEEDED",
            "broken": "FAILED",
        }
        skipped = done.tasks["celebrate"].error
        assert skipped is not None and skipped.type == "ConditionFalse"
        assert "score >= 0.8" in skipped.message
        broken = done.tasks["broken"].error
        assert broken is not None and broken.type == "ConditionError"
        assert "bool" in broken.message.lower()
        assert done.status is ExecutionStatus.FAILED  # the condition error failed its task

    run(body, tmp_path)


def test_fail_fast_cancels_the_rest(tmp_path: Path) -> None:
    text = """
name: fast
failure_mode: fail_fast
tasks:
  - {id: slow, agent: worker, input: {hang: true}}
  - {id: bad, agent: worker, input: {fail: true}, retry: {max_attempts: 1}}
  - {id: later, agent: worker, depends_on: [slow]}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        async def behaviour(value: Any, request: AttemptRequest) -> Any:
            if isinstance(value, dict) and value.get("hang"):
                await asyncio.sleep(3600)
            return await fail_on(value, request)

        backend.behaviours["worker"] = behaviour
        done = await finished(cp, await start(cp, text))
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.task_id == "bad"
        assert statuses(done) == {"slow": "CANCELLED", "bad": "FAILED", "later": "CANCELLED"}
        slow = done.tasks["slow"].error
        assert slow is not None and "fail_fast" in slow.message
        await eventually(lambda: any(r.task_id == "slow" for r in backend.cancelled))

    run(body, tmp_path)


def test_compensations_run_in_reverse_and_finally_always(tmp_path: Path) -> None:
    text = """
name: saga
tasks:
  - {id: book, agent: worker, input: {n: 1}, compensate: {agent: undo, input: {of: book}}}
  - id: pay
    agent: worker
    depends_on: [book]
    input: {n: 2}
    compensate: {agent: undo, input: {of: pay, paid: "${tasks.pay.output}"}}
  - {id: ship, agent: worker, depends_on: [pay], input: {fail: true}, retry: {max_attempts: 1}}
finally:
  - {id: notify, agent: notifier, input: {status: "${execution.status}"}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = fail_on
        order: list[Any] = []

        async def undo(value: Any, request: AttemptRequest) -> Any:
            order.append(value)
            return {"undone": value["of"]}

        backend.behaviours["undo"] = undo
        done = await finished(cp, await start(cp, text))
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.task_id == "ship"
        assert order == [{"of": "pay", "paid": {"n": 2}}, {"of": "book"}]
        assert done.tasks["notify"].output == {"status": "FAILED"}
        assert done.tasks["book:compensate"].status is TaskStatus.SUCCEEDED

    run(body, tmp_path)


def test_finally_runs_after_success_and_after_a_cancel(tmp_path: Path) -> None:
    text = """
name: tidy
tasks:
  - {id: work, agent: worker, input: {hang: "${inputs.hang}"}}
inputs: {hang: {type: boolean}}
finally:
  - {id: notify, agent: notifier, input: {status: "${execution.status}"}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        async def behaviour(value: Any, request: AttemptRequest) -> Any:
            if isinstance(value, dict) and value.get("hang"):
                await asyncio.sleep(3600)
            return value

        backend.behaviours["worker"] = behaviour
        done = await finished(cp, await start(cp, text, {"hang": False}))
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.tasks["notify"].output == {"status": "SUCCEEDED"}
        eid = await start(cp, text, {"hang": True})
        await eventually(lambda: cp.executions.get(eid).tasks["work"].status is TaskStatus.RUNNING)
        await cp.executions.cancel(eid, "enough")
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.CANCELLED
        assert done.tasks["work"].status is TaskStatus.CANCELLED
        assert done.tasks["notify"].output == {"status": "CANCELLED"}

    run(body, tmp_path)


def test_a_timer_survives_a_restart_and_waits_only_what_is_left(tmp_path: Path) -> None:
    text = """
name: nap
tasks:
  - {id: rest, sleep: 1500ms}
  - {id: after, agent: worker, depends_on: [rest]}
"""
    started: list[float] = []
    eid: list[str] = []

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        eid.append(await start(cp, text))
        record = await eventually(
            lambda: (
                (r := cp.executions.get(eid[0])).tasks["rest"].status is TaskStatus.RUNNING and r
            )
        )
        started.append(record.tasks["rest"].attempts[0].start_time)

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, eid[0])
        assert done.status is ExecutionStatus.SUCCEEDED
        rest = done.tasks["rest"]
        assert len(rest.attempts) == 1 and rest.attempts[0].start_time == started[0]
        end = rest.attempts[0].end_time
        assert end is not None and end - started[0] >= 1.5

    run(first, tmp_path)
    run(second, tmp_path)


def test_a_signal_is_kept_until_a_task_waits_and_delivered_once(tmp_path: Path) -> None:
    text = """
name: approval
tasks:
  - {id: build, agent: worker, input: {hang: true}}
  - {id: approve, wait_for_signal: approve, depends_on: [build]}
  - {id: release, agent: worker, input: {by: "${tasks.approve.output.user}"}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        gate = asyncio.Event()

        async def behaviour(value: Any, request: AttemptRequest) -> Any:
            if isinstance(value, dict) and value.get("hang"):
                await gate.wait()
            return value

        backend.behaviours["worker"] = behaviour
        eid = await start(cp, text)
        await eventually(lambda: cp.executions.get(eid).tasks["build"].status is TaskStatus.RUNNING)
        # Before the task waits: kept; twice with one request id: stored once.
        await cp.executions.signal(eid, "approve", {"user": "ada"}, "req-1")
        await cp.executions.signal(eid, "approve", {"user": "ada"}, "req-1")
        gate.set()
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.tasks["approve"].output == {"user": "ada"}
        assert done.tasks["release"].output == {"by": "ada"}
        events = cp.store.read_events(eid)
        assert [e.type for e in events].count(EventType.SIGNAL_RECEIVED) == 1
        waiting = [e for e in events if e.type is EventType.TASK_WAITING]
        assert [(e.task_id, e.details["signal"]) for e in waiting] == [("approve", "approve")]
        try:
            await cp.executions.signal(eid, "approve", {}, "")
        except FailedPrecondition:
            pass
        else:
            raise AssertionError("a finished execution took a signal")

    run(body, tmp_path)


def test_a_signal_wait_times_out(tmp_path: Path) -> None:
    text = """
name: impatient
tasks:
  - {id: approve, wait_for_signal: approve, timeout: 200ms}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, await start(cp, text))
        assert done.status is ExecutionStatus.FAILED
        assert done.tasks["approve"].status is TaskStatus.TIMED_OUT
        error = done.tasks["approve"].error
        assert error is not None and error.type == "SignalTimeout"

    run(body, tmp_path)


def test_a_paused_execution_starts_no_attempt_until_resumed(tmp_path: Path) -> None:
    text = """
name: pausable
tasks:
  - {id: first, agent: worker, input: {hang: true}}
  - {id: second, agent: worker, depends_on: [first]}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        gate = asyncio.Event()

        async def behaviour(value: Any, request: AttemptRequest) -> Any:
            if isinstance(value, dict) and value.get("hang"):
                await gate.wait()
            return value

        backend.behaviours["worker"] = behaviour
        eid = await start(cp, text)
        await eventually(lambda: cp.executions.get(eid).tasks["first"].status is TaskStatus.RUNNING)
        paused = await cp.executions.pause(eid, "investigating")
        assert paused.paused
        gate.set()  # the running attempt finishes
        await eventually(
            lambda: cp.executions.get(eid).tasks["first"].status is TaskStatus.SUCCEEDED
        )
        await asyncio.sleep(0.3)
        assert not cp.executions.get(eid).tasks["second"].attempts
        await cp.executions.resume(eid, "fine")
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED and not done.paused, (
            done.error,
            statuses(done),
        )
        types = [e.type for e in cp.store.read_events(eid)]
        assert EventType.EXECUTION_PAUSED in types and EventType.EXECUTION_UNPAUSED in types

    run(body, tmp_path)


def test_a_child_execution_is_the_tasks_attempt(tmp_path: Path) -> None:
    child = """
name: child
inputs: {x: {type: integer}}
tasks:
  - {id: double, agent: worker, input: {x: "${inputs.x}"}}
outputs: {result: "${tasks.double.output}"}
"""
    parent = """
name: parent
tasks:
  - {id: call, workflow: child, input: {x: 21}}
outputs: {got: "${tasks.call.output}"}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        async def double(value: Any, request: AttemptRequest) -> Any:
            return {"x": value["x"] * 2}

        backend.behaviours["worker"] = double
        await cp.catalog.create(child)
        done = await finished(cp, await start(cp, parent))
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.outputs == {"got": {"result": {"x": 42}}}
        children = [
            r
            for r in cp.executions.list("child", [], 10, "")[0]
            if r.parent_execution_id == done.execution_id
        ]
        assert len(children) == 1

    run(body, tmp_path)


def test_a_child_workflow_the_catalog_does_not_know_is_refused(tmp_path: Path) -> None:
    text = """
name: orphan
tasks:
  - {id: call, workflow: nowhere}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        try:
            await cp.catalog.create(text)
        except InvalidArgument as exc:
            assert any(v.field == "tasks[0].workflow" for v in exc.violations), exc.violations
        else:
            raise AssertionError("a workflow naming an unknown child was stored")

    run(body, tmp_path)
