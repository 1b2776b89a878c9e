"""ModifyExecution through the engine (real SQLite, in-process backend): each operation, the
refusals (a started task, a cycle, an unknown agent), atomicity, idempotency, and a restart
that keeps the changes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from models.backend import AttemptRequest
from models.errors import FailedPrecondition, InvalidArgument
from models.executions import EventType, ExecutionStatus, TaskStatus
from models.modifications import Operation, OperationKind
from tests.unit.engine_runs import eventually, finished, run, start
from tests.unit.fake_backend import FakeBackend

PIPELINE = """
name: pipeline
inputs: {cfg: {type: object}}
tasks:
  - {id: gate, agent: worker, input: {hold: true}}
  - {id: build, agent: worker, depends_on: [gate], input: {mode: "${inputs.cfg.mode}"}}
  - {id: test, agent: worker, depends_on: [build]}
  - {id: lint, agent: worker, depends_on: [gate]}
  - {id: docs, agent: worker, depends_on: [gate], when: "inputs.cfg.docs == true"}
"""


def held(gate: asyncio.Event) -> Any:
    async def work(value: Any, request: AttemptRequest) -> Any:
        if isinstance(value, dict) and value.get("hold"):
            await gate.wait()
        return value

    return work


def op(kind: OperationKind, **fields: Any) -> Operation:
    return Operation(kind=kind, **fields)


def test_operations_change_what_has_not_started(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        gate = asyncio.Event()
        backend.behaviours["worker"] = held(gate)
        eid = await start(cp, PIPELINE, {"cfg": {"mode": "debug", "docs": False}})
        await eventually(lambda: cp.executions.get(eid).tasks["gate"].status is TaskStatus.RUNNING)
        await cp.executions.modify(
            eid,
            [
                op(OperationKind.SET_VALUE, path="inputs.cfg.mode", value="release"),
                op(OperationKind.SKIP_TASK, task_id="lint"),
                op(OperationKind.FORCE_CONDITION, task_id="docs", condition=True),
                op(
                    OperationKind.ADD_TASK,
                    task_id="package",
                    agent="worker",
                    input={"of": "${tasks.build.output}"},
                ),
                op(
                    OperationKind.UPDATE_TASK,
                    task_id="test",
                    input={"suite": "full"},
                    has_input=True,
                ),
            ],
            reason="release build",
            caller="ops@example",
            request_id="change-1",
        )
        gate.set()
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["build"].output == {"mode": "release"}
        assert done.tasks["lint"].status is TaskStatus.SKIPPED
        lint = done.tasks["lint"].error
        assert (
            lint is not None
            and lint.type == "SkippedByOperator"
            and lint.message == "release build"
        )
        assert done.tasks["docs"].status is TaskStatus.SUCCEEDED
        assert done.tasks["package"].output == {"of": {"mode": "release"}}
        assert done.tasks["test"].output == {"suite": "full"}
        events = cp.store.read_events(eid, of_type=EventType.EXECUTION_MODIFIED)
        assert len(events) == 1
        assert events[0].details["caller"] == "ops@example"
        assert events[0].details["reason"] == "release build"

    run(body, tmp_path)


def test_refusals_name_the_cause_and_change_nothing(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        gate = asyncio.Event()
        backend.behaviours["worker"] = held(gate)
        eid = await start(cp, PIPELINE, {"cfg": {"mode": "debug", "docs": False}})
        await eventually(lambda: cp.executions.get(eid).tasks["gate"].status is TaskStatus.RUNNING)
        with pytest.raises(FailedPrecondition, match="task 'gate' is RUNNING") as running:
            await cp.executions.modify(eid, [op(OperationKind.SKIP_TASK, task_id="gate")])
        assert running.value.violations[0].field == "operations[0].task_id"
        with pytest.raises(FailedPrecondition, match="test depend on it"):
            await cp.executions.modify(eid, [op(OperationKind.REMOVE_TASK, task_id="build")])
        with pytest.raises(InvalidArgument, match="cycle"):
            await cp.executions.modify(
                eid,
                [
                    op(OperationKind.ADD_TASK, task_id="x", agent="worker", depends_on=("test",)),
                    op(
                        OperationKind.UPDATE_TASK,
                        task_id="build",
                        input="${tasks.x.output}",
                        has_input=True,
                    ),
                ],
            )
        with pytest.raises(InvalidArgument, match="not deployed") as unknown:
            await cp.executions.modify(
                eid,
                [
                    op(OperationKind.SKIP_TASK, task_id="lint"),
                    op(OperationKind.ADD_TASK, task_id="y", agent="nobody"),
                ],
            )
        assert unknown.value.violations[0].field == "operations[1].agent"
        record = cp.executions.get(eid)
        assert record.tasks["lint"].status is TaskStatus.PENDING  # the batch is all or nothing
        assert "y" not in record.tasks and "x" not in record.tasks
        await cp.executions.modify(eid, [op(OperationKind.REMOVE_TASK, task_id="test")])
        gate.set()
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED and "test" not in done.tasks

    run(body, tmp_path)


def test_changes_survive_a_restart_and_a_repeated_request_is_applied_once(tmp_path: Path) -> None:
    eid: list[str] = []

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = held(asyncio.Event())
        eid.append(await start(cp, PIPELINE, {"cfg": {"mode": "debug", "docs": False}}))
        await eventually(
            lambda: cp.executions.get(eid[0]).tasks["gate"].status is TaskStatus.RUNNING
        )
        added = op(OperationKind.ADD_TASK, task_id="extra", agent="worker", depends_on=("lint",))
        for _ in range(2):
            await cp.executions.modify(eid[0], [added], request_id="once")

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, eid[0])
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["extra"].status is TaskStatus.SUCCEEDED
        modified = cp.store.read_events(eid[0], of_type=EventType.EXECUTION_MODIFIED)
        assert len(modified) == 1

    run(first, tmp_path)
    resumed = FakeBackend()  # no behaviour: every task answers its input at once
    run(second, tmp_path, resumed)
