"""The disk under the store fills while executions are in flight, then space comes back.

`orchestrator serve` (local Ray) keeps its data dir on a small tmpfs. Executions are started and
held mid-run by a gate file; the tmpfs is filled to ENOSPC and the gate opened, so the agents'
outcomes meet a full disk. Health must turn NOT_SERVING, StartExecution answer UNAVAILABLE with
a RetryInfo delay, and the executions wait. Once the filler is deleted, they must finish by
themselves (no restart), with every acknowledged task kept as it was and nothing run twice, and
health must return to SERVING. Needs root to mount the tmpfs; skipped with a message otherwise.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import code_pb2, error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc
from tests.support.serve_process import Serve, free_port

T = TypeVar("T")
TMPFS_SIZE = "4m"
WORKFLOW = """
name: diskfull
inputs: {run: {type: string}, gate: {type: string}}
tasks:
  - {id: plan, agent: sleeper, input: {seconds: 0.05, run: "${inputs.run}"}}
  - id: build
    agent: sleeper
    depends_on: [plan]
    input: {until_file: "${inputs.gate}", seconds: 300, run: "${inputs.run}"}
  - {id: ship, agent: sleeper, depends_on: [build], input: {seconds: 0.05}}
outputs: {plan: "${tasks.plan.output}", build: "${tasks.build.output}"}
"""
RUNS = ["r1", "r2", "r3"]
SUCCEEDED = workflow_pb2.EXECUTION_STATUS_SUCCEEDED
RUNNING = workflow_pb2.EXECUTION_STATUS_RUNNING


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs, unmounted at the end (whatever was left running on it is stopped first
    by the test's own finally)."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the disk-full test needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(directory: Path) -> Path:
    """Writes a file until the file system is full; returns it."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:  # whatever is left is smaller than a block of 64 KiB
            while True:
                out.write(b"\0" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def eventually(check: Callable[[], T | None], what: str, timeout: float = 90) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.05)


def struct(**values: object) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


class Api:
    def __init__(self, channel: grpc.Channel) -> None:
        self.agents = agent_pb2_grpc.AgentServiceStub(channel)
        self.workflows = wf_grpc.WorkflowServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    def serving(self) -> int:
        reply = self.health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        return int(reply.status)

    def start(self, run: str, gate: Path) -> workflow_pb2.Execution:
        request = workflow_pb2.StartExecutionRequest(
            workflow="diskfull", inputs=struct(run=run, gate=str(gate)), request_id=run
        )
        return self.workflows.StartExecution(request, timeout=30).execution

    def get(self, execution_id: str) -> workflow_pb2.Execution:
        request = workflow_pb2.GetExecutionRequest(execution_id=execution_id)
        return self.workflows.GetExecution(request, timeout=30).execution

    def events(self, execution_id: str) -> list[workflow_pb2.Event]:
        request = workflow_pb2.WatchExecutionRequest(execution_id=execution_id)
        return [item.event for item in self.workflows.WatchExecution(request, timeout=60)]


def tasks(execution: workflow_pb2.Execution) -> dict[str, Any]:
    return {t.task_id: t for t in execution.tasks}


def mid_run(api: Api, ids: list[str]) -> dict[str, workflow_pb2.Execution] | None:
    """A snapshot once every execution has `plan` done and `build` on a replica."""
    snapshot = {i: api.get(i) for i in ids}
    for execution in snapshot.values():
        by_id = tasks(execution)
        if by_id["plan"].status != workflow_pb2.TASK_STATUS_SUCCEEDED:
            return None
        if by_id["build"].status != workflow_pb2.TASK_STATUS_RUNNING:
            return None
    return snapshot


def refused_with_retry_delay(api: Api, gate: Path) -> float:
    """StartExecution's UNAVAILABLE answer: its RetryInfo delay in seconds."""
    with pytest.raises(grpc.RpcError) as refused:
        api.start("refused", gate)
    status = rpc_status.from_call(refused.value)
    assert status is not None and status.code == code_pb2.UNAVAILABLE, refused.value
    assert "store refuses writes" in status.message
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToTimedelta().total_seconds()
    raise AssertionError(f"no RetryInfo in {status}")


def test_a_full_disk_pauses_executions_and_they_finish_once_space_is_back(
    tmp_path: Path, tmpfs: Path
) -> None:
    gate = tmp_path / "gate"  # outside the tmpfs: opening it must not need the full disk
    server = Serve(tmpfs, free_port(), None, {}, log_dir=tmp_path)
    try:
        with grpc.insecure_channel(server.address) as channel:
            api = Api(channel)
            api.agents.DeployAgent(
                agent_pb2.DeployAgentRequest(
                    agent=agent_pb2.AgentSpec(
                        name="sleeper",
                        version="v1",
                        import_path="samples.agents:SleeperAgent",
                        replicas=1,
                        max_concurrency=len(RUNS) + 1,
                    )
                ),
                timeout=120,
            )
            api.workflows.CreateWorkflow(
                workflow_pb2.CreateWorkflowRequest(definition=WORKFLOW), timeout=30
            )
            ids = [api.start(run, gate).execution_id for run in RUNS]
            before = eventually(lambda: mid_run(api, ids), "every execution mid-run")

            filler = fill(tmpfs)
            gate.touch()  # the builds finish now; their outcomes meet the full disk
            eventually(
                lambda: api.serving() == health_pb2.HealthCheckResponse.NOT_SERVING,
                "health NOT_SERVING",
            )
            assert refused_with_retry_delay(api, gate) > 0
            waiting = {i: api.get(i) for i in ids}  # reads still answer
            for execution in waiting.values():  # nothing recorded, nothing failed: waiting
                assert execution.status == RUNNING
                assert tasks(execution)["build"].status == workflow_pb2.TASK_STATUS_RUNNING

            filler.unlink()
            done = eventually(
                lambda: (
                    all(api.get(i).status == SUCCEEDED for i in ids)
                    and {i: api.get(i) for i in ids}
                ),
                "every execution SUCCEEDED",
            )
            eventually(
                lambda: api.serving() == health_pb2.HealthCheckResponse.SERVING,
                "health SERVING again",
            )
            assert server.proc.poll() is None  # no restart: the same process finished them

            for execution_id, old in before.items():
                new = tasks(done[execution_id])
                assert new["plan"] == tasks(old)["plan"]  # acknowledged work kept as it was
                assert [a.status for a in new["build"].attempts] == [
                    workflow_pb2.ATTEMPT_STATUS_SUCCEEDED
                ]  # waited, never lost nor run twice
                assert new["build"].output.struct_value["opened"] is True
                events = api.events(execution_id)
                assert [e.sequence for e in events] == list(range(1, len(events) + 1))
            after = api.start("after", gate)
            eventually(lambda: api.get(after.execution_id).status == SUCCEEDED, "a new run")
    finally:
        try:
            code = server.terminate()
        except subprocess.TimeoutExpired:
            server.kill()  # the tmpfs cannot be unmounted while it holds files open there
            raise
        log = server.log.read_text()
    assert code == 0, log[-3000:]
    assert "the store refuses writes" in log and "takes writes again" in log
    assert "could not be recorded" not in log, log[-3000:]  # an outage is never a task failure
