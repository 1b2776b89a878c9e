"""Responses that always fit: whatever executions hold, GetExecution, ListExecutions and
WatchExecution answer within the message limit, leaving large values out with their size, and
ReadExecutionValue returns those values whole. Through a real gRPC server (in-process
backend)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.fitting import INLINE_VALUE_BYTES, RESPONSE_LIMIT_BYTES
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import main
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import EventType, ExecutionStatus, ValuePart
from models.workflows import View
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

OUTPUT_CHARS = 1_900_000  # under the 2 MiB output cap; five of them are over 8 MiB


async def big(value: Any, request: AttemptRequest) -> Any:
    """Answers a string of the asked length, tagged so that no two outputs are alike."""
    return {"tag": value["tag"], "text": "x" * value["chars"]}


async def failing(value: Any, request: AttemptRequest) -> Any:
    raise RuntimeError("e" * 5000)


FIVE_BIG = (
    """
name: five-big
tasks:
"""
    + "".join(
        f"  - {{id: t{i}, agent: big, input: {{tag: {i}, chars: {OUTPUT_CHARS}}}}}\n"
        for i in range(5)
    )
    + "outputs: {"
    + ", ".join(f"o{i}: '${{tasks.t{i}.output}}'" for i in range(5))
    + "}\n"
)

SMALL = """
name: small
tasks:
  - {id: a, agent: big, input: {tag: 1, chars: 10}}
outputs: {text: "${tasks.a.output.text}"}
"""

RETRIED = """
name: retried
tasks:
  - id: flaky
    agent: failing
    retry: {max_attempts: 60, initial_interval: 1ms, max_interval: 1ms}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["big"] = big
    backend.behaviours["failing"] = failing
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("big", "v1", "m:Agent"))
            client.deploy_agent(AgentSpec("failing", "v1", "m:Agent"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=30) as c:
        yield c


@pytest.fixture
def raw(server: ServerThread) -> Iterator[workflow_pb2_grpc.WorkflowServiceStub]:
    """A stub with gRPC's default 4 MiB receive limit, as any other language's client has."""
    with grpc.insecure_channel(server.address) as channel:
        yield workflow_pb2_grpc.WorkflowServiceStub(channel)


def run(client: OrchestratorClient, definition: str) -> str:
    client.create_workflow(definition)
    name = definition.split("name: ")[1].split("\n")[0]
    handle = client.start_execution(name)
    handle.result(timeout=60)
    return handle.execution_id


def test_five_near_cap_outputs_leave_every_response_within_the_limit(
    client: OrchestratorClient, raw: workflow_pb2_grpc.WorkflowServiceStub
) -> None:
    execution_id = run(client, FIVE_BIG)
    full = raw.GetExecution(workflow_pb2.GetExecutionRequest(execution_id=execution_id))
    execution = full.execution
    assert full.ByteSize() <= RESPONSE_LIMIT_BYTES
    assert execution.status == workflow_pb2.EXECUTION_STATUS_SUCCEEDED
    for task in execution.tasks:
        assert not task.HasField("output")
        assert task.output_omitted.size_bytes > OUTPUT_CHARS
    assert not execution.HasField("outputs")
    assert execution.outputs_omitted.size_bytes > 5 * OUTPUT_CHARS

    for view in (workflow_pb2.EXECUTION_VIEW_UNSPECIFIED, workflow_pb2.EXECUTION_VIEW_FULL):
        listed = raw.ListExecutions(workflow_pb2.ListExecutionsRequest(view=view))
        assert [e.execution_id for e in listed.executions] == [execution_id]
    basic = raw.GetExecution(
        workflow_pb2.GetExecutionRequest(
            execution_id=execution_id, view=workflow_pb2.EXECUTION_VIEW_BASIC
        )
    )
    assert not basic.execution.tasks and not basic.execution.HasField("outputs")

    watched = raw.WatchExecution(workflow_pb2.WatchExecutionRequest(execution_id=execution_id))
    succeeded = [r.event for r in watched if r.event.type == EventType.TASK_SUCCEEDED.value]
    assert len(succeeded) == 5
    for event in succeeded:
        assert "output" not in event.details.fields
        assert event.details["output_omitted"]["size_bytes"] > OUTPUT_CHARS


def test_values_left_out_read_back_whole_and_equal(client: OrchestratorClient) -> None:
    execution_id = run(client, FIVE_BIG)
    record = client.get_execution(execution_id)
    assert record.tasks["t3"].output is None and record.tasks["t3"].output_omitted
    output = client.read_execution_value(execution_id, ValuePart.TASK_OUTPUT, "t3")
    assert output == {"tag": 3, "text": "x" * OUTPUT_CHARS}
    assert len(json.dumps(output, separators=(",", ":"))) == record.tasks["t3"].output_omitted
    outputs = client.read_execution_value(execution_id)
    assert outputs["o4"] == {"tag": 4, "text": "x" * OUTPUT_CHARS}

    complete = client.with_omitted_values(record)
    assert complete.tasks["t0"].output == {"tag": 0, "text": "x" * OUTPUT_CHARS}
    assert complete.outputs == outputs and complete.outputs_omitted is None
    assert complete.inputs == {}


def test_a_chunked_read_resumes_at_an_offset(
    client: OrchestratorClient, raw: workflow_pb2_grpc.WorkflowServiceStub
) -> None:
    execution_id = run(client, FIVE_BIG)
    request = workflow_pb2.ReadExecutionValueRequest(
        execution_id=execution_id, part=workflow_pb2.EXECUTION_VALUE_PART_TASK_OUTPUT, task_id="t1"
    )
    chunks = list(raw.ReadExecutionValue(request))
    assert len(chunks) == 2 and all(len(c.data) <= 1 << 20 for c in chunks)
    whole = b"".join(c.data for c in chunks)
    assert chunks[0].size_bytes == len(whole)
    request.read_offset, request.read_limit = 1000, 50
    (window,) = list(raw.ReadExecutionValue(request))
    assert window.data == whole[1000:1050]


def test_small_values_stay_in_the_response(client: OrchestratorClient) -> None:
    execution_id = run(client, SMALL)
    record = client.get_execution(execution_id)
    assert record.outputs == {"text": "x" * 10} and record.outputs_omitted is None
    assert record.tasks["a"].output == {"tag": 1, "text": "x" * 10}
    listed = client.list_executions("small", view=View.FULL)[0]
    assert listed.outputs == record.outputs
    basic = client.list_executions("small")[0]
    assert basic.outputs is None and basic.inputs == {}
    assert basic.status is ExecutionStatus.SUCCEEDED


def test_an_output_just_over_the_inline_size_is_left_out(client: OrchestratorClient) -> None:
    chars = INLINE_VALUE_BYTES  # with the tag and the quotes, the encoding is over the limit
    client.create_workflow(SMALL.replace("chars: 10", f"chars: {chars}"))
    done = client.start_execution("small").result(timeout=30)
    assert done.tasks["a"].output == {"tag": 1, "text": "x" * chars}
    record = client.get_execution(done.execution_id)
    assert record.tasks["a"].output is None
    assert record.tasks["a"].output_omitted == len('{"tag":1,"text":""}') + chars


def test_a_task_shows_its_latest_attempts_and_counts_the_rest(client: OrchestratorClient) -> None:
    execution_id = run(client, RETRIED)
    task = client.get_execution(execution_id).tasks["flaky"]
    assert task.status.value == "FAILED"
    assert [a.number for a in task.attempts] == list(range(11, 61))
    assert task.omitted_attempts == 10
    assert task.error is not None and len(task.error.message) < 5000
    assert "(5000 characters)" in task.error.message


def test_reading_a_value_that_does_not_exist_names_the_cause(client: OrchestratorClient) -> None:
    execution_id = run(client, SMALL)
    with pytest.raises(ClientError) as caught:
        client.read_execution_value(execution_id, ValuePart.TASK_OUTPUT, "nope")
    assert caught.value.code_name == "NOT_FOUND" and "nope" in str(caught.value)
    for part in (ValuePart.OUTPUTS, ValuePart.TASK_OUTPUT):
        with pytest.raises(ClientError) as caught:
            client.read_execution_value("no-such-execution", part, "a")
        assert caught.value.code_name == "NOT_FOUND"
        assert [field for field, _ in caught.value.violations] == ["execution_id"]
    with pytest.raises(ClientError) as caught:
        client.read_execution_value(execution_id, ValuePart.TASK_OUTPUT, "")
    assert caught.value.code_name == "INVALID_ARGUMENT"
    assert [field for field, _ in caught.value.violations] == ["task_id"]


def test_the_cli_shows_where_to_read_a_left_out_value_and_prints_it_whole(
    client: OrchestratorClient, server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = run(client, FIVE_BIG)
    base = ["--address", server.address]
    assert main([*base, "executions", "get", execution_id]) == 0
    shown = capsys.readouterr().out
    assert f"orchestrator executions value {execution_id} --task TASK" in shown
    assert "(left out: 1,900,019 bytes)" in shown
    assert main([*base, "executions", "value", execution_id, "--task", "t2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"tag": 2, "text": "x" * OUTPUT_CHARS}
    assert main([*base, "--output", "json", "executions", "get", execution_id]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["outputs"]["o0"]["text"] == "x" * OUTPUT_CHARS
