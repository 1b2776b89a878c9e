"""loop tasks through the engine (real SQLite, in-process backend): iterations until the
condition holds with ${loop.iteration} and ${loop.previous}, the iteration limit, a failed
iteration, and a restart during the third iteration that re-runs no finished one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from controlplane.app import ControlPlane
from models.backend import AttemptRequest
from models.executions import ExecutionStatus, TaskStatus
from tests.unit.engine_runs import eventually, finished, run, start
from tests.unit.fake_backend import FakeBackend

REVISE = """
name: revise
inputs: {approve_at: {type: integer}, limit: {type: integer, default: 5}}
tasks:
  - id: draft
    agent: worker
    loop: {until: "output.approved == true", max_iterations: 4}
    retry: {max_attempts: 1}
    input:
      round: "${loop.iteration}"
      previous: "${loop.previous}"
      approve_at: "${inputs.approve_at}"
  - {id: publish, agent: worker, input: {final: "${tasks.draft.output}"}}
"""


async def reviser(value: Any, request: AttemptRequest) -> Any:
    if request.task_id.startswith("draft#"):
        if value["approve_at"] < 0:
            raise RuntimeError("the reviewer is away")
        return {
            "round": value["round"],
            "approved": value["round"] >= value["approve_at"],
            "had": value["previous"],
        }
    return value


def test_a_loop_repeats_until_its_condition_holds(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = reviser
        done = await finished(cp, await start(cp, REVISE, {"approve_at": 3}))
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        draft = done.tasks["draft"]
        assert draft.output == {
            "round": 3,
            "approved": True,
            "had": {
                "round": 2,
                "approved": False,
                "had": {"round": 1, "approved": False, "had": None},
            },
        }
        assert [done.tasks[f"draft#{n}"].status for n in (1, 2, 3)] == [TaskStatus.SUCCEEDED] * 3
        assert "draft#4" not in done.tasks
        assert done.tasks["publish"].output == {"final": draft.output}

    run(body, tmp_path)


def test_the_limit_and_a_failed_iteration_fail_the_loop(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = reviser
        done = await finished(cp, await start(cp, REVISE, {"approve_at": 99}))
        assert done.status is ExecutionStatus.FAILED
        error = done.tasks["draft"].error
        assert error is not None and error.type == "LoopLimitExceeded"
        assert "4 iterations" in error.message
        assert "draft#4" in done.tasks and "draft#5" not in done.tasks
        done = await finished(cp, await start(cp, REVISE, {"approve_at": -1}))
        error = done.tasks["draft"].error
        assert error is not None and error.type == "RuntimeError"
        assert error.message.startswith("iteration 1:")

    run(body, tmp_path)


def test_a_restart_in_the_third_iteration_reruns_no_earlier_one(tmp_path: Path) -> None:
    calls: list[str] = []
    eid: list[str] = []

    def counting(hold: asyncio.Event | None) -> Any:
        async def work(value: Any, request: AttemptRequest) -> Any:
            if request.task_id.startswith("draft#"):
                calls.append(request.task_id)
                if hold is not None and value["round"] == 3:
                    await hold.wait()
            return await reviser(value, request)

        return work

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = counting(asyncio.Event())
        eid.append(await start(cp, REVISE, {"approve_at": 4}))
        await eventually(lambda: "draft#3" in calls)

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, eid[0])
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["draft"].output["round"] == 4
        assert calls.count("draft#1") == 1 and calls.count("draft#2") == 1
        assert calls.count("draft#3") == 2  # lost in the restart, run again
        assert done.tasks["draft#3"].attempts[0].status.value == "LOST"

    run(first, tmp_path)
    resumed = FakeBackend()
    resumed.behaviours["worker"] = counting(None)
    run(second, tmp_path, resumed)


def test_a_retry_goes_on_from_the_iteration_that_failed(tmp_path: Path) -> None:
    calls: list[str] = []
    away = [True]

    async def work(value: Any, request: AttemptRequest) -> Any:
        if request.task_id.startswith("draft#"):
            calls.append(request.task_id)
            if value["round"] == 2 and away[0]:
                raise RuntimeError("the reviewer is away")
        return await reviser(value, request)

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = work
        eid = await start(cp, REVISE, {"approve_at": 3})
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.FAILED
        away[0] = False
        await cp.executions.retry(eid)
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["draft"].output["round"] == 3
        assert calls == ["draft#1", "draft#2", "draft#2", "draft#3"]

    run(body, tmp_path)
