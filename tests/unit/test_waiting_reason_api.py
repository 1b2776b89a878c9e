"""Why a queued task waits, over the API: GetExecution on a real gRPC socket (the in-process
backend) carries each queued task's waiting_reason, and `orchestrator executions get` shows it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import main
from controlplane.engine.dispatch.wait_reasons import QUEUED
from models.agents import AgentSpec
from models.resources import NodeInfo, ResourceAmounts
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

WORKFLOW = """
name: picky
tasks:
  - {id: first, agent: work}
  - {id: gpu, agent: work, depends_on: [first], placement: {node_labels: {tier: gpu}}}
"""
NO_MATCH = "no alive node in the cluster matches node_labels {tier: gpu}"


def _node(node_id: str) -> NodeInfo:
    capacity = ResourceAmounts(cpu=4, memory=2**33)
    return NodeInfo(node_id, "127.0.0.1", True, {"tier": "cpu"}, capacity, capacity)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.nodes = [_node("n1"), _node("n2")]
    backend.replica_nodes["work"] = ["n1", "n2"]
    server = ServerThread(tmp_path, "unused", backend=backend, shutdown_grace_s=0.1)
    try:
        yield server
    finally:
        server.stop()


def _reasons(stub: workflow_pb2_grpc.WorkflowServiceStub, execution_id: str) -> dict[str, str]:
    response = stub.GetExecution(workflow_pb2.GetExecutionRequest(execution_id=execution_id))
    return {t.task_id: t.waiting_reason for t in response.execution.tasks}


def test_get_execution_says_why_a_queued_task_waits(
    server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    with OrchestratorClient(server.address) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:Work", replicas=2))
        server.call(server.control_plane.capacity.observe())
        client.create_workflow(WORKFLOW)
        execution_id = client.start_execution("picky", {}).execution.execution_id
    with grpc.insecure_channel(server.address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        deadline = time.monotonic() + 10
        while _reasons(stub, execution_id).get("gpu") in ("", QUEUED):
            assert time.monotonic() < deadline, _reasons(stub, execution_id)
            time.sleep(0.01)
        assert _reasons(stub, execution_id) == {"first": "", "gpu": NO_MATCH}

    address = ["--address", server.address]
    assert main(["executions", "get", execution_id, *address]) == 0
    table = " ".join(capsys.readouterr().out.split())  # cells may wrap
    assert "waiting: no alive node in the cluster matches" in table
    assert main(["executions", "get", execution_id, *address, "-o", "json"]) == 0
    tasks = {t["task_id"]: t for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert (tasks["first"]["waiting_reason"], tasks["gpu"]["waiting_reason"]) == ("", NO_MATCH)

    with OrchestratorClient(server.address) as client:
        cancelled = client.cancel_execution(execution_id, "no gpu node")
    assert cancelled.tasks["gpu"].waiting_reason == ""
