"""Requests a hostile or careless client sends, through a real gRPC server (in-process backend):
each is refused with INVALID_ARGUMENT naming the path, or accepted and readable back through
every RPC; none freezes the server or leaves an execution that cannot be read."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.codec.wellknown import dict_to_struct
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import ExecutionStatus
from models.values import MAX_DEPTH
from models.workflows import View
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def billion_laughs(levels: int = 9) -> str:
    text = 'lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels + 1):
        refs = ",".join([f"*l{level - 1}"] * 9)
        text += f"lol{level}: &l{level} [{refs}]\n"
    return "name: bomb\ntasks: [{id: a, agent: work}]\n" + text


class NotFinite:
    """The agent answers a number JSON cannot carry."""

    def __init__(self, value: float) -> None:
        self.value = value

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        return {"score": self.value}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["nan"] = NotFinite(math.nan)
    backend.behaviours["inf"] = NotFinite(-math.inf)
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            for name in ("work", "nan", "inf"):
                client.deploy_agent(AgentSpec(name, "v1", "m:Agent"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20) as c:
        yield c


def refused(call: Any, *args: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(*args)
    assert caught.value.code_name == "INVALID_ARGUMENT", caught.value
    return caught.value


def test_an_alias_bomb_is_refused_at_once_while_health_keeps_answering(
    client: OrchestratorClient, server: ServerThread
) -> None:
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with OrchestratorClient(server.address, timeout_s=5) as prober:
            while not stop.is_set():
                started = time.monotonic()
                prober.wait_ready(deadline_s=5)
                latencies.append(time.monotonic() - started)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        for _ in range(3):
            result = client.validate_workflow(billion_laughs())
            assert not result.valid
            assert "expands to more than" in result.problems[0].message
            refused(client.create_workflow, billion_laughs())
    finally:
        stop.set()
        thread.join()
    assert latencies  # every probe was answered SERVING within its deadline


def test_yaml_1_1_keys_and_dates_are_strings_and_read_back(client: OrchestratorClient) -> None:
    client.create_workflow(
        """
name: dates
inputs: {day: {type: string, default: 2024-01-01}}
tasks:
  - {id: a, agent: work, input: {on: yes, when: 2024-01-01}}
outputs:
  on: "${tasks.a.output.on}"
  2024-01-01: "${inputs.day}"
  when: 2024-01-01
"""
    )
    done = client.start_execution("dates").result(timeout=10)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.outputs == {"on": "yes", "2024-01-01": "2024-01-01", "when": "2024-01-01"}
    listed = client.list_executions("dates", view=View.FULL)
    assert listed[0].outputs == done.outputs


def test_values_nested_past_the_limit_are_refused_with_their_path(
    client: OrchestratorClient,
) -> None:
    deep_input = nested(MAX_DEPTH + 1)
    definition = f"name: deep\ntasks:\n  - id: a\n    agent: work\n    input: {deep_input}\n"
    error = refused(client.create_workflow, definition.replace("'", '"'))
    assert any(field.startswith("tasks[0].input") for field, _ in error.violations), error
    error = refused(client.create_workflow, "[" * 10_000 + "]" * 10_000)
    assert any("nest" in description for _, description in error.violations)
    assert all(len(description) < 400 for _, description in error.violations)


def test_start_inputs_outside_the_value_domain_are_refused(
    client: OrchestratorClient, server: ServerThread
) -> None:
    channel = grpc.insecure_channel(server.address)
    client.create_workflow(
        "name: takes-any\ninputs: {x: {type: any}}\ntasks: [{id: a, agent: work, input: "
        '"${inputs.x}"}]\n'
    )
    # Past the limit but still decodable: the server refuses it.
    stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
    request = workflow_pb2.StartExecutionRequest(
        workflow="takes-any", inputs=dict_to_struct({"x": nested(MAX_DEPTH + 5)})
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.StartExecution(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs.x" in str(caught.value.details()) or caught.value.trailing_metadata()
    # Too deep for protobuf itself: the client refuses it before sending, naming the path.
    error = refused(client.start_execution, "takes-any", {"x": nested(MAX_DEPTH + 30)})
    assert error.violations and error.violations[0][0].startswith("inputs.x")
    assert client.list_executions("takes-any") == []
    at_limit = nested(MAX_DEPTH - 1)
    done = client.start_execution("takes-any", {"x": at_limit}).result(timeout=10)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert client.get_execution(done.execution_id).tasks["a"].output == at_limit


@pytest.mark.parametrize("agent", ["nan", "inf"])
def test_an_output_json_cannot_carry_fails_the_task_and_stays_readable(
    client: OrchestratorClient, agent: str
) -> None:
    client.create_workflow(f"name: {agent}-out\ntasks: [{{id: a, agent: {agent}}}]\n")
    done = client.start_execution(f"{agent}-out").result(timeout=10)
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None and done.error.type == "OutputNotSerializable"
    assert "output.score" in done.error.message
    assert client.get_execution(done.execution_id).status is ExecutionStatus.FAILED
    assert list(client.watch_execution(done.execution_id))


def test_outputs_that_references_nest_too_deep_fail_the_execution_readably(
    client: OrchestratorClient,
) -> None:
    client.create_workflow(
        "name: wrap\ninputs: {x: {type: any}}\ntasks: [{id: a, agent: work, input: "
        '"${inputs.x}"}]\noutputs: {b: {c: {d: "${tasks.a.output}"}}}\n'
    )
    done = client.start_execution("wrap", {"x": nested(MAX_DEPTH - 1)}).result(timeout=10)
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None and done.error.type == "InvalidOutputs"
    assert not client.get_execution(done.execution_id).outputs
    assert client.list_executions("wrap")[0].status is ExecutionStatus.FAILED


def test_errors_that_echo_huge_inputs_still_arrive_as_invalid_argument(
    client: OrchestratorClient,
) -> None:
    error = refused(client.create_workflow, f"name: {'n' * 100_000}\ntasks: [{{id: a}}]\n")
    assert len(error.message) < 2000
    unknown = "".join(f"f{i}: 1\n" for i in range(20_000))
    text = f"name: many\ntasks: [{{id: a, agent: work}}]\n{unknown}"
    error = refused(client.create_workflow, text)
    assert len(error.violations) <= 21
