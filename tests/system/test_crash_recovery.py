"""SIGKILL the control plane in the middle of executions, start it again on the same data dir,
and check the recovery guarantees: every unfinished execution completes, no task that had
succeeded runs again, and the outputs equal an uninterrupted run's. Both with the local Ray
dying together with the control plane, and with an external Ray that keeps running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc
from tests.support.serve_process import BIN, Serve, free_port

WORKFLOW = """
name: recovery
inputs: {project: {type: string}}
tasks:
  - {id: plan, agent: slowgen, input: {spec: "${inputs.project}", kind: plan}}
  - {id: ui, agent: slowgen, input: {spec: "${tasks.plan.output.artifact}", kind: ui}}
  - {id: api, agent: slowgen, input: {spec: "${tasks.plan.output.artifact}", kind: api}}
  - {id: db, agent: slowgen, input: {spec: "${tasks.plan.output.artifact}", kind: db}}
  - id: test
    agent: tester
    input:
      ui: "${tasks.ui.output}"
      api: "${tasks.api.output.artifact}"
      db: "${tasks.db.output.files}"
  - {id: ship, agent: slowgen, input: {spec: "${tasks.test.output.checked}", kind: release}}
outputs: {release: "${tasks.ship.output}", report: "${tasks.test.output}"}
"""
PROJECTS = [f"shop-{i}" for i in range(4)]
SUCCEEDED = workflow_pb2.EXECUTION_STATUS_SUCCEEDED


@pytest.fixture
def external_ray(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on loopback that outlives the control plane (its own process group, killed at
    the end), with its own authentication token for the control plane to present."""
    port = free_port()
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}
    head = subprocess.Popen(
        [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        stdout=(tmp_path / "ray.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **env},
    )
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(30)


def struct(**values: object) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def setup_and_start(address: str) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        agents = agent_pb2_grpc.AgentServiceStub(channel)
        for name, cls, config in [
            ("slowgen", "CodeGenAgent", {"delay_s": 0.4}),
            ("tester", "TesterAgent", {}),
        ]:
            agents.DeployAgent(
                agent_pb2.DeployAgentRequest(
                    agent=agent_pb2.AgentSpec(
                        name=name,
                        version="v1",
                        import_path=f"samples.agents:{cls}",
                        replicas=2,
                        max_concurrency=2,
                        config=struct(**config),
                    )
                ),
                timeout=120,
            )
        workflows = wf_grpc.WorkflowServiceStub(channel)
        workflows.CreateWorkflow(
            workflow_pb2.CreateWorkflowRequest(definition=WORKFLOW), timeout=10
        )
        return [
            workflows.StartExecution(
                workflow_pb2.StartExecutionRequest(
                    workflow="recovery", inputs=struct(project=p), request_id=f"run-{p}"
                ),
                timeout=10,
            ).execution.execution_id
            for p in PROJECTS
        ]


def get(address: str, execution_id: str) -> workflow_pb2.Execution:
    with grpc.insecure_channel(address) as channel:
        return (
            wf_grpc.WorkflowServiceStub(channel)
            .GetExecution(workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=10)
            .execution
        )


def wait_mid_run(address: str, ids: list[str]) -> dict[str, workflow_pb2.Execution]:
    """Returns a snapshot once some tasks have succeeded and some executions are unfinished."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        snapshot = {i: get(address, i) for i in ids}
        succeeded = sum(
            t.status == workflow_pb2.TASK_STATUS_SUCCEEDED
            for e in snapshot.values()
            for t in e.tasks
        )
        running = sum(
            t.status == workflow_pb2.TASK_STATUS_RUNNING for e in snapshot.values() for t in e.tasks
        )
        if succeeded >= 3 and running >= 1:
            return snapshot
        time.sleep(0.05)
    raise AssertionError("never caught the executions mid-run")


def watch_to_end(address: str, execution_id: str) -> list[workflow_pb2.Event]:
    with grpc.insecure_channel(address) as channel:
        stream = wf_grpc.WorkflowServiceStub(channel).WatchExecution(
            workflow_pb2.WatchExecutionRequest(execution_id=execution_id), timeout=180
        )
        return [item.event for item in stream]


@pytest.mark.parametrize("ray_mode", ["local-ray-dies-too", "external-ray-survives"])
def test_sigkill_mid_run_then_restart_recovers(
    ray_mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ray_address, env = None, {}
    if ray_mode == "external-ray-survives":
        ray_address, env = request.getfixturevalue("external_ray")
    data_dir = tmp_path / "data"
    port = free_port()
    first = Serve(data_dir, port, ray_address, env)
    try:
        ids = setup_and_start(first.address)
        before = wait_mid_run(first.address, ids)
    finally:
        first.kill()

    second = Serve(data_dir, port, ray_address, env)
    try:
        for execution_id in ids:
            events = watch_to_end(second.address, execution_id)
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        after = {i: get(second.address, i) for i in ids}
        assert all(e.status == SUCCEEDED for e in after.values()), [e.error for e in after.values()]

        # No task that had succeeded ran again: same attempts, same output.
        for execution_id, old in before.items():
            new_tasks = {t.task_id: t for t in after[execution_id].tasks}
            for task in old.tasks:
                if task.status == workflow_pb2.TASK_STATUS_SUCCEEDED:
                    assert len(new_tasks[task.task_id].attempts) == len(task.attempts)
                    assert new_tasks[task.task_id].output == task.output
        # In-flight attempts were lost and retried, and the run said so.
        lost = [
            a
            for e in after.values()
            for t in e.tasks
            for a in t.attempts
            if a.status == workflow_pb2.ATTEMPT_STATUS_LOST
        ]
        assert lost, "the kill did not interrupt any attempt"

        # Outputs equal those of an uninterrupted run with the same inputs (all started at
        # once, as the interrupted ones were).
        with grpc.insecure_channel(second.address) as channel:
            workflows = wf_grpc.WorkflowServiceStub(channel)
            fresh = {
                execution_id: workflows.StartExecution(
                    workflow_pb2.StartExecutionRequest(
                        workflow="recovery", inputs=struct(project=project)
                    ),
                    timeout=10,
                ).execution.execution_id
                for execution_id, project in zip(ids, PROJECTS, strict=True)
            }
        for execution_id, fresh_id in fresh.items():
            watch_to_end(second.address, fresh_id)
            assert get(second.address, fresh_id).outputs == after[execution_id].outputs
    finally:
        assert second.terminate() == 0  # SIGTERM drains and exits cleanly
