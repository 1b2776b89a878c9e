"""GetExecution over real gRPC (the in-process backend in place of Ray) of a 2,000-item
for_each: the for_each task with its items' counts and its first failed items, well within the
response budget, while items run and once they ended; the workflow task names its child, which
reads like any execution; `executions get` prints it all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.api.fitting import RESPONSE_LIMIT_BYTES
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import main
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import ExecutionRecord, ExecutionStatus, TaskStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

ITEMS = 2_000
HELD = 5  # the last items wait until the test lets them go
FAILING_EVERY = 50  # item i fails when i % 50 == 7: 40 of them
STAMP = """
name: stamp
inputs: {count: {type: integer}}
tasks:
  - {id: stamp, agent: worker, input: {stamped: "${inputs.count}"}}
outputs: {stamped: "${tasks.stamp.output.stamped}"}
"""
FAN = """
name: fan
tasks:
  - {id: plan, agent: worker, input: {plan: true}}
  - id: review
    agent: worker
    for_each: "${tasks.plan.output.files}"
    max_concurrency: 100
    allow_failures: "5%"
    retry: {max_attempts: 1}
    input: {index: "${index}"}
  - id: release
    workflow: stamp
    depends_on: [review]
    input: {count: 1}
"""
# Every item listed would take about a megabyte.
COLLAPSED_BYTES = 16 << 10


def worker(gate: asyncio.Event) -> Any:
    async def work(value: Any, request: AttemptRequest) -> Any:
        if value.get("plan"):
            return {"files": list(range(ITEMS))}
        index = value.get("index")
        if index is None:
            return value
        if index >= ITEMS - HELD:
            await gate.wait()
        if index % FAILING_EVERY == 7:
            raise RuntimeError(f"item {index} cannot be reviewed")
        return {"ok": index}

    return work


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerThread, asyncio.Event]]:
    backend = FakeBackend()
    gate = asyncio.Event()
    backend.behaviours["worker"] = worker(gate)
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server, gate
    finally:
        server.stop()


def until(check: Callable[[], ExecutionRecord | None], timeout: float = 120) -> ExecutionRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


FAILED_SHOWN = [f"review[{i}]" for i in range(7, ITEMS, FAILING_EVERY)][:20]


def test_a_2000_item_for_each_reads_collapsed(
    server: tuple[ServerThread, asyncio.Event], capsys: pytest.CaptureFixture[str]
) -> None:
    thread, gate = server
    with OrchestratorClient(thread.address, timeout_s=30) as client:
        client.deploy_agent(AgentSpec("worker", "v1", "m:Worker"))
        client.create_workflow(STAMP)
        client.create_workflow(FAN)
        eid = client.start_execution("fan", {}).execution.execution_id

        def held() -> ExecutionRecord | None:
            record = client.get_execution(eid)
            review = record.tasks["review"]
            done = review.items_succeeded + review.items_failed
            return record if done == ITEMS - HELD and review.items_running == HELD else None

        running = until(held).tasks
        assert list(running) == ["plan", "review", *FAILED_SHOWN, "release"]
        review = running["review"]
        assert (review.status, review.items_total, review.items_failed) == (
            TaskStatus.RUNNING,
            ITEMS,
            ITEMS // FAILING_EVERY,
        )
        item = running[FAILED_SHOWN[0]]
        assert item.error is not None and "item 7 cannot be reviewed" in item.error.message
        assert len(item.attempts) == 1  # the full view: nothing was trimmed to fit

        thread.call(_set(gate))
        ended = until(lambda: _ended(client.get_execution(eid)))
        assert ended.status is ExecutionStatus.SUCCEEDED, ended.error
        review = ended.tasks["review"]
        assert (review.items_total, review.items_succeeded, review.items_failed) == (
            ITEMS,
            ITEMS - ITEMS // FAILING_EVERY,
            ITEMS // FAILING_EVERY,
        )
        assert review.items_running == 0 and review.output_omitted is None
        child_id = ended.tasks["release"].child_execution_id
        child = client.get_execution(child_id)
        assert child.parent_execution_id == eid and child.status is ExecutionStatus.SUCCEEDED
        assert ended.tasks["release"].output == {"stamped": 1}

        with grpc.insecure_channel(thread.address) as channel:  # the bytes a client receives
            stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
            raw = stub.GetExecution(workflow_pb2.GetExecutionRequest(execution_id=eid))
        assert raw.ByteSize() < RESPONSE_LIMIT_BYTES
        assert len(raw.execution.tasks) == 2 + len(FAILED_SHOWN) + 1
        # Beside the two lists (the plan's 2,000 files, the for_each's 2,000 results), the
        # read is a few kilobytes.
        for task in raw.execution.tasks[:2]:
            task.ClearField("output")
        assert raw.ByteSize() < COLLAPSED_BYTES

    assert main(["--address", thread.address, "executions", "get", eid]) == 0
    out = capsys.readouterr().out
    assert f"{ITEMS}/{ITEMS} items ({ITEMS // FAILING_EVERY} failed)" in out
    assert f"  {FAILED_SHOWN[1]} " in out  # under its task
    assert f"child {child_id}" in out
    assert f"20 of its {ITEMS // FAILING_EVERY} failed items listed" in out
    assert main(["--address", thread.address, "executions", "get", child_id]) == 0
    assert f"parent    {eid}" in capsys.readouterr().out
    assert main(["--address", thread.address, "executions", "list"]) == 0
    listed = capsys.readouterr().out
    assert "PARENT" in listed and eid in listed.split(child_id, 1)[1]  # on the child's row


async def _set(event: asyncio.Event) -> None:
    event.set()


def _ended(record: ExecutionRecord) -> ExecutionRecord | None:
    return record if record.status.terminal else None
