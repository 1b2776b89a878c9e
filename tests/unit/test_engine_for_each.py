"""for_each through the engine (real SQLite, in-process backend): one item task per element,
at most max_concurrency at once, outputs in item order, failures within the allowance, an
empty list, and a restart in the middle that re-runs no succeeded item."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from controlplane.app import ControlPlane
from models.backend import AttemptRequest
from models.executions import ExecutionStatus, TaskStatus
from tests.unit.engine_runs import eventually, finished, run, start
from tests.unit.fake_backend import FakeBackend

FAN_OUT = """
name: fan
inputs: {n: {type: integer}, fail: {type: array, default: []}}
tasks:
  - {id: plan, agent: worker, input: {n: "${inputs.n}", fail: "${inputs.fail}"}}
  - id: review
    agent: worker
    for_each: "${tasks.plan.output.files}"
    max_concurrency: 3
    allow_failures: 1
    retry: {max_attempts: 1}
    input: {file: "${item}", position: "${index}"}
  - {id: report, agent: worker, input: {count: "${tasks.review.output}"}}
"""


def behaviour(in_flight: list[int], peak: list[int]) -> Any:
    async def work(value: Any, request: AttemptRequest) -> Any:
        if request.task_id == "plan":
            return {"files": [f"f{i}" for i in range(value["n"])], "fail": value["fail"]}
        if request.task_id.startswith("review["):
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            try:
                await asyncio.sleep(0.01)
                if value["position"] in FAILING:
                    raise RuntimeError(f"item {value['position']} failed")
                return {"reviewed": value["file"], "at": value["position"]}
            finally:
                in_flight[0] -= 1
        return value

    return work


FAILING: set[int] = set()


def test_items_run_bounded_and_their_outputs_come_in_order(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        in_flight, peak = [0], [0]
        backend.behaviours["worker"] = behaviour(in_flight, peak)
        FAILING.clear()
        FAILING.add(4)
        done = await finished(cp, await start(cp, FAN_OUT, {"n": 10}))
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        review = done.tasks["review"]
        assert review.status is TaskStatus.SUCCEEDED
        expected = [{"reviewed": f"f{i}", "at": i} for i in range(10)]
        expected[4] = None  # the one failure it allows
        assert review.output == expected
        assert done.tasks["report"].output == {"count": expected}
        assert done.tasks["review[4]"].status is TaskStatus.FAILED
        assert 1 < peak[0] <= 3

    run(body, tmp_path)


def test_more_failures_than_allowed_fail_the_task_and_cancel_the_rest(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = behaviour([0], [0])
        FAILING.clear()
        FAILING.update({0, 1})
        done = await finished(cp, await start(cp, FAN_OUT, {"n": 30}))
        assert done.status is ExecutionStatus.FAILED
        review = done.tasks["review"]
        assert review.status is TaskStatus.FAILED
        assert review.error is not None and review.error.type == "ItemsFailed"
        assert "2 of 30 items failed (allowed: 1)" in review.error.message
        stored = cp.store.load_execution(done.execution_id)  # every item (reads show failed)
        assert stored is not None
        items = [stored.tasks[f"review[{i}]"].status for i in range(30)]
        assert TaskStatus.CANCELLED in items or all(s.terminal for s in items)
        assert done.tasks["report"].status is TaskStatus.SKIPPED

    run(body, tmp_path)


def test_an_empty_list_succeeds_with_an_empty_output(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = behaviour([0], [0])
        FAILING.clear()
        done = await finished(cp, await start(cp, FAN_OUT, {"n": 0}))
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.tasks["review"].output == []
        assert done.tasks["report"].output == {"count": []}

    run(body, tmp_path)


def test_a_restart_in_the_middle_reruns_no_succeeded_item(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    gate_at = 12
    eid: list[str] = []

    def counting(hold: asyncio.Event | None) -> Any:
        async def work(value: Any, request: AttemptRequest) -> Any:
            if request.task_id == "plan":
                return {"files": [f"f{i}" for i in range(value["n"])]}
            calls[request.task_id] = calls.get(request.task_id, 0) + 1
            if hold is not None and value.get("position", 0) >= gate_at:
                await hold.wait()
            return {"at": value.get("position")}

        return work

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = counting(asyncio.Event())
        eid.append(await start(cp, FAN_OUT, {"n": 40}))

        def item_succeeded() -> bool:
            stored = cp.store.load_execution(eid[0])  # (reads show only failed items)
            item = None if stored is None else stored.tasks.get(f"review[{gate_at - 1}]")
            return item is not None and item.status is TaskStatus.SUCCEEDED

        await eventually(item_succeeded)

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        done = await finished(cp, eid[0])
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["review"].output == [{"at": i} for i in range(40)]
        assert all(calls[f"review[{i}]"] == 1 for i in range(gate_at))

    run(first, tmp_path)
    resumed = FakeBackend()  # its agent answers from the start: the execution resumes at once
    resumed.behaviours["worker"] = counting(None)
    run(second, tmp_path, resumed)


def test_a_retry_reruns_only_the_items_that_did_not_succeed(tmp_path: Path) -> None:
    calls: dict[int, int] = {}
    broken = {3, 7}

    async def work(value: Any, request: AttemptRequest) -> Any:
        if request.task_id == "plan":
            return {"files": [f"f{i}" for i in range(value["n"])]}
        if request.task_id.startswith("review["):
            position = value["position"]
            calls[position] = calls.get(position, 0) + 1
            if position in broken:
                raise RuntimeError(f"item {position} failed")
            return {"at": position}
        return value

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["worker"] = work
        eid = await start(cp, FAN_OUT, {"n": 12})
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.FAILED
        stored = cp.store.load_execution(eid)
        assert stored is not None
        succeeded = {
            i
            for i in range(12)
            if (item := stored.tasks.get(f"review[{i}]")) and item.status is TaskStatus.SUCCEEDED
        }
        broken.clear()
        await cp.executions.retry(eid)
        done = await finished(cp, eid)
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        assert done.tasks["review"].output == [{"at": i} for i in range(12)]
        assert succeeded and all(calls[i] == 1 for i in succeeded)  # not run again
        assert calls[3] == 2 and calls[7] == 2

    run(body, tmp_path)
