"""RetryExecution over a real gRPC socket (the in-process backend), through the Python client
and `orchestrator executions retry`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.api.client import AsyncOrchestratorClient, ClientError, OrchestratorClient
from controlplane.api.client.sync_executions import ExecutionHandle
from controlplane.cli.main import EXIT_REJECTED, main
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import EventType, ExecutionStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

PIPELINE = """
name: pipeline
tasks:
  - {id: fetch, agent: work, input: {url: x}}
  - {id: build, agent: flaky, depends_on: [fetch], retry: {max_attempts: 1}}
  - {id: ship, agent: work, depends_on: [build], input: {built: "${tasks.build.output}"}}
outputs: {shipped: "${tasks.ship.output}"}
"""


class Flaky:
    def __init__(self) -> None:
        self.broken = True

    async def __call__(self, value: object, request: AttemptRequest) -> object:
        if self.broken:
            raise RuntimeError("compiler crashed")
        return {"attempt": request.attempt}


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def server(tmp_path: Path, flaky: Flaky) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["flaky"] = flaky
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            for agent in ("work", "flaky"):
                client.deploy_agent(AgentSpec(agent, "v1", f"m:{agent.title()}"))
            client.create_workflow(PIPELINE)
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=10) as client:
        yield client


def _failed(client: OrchestratorClient) -> ExecutionHandle:
    handle = client.start_execution("pipeline")
    assert handle.result(timeout=10).status is ExecutionStatus.FAILED
    return handle


def _cli(server: ServerThread, *argv: str) -> int:
    return main([*argv, "--address", server.address])


def test_a_failed_execution_retried_through_the_client_succeeds(
    client: OrchestratorClient, flaky: Flaky
) -> None:
    handle = _failed(client)
    flaky.broken = False
    retried = client.retry_execution(handle.execution_id)
    assert retried.status is ExecutionStatus.RUNNING and retried.error is None

    # Waiting from the start of the history passes the first run's end (a retry followed it).
    done = handle.result(timeout=10)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.outputs == {"shipped": {"built": {"attempt": 2}}}
    assert [a.number for a in done.tasks["fetch"].attempts] == [1]
    assert [(a.number, a.status.value) for a in done.tasks["build"].attempts] == [
        (1, "FAILED"),
        (2, "SUCCEEDED"),
    ]
    types = [e.type for e in client.watch_execution(handle.execution_id)]
    assert types.count(EventType.EXECUTION_FAILED) == 1
    assert types[-1] is EventType.EXECUTION_SUCCEEDED
    assert types.index(EventType.EXECUTION_FAILED) < types.index(EventType.EXECUTION_RETRIED)


def test_a_repeated_request_id_answers_without_retrying_again(
    client: OrchestratorClient, flaky: Flaky
) -> None:
    handle = _failed(client)
    first = handle.retry("retry-1")
    again = handle.retry("retry-1")
    assert first.execution_id == again.execution_id == handle.execution_id
    assert handle.result(timeout=10).status is ExecutionStatus.FAILED  # still broken
    assert handle.retry("retry-1").status is ExecutionStatus.FAILED  # answered, not retried
    retried = [e for e in handle.watch() if e.type is EventType.EXECUTION_RETRIED]
    assert [e.details["request_id"] for e in retried] == ["retry-1"]
    assert retried[0].details["tasks"] == ["build", "ship"]


def test_what_cannot_be_retried_is_refused_naming_the_field(
    client: OrchestratorClient, flaky: Flaky
) -> None:
    flaky.broken = False
    handle = client.start_execution("pipeline")
    assert handle.result(timeout=10).status is ExecutionStatus.SUCCEEDED
    with pytest.raises(ClientError) as succeeded:
        client.retry_execution(handle.execution_id)
    assert succeeded.value.code_name == "FAILED_PRECONDITION"
    assert "SUCCEEDED" in str(succeeded.value)
    assert [field for field, _ in succeeded.value.violations] == ["execution_id"]
    with pytest.raises(ClientError) as missing:
        client.retry_execution("no-such-execution")
    assert missing.value.code_name == "NOT_FOUND"
    with pytest.raises(ClientError) as long_id:
        client.retry_execution(handle.execution_id, "r" * 201)
    assert long_id.value.code_name == "INVALID_ARGUMENT"
    assert [field for field, _ in long_id.value.violations] == ["request_id"]


def test_executions_retry_on_the_command_line(
    server: ServerThread,
    client: OrchestratorClient,
    flaky: Flaky,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = _failed(client).execution_id
    assert _cli(server, "executions", "retry", execution_id) == 0
    assert " ".join(capsys.readouterr().out.split()) == f"retried execution {execution_id}: RUNNING"
    # The agent is still broken: the retry fails again, and --wait says so (exit 1).
    again = ExecutionHandle(client, client.get_execution(execution_id), created=False)
    assert again.result(timeout=10).status is ExecutionStatus.FAILED
    assert _cli(server, "executions", "retry", execution_id, "--wait") == 1
    capsys.readouterr()

    flaky.broken = False
    assert _cli(server, "executions", "retry", execution_id, "--wait", "-o", "json") == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["status"] == "SUCCEEDED"
    assert "EXECUTION_RETRIED" in captured.err and "EXECUTION_SUCCEEDED" in captured.err

    assert _cli(server, "executions", "retry", execution_id) == EXIT_REJECTED
    err = capsys.readouterr().err
    assert err.startswith("error: FAILED_PRECONDITION: ") and "SUCCEEDED" in err


def test_the_async_client_retries_and_waits_past_the_first_end(
    server: ServerThread, flaky: Flaky
) -> None:
    async def scenario() -> None:
        async with AsyncOrchestratorClient(server.address, timeout_s=10) as client:
            handle = await client.start_execution("pipeline")
            assert (await handle.result(timeout=10)).status is ExecutionStatus.FAILED
            flaky.broken = False
            assert (await handle.retry()).status is ExecutionStatus.RUNNING
            done = await handle.result(timeout=10)
            assert done.status is ExecutionStatus.SUCCEEDED
            assert done.outputs == {"shipped": {"built": {"attempt": 2}}}

    asyncio.run(scenario())
