"""Property: a value accepted at any door (StartExecution inputs, a definition's defaults and
task inputs, an agent's output) comes back equal through GetExecution, WatchExecution,
ListExecutions and the CLI's JSON output; a value refused is refused with INVALID_ARGUMENT (or,
from an agent, fails the task with a typed error) and stores nothing. Through a real gRPC server
(in-process backend)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import main
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import EventType, ExecutionRecord, ExecutionStatus
from models.values import MAX_DEPTH, MAX_EXACT_INTEGER
from models.workflows import View
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings that a definition would read as an expression are a definition's syntax, not a value.
texts = st.text(max_size=30).filter(lambda s: "$" not in s)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_EXACT_INTEGER, MAX_EXACT_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
not_json = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        {"deep": json.loads("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2))},
        [MAX_EXACT_INTEGER + 1],
        {"k": -(2**70)},
    ]
)
# What the agent answers, per execution: the value under test travels by reference.
ANSWERS: dict[str, Any] = {}
_keys = itertools.count()


async def answer(value: Any, request: AttemptRequest) -> Any:
    return ANSWERS.pop(value["key"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["answer"] = answer
    data_dir: Path = tmp_path_factory.mktemp("round-trip")
    server = ServerThread(
        data_dir, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("echo", "v1", "m:Agent"))
            client.deploy_agent(AgentSpec("answer", "v1", "m:Agent"))
            client.create_workflow(
                "name: takes-any\ninputs: {x: {type: any}}\n"
                'tasks: [{id: a, agent: echo, input: "${inputs.x}"}]\n'
                'outputs: {y: "${tasks.a.output}"}\n'
            )
            client.create_workflow(
                "name: answers\ninputs: {key: {type: string}}\ntasks: [{id: a, agent: answer, "
                'input: {key: "${inputs.key}"}}]\noutputs: {y: "${tasks.a.output}"}\n'
            )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=30) as c:
        yield c


@pytest.fixture(scope="module")
def stub(server: ServerThread) -> Iterator[workflow_pb2_grpc.WorkflowServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield workflow_pb2_grpc.WorkflowServiceStub(channel)


def cli_json(server: ServerThread, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(["--address", server.address, "--output", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def every_reading(
    client: OrchestratorClient,
    server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    done: ExecutionRecord,
) -> list[ExecutionRecord | dict[str, Any]]:
    """The execution as GetExecution, ListExecutions (full view) and the CLI give it."""
    listed = [
        r
        for r in client.list_executions(done.workflow, view=View.FULL)
        if r.execution_id == done.execution_id
    ]
    shown = cli_json(server, capsys, "executions", "get", done.execution_id)
    return [client.get_execution(done.execution_id), *listed, shown]


def field(reading: ExecutionRecord | dict[str, Any], name: str) -> Any:
    return reading[name] if isinstance(reading, dict) else getattr(reading, name)


def answered(client: OrchestratorClient, value: Any) -> ExecutionRecord:
    """The finished execution whose agent answered `value`."""
    key = f"k{next(_keys)}"
    ANSWERS[key] = value
    return client.start_execution("answers", {"key": key}).result(timeout=30)


def watched(client: OrchestratorClient, execution_id: str) -> dict[EventType, dict[str, Any]]:
    return {e.type: e.details for e in client.watch_execution(execution_id)}


@EXAMPLES
@given(value=json_values)
def test_an_input_comes_back_equal_through_every_reading(
    client: OrchestratorClient,
    server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    value: Any,
) -> None:
    done = client.start_execution("takes-any", {"x": value}).result(timeout=30)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    readings = every_reading(client, server, capsys, done)
    assert len(readings) == 3
    for reading in readings:
        assert field(reading, "inputs") == {"x": value}
        assert field(reading, "outputs") == {"y": value}
    events = watched(client, done.execution_id)
    assert events[EventType.EXECUTION_STARTED]["inputs"] == {"x": value}
    assert events[EventType.TASK_SUCCEEDED]["output"] == value
    assert events[EventType.EXECUTION_SUCCEEDED]["outputs"] == {"y": value}


@EXAMPLES
@given(value=json_values)
def test_an_agent_output_comes_back_equal_through_every_reading(
    client: OrchestratorClient,
    server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    value: Any,
) -> None:
    done = answered(client, value)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.tasks["a"].output == value
    for reading in every_reading(client, server, capsys, done):
        assert field(reading, "outputs") == {"y": value}
    assert watched(client, done.execution_id)[EventType.TASK_SUCCEEDED]["output"] == value


@EXAMPLES
@given(value=json_values)
def test_a_definition_value_comes_back_equal(
    client: OrchestratorClient,
    server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    value: Any,
) -> None:
    definition = {
        "name": "literal",
        "inputs": {"d": {"type": "any", "default": value}},
        "tasks": [{"id": "a", "agent": "echo", "input": {"lit": value, "d": "${inputs.d}"}}],
    }
    client.create_workflow(json.dumps(definition))
    done = client.start_execution("literal").result(timeout=30)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.tasks["a"].output == {"lit": value, "d": value}
    shown = cli_json(server, capsys, "executions", "get", done.execution_id)
    assert shown["tasks"][0]["output"] == {"lit": value, "d": value}
    assert shown["inputs"] == {"d": value}


@EXAMPLES
@given(value=not_json)
def test_a_value_outside_the_domain_is_refused_at_every_door_and_stores_nothing(
    client: OrchestratorClient, stub: workflow_pb2_grpc.WorkflowServiceStub, value: Any
) -> None:
    before = len(client.list_executions())
    with pytest.raises(ClientError) as caught:
        client.start_execution("takes-any", {"x": value})
    assert caught.value.code_name == "INVALID_ARGUMENT"
    assert caught.value.violations[0][0].startswith("inputs.x")
    if isinstance(value, float):  # the wire can carry it: the server refuses it itself
        request = workflow_pb2.StartExecutionRequest(workflow="takes-any")
        request.inputs.fields["x"].number_value = value
        with pytest.raises(grpc.RpcError) as raw:
            stub.StartExecution(request, timeout=10)
        assert raw.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    text = json.dumps({"name": "refused", "tasks": [{"id": "a", "agent": "echo", "input": value}]})
    with pytest.raises(ClientError) as caught:
        client.create_workflow(text)
    assert caught.value.code_name == "INVALID_ARGUMENT"
    with pytest.raises(ClientError) as missing:
        client.get_workflow("refused")
    assert missing.value.code_name == "NOT_FOUND"
    assert len(client.list_executions()) == before


@EXAMPLES
@given(value=not_json)
def test_an_agent_output_outside_the_domain_fails_the_task_and_stays_readable(
    client: OrchestratorClient,
    server: ServerThread,
    capsys: pytest.CaptureFixture[str],
    value: Any,
) -> None:
    done = answered(client, value)
    assert done.status is ExecutionStatus.FAILED
    assert done.tasks["a"].error is not None
    assert done.tasks["a"].error.type == "OutputNotSerializable"
    assert done.tasks["a"].output is None
    for reading in every_reading(client, server, capsys, done):
        assert field(reading, "status") in (ExecutionStatus.FAILED, "FAILED")
    assert EventType.EXECUTION_FAILED in watched(client, done.execution_id)
