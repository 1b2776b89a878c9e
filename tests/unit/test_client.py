"""The Python client against real gRPC servers: a control plane on the in-process backend
(execution handles, paging iterators, deadlines, the asyncio client), and a bare server whose
methods fail UNAVAILABLE on purpose (which calls are retried)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import (
    AsyncOrchestratorClient,
    ClientError,
    OrchestratorClient,
    RetryPolicy,
)
from controlplane.api.client.retries import IDEMPOTENT
from controlplane.api.codec.agents import agent_to_proto
from controlplane.api.codec.workflows import execution_to_proto
from controlplane.api.gen.orchestrator.v1 import (
    admin_pb2,
    agent_pb2,
    agent_pb2_grpc,
    resource_pb2,
    scaling_pb2,
    schedule_pb2,
    scheduler_pb2,
    workflow_pb2,
    workflow_pb2_grpc,
)
from models.agents import AgentRecord, AgentSpec, AgentState, AgentView
from models.executions import EventType, ExecutionRecord, ExecutionStatus
from models.modifications import Operation, OperationKind
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

WORKFLOW = """
name: echo
inputs: {word: {type: string}}
tasks:
  - {id: say, agent: work, input: "${inputs.word}"}
outputs: {said: "${tasks.say.output}"}
"""
SLOW = """
name: slow
tasks:
  - {id: wait, agent: stuck}
"""


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def server(tmp_path: Path, gate: Gate) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["stuck"] = gate
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:Work"))
            client.deploy_agent(AgentSpec("stuck", "v1", "m:Stuck"))
            client.create_workflow(WORKFLOW)
            client.create_workflow(SLOW)
        yield server
    finally:
        server.stop()


# -- execution handles ------------------------------------------------------------------------


def test_a_started_execution_is_a_handle_that_waits_and_watches(server: ServerThread) -> None:
    with OrchestratorClient(server.address) as client:
        handle = client.start_execution("echo", {"word": "hi"}, request_id="r-1")
        assert handle.created and handle.execution.workflow == "echo"
        done = handle.result(timeout=10)
        assert done.status is ExecutionStatus.SUCCEEDED and done.outputs == {"said": "hi"}
        events = list(handle.watch())
        assert events[0].type is EventType.EXECUTION_STARTED and events[-1].type.terminal
        assert [e.sequence for e in events] == sorted(e.sequence for e in events)
        again = client.start_execution("echo", {"word": "hi"}, request_id="r-1")
        assert not again.created and again.execution_id == handle.execution_id


def test_result_gives_up_after_its_timeout(server: ServerThread, gate: Gate) -> None:
    with OrchestratorClient(server.address) as client:
        handle = client.start_execution("slow")
        with pytest.raises(TimeoutError, match=handle.execution_id):
            handle.result(timeout=0.2)
        assert handle.get().status is ExecutionStatus.RUNNING
        gate.open.set()
        assert handle.result(timeout=10).status is ExecutionStatus.SUCCEEDED


# -- paging -----------------------------------------------------------------------------------


def test_iterators_fetch_the_next_page_only_when_it_is_reached(server: ServerThread) -> None:
    with OrchestratorClient(server.address, page_size=2) as client:
        started = [client.start_execution("echo", {"word": str(i)}) for i in range(5)]
        for handle in started:
            handle.result(timeout=10)
        pages: list[str] = []
        run = client._run
        client._run = lambda call: pages.append(call.rpc) or run(call)  # type: ignore[method-assign]
        first_three = list(itertools.islice(client.iter_executions("echo"), 3))
        assert len(first_three) == 3 and pages == ["workflows.ListExecutions"] * 2
        listed = client.list_executions("echo", [ExecutionStatus.SUCCEEDED])
        assert {e.execution_id for e in listed} == {h.execution_id for h in started}
        assert len(pages) == 2 + 3  # 5 executions at 2 a page
        assert {a.record.spec.name for a in client.iter_agents()} == {"work", "stuck"}


# -- the asyncio client -----------------------------------------------------------------------


def test_the_async_client_has_the_same_calls(server: ServerThread, gate: Gate) -> None:
    async def body() -> None:
        async with AsyncOrchestratorClient(server.address, page_size=1) as client:
            await client.wait_ready(10)
            handle = await client.start_execution("echo", {"word": "async"})
            done = await handle.result(timeout=10)
            assert done.status is ExecutionStatus.SUCCEEDED and done.outputs == {"said": "async"}
            types = [e.type async for e in handle.watch()]
            assert types[0] is EventType.EXECUTION_STARTED and types[-1].terminal
            names = [a.record.spec.name async for a in client.iter_agents()]
            assert sorted(names) == ["stuck", "work"]
            assert [w.name for w in await client.list_workflows()] == ["echo", "slow"]
            slow = await client.start_execution("slow")
            with pytest.raises(TimeoutError):
                await slow.result(timeout=0.2)
            assert (await slow.pause("hold")).paused
            assert (await slow.signal("approve", {"user": "ann"})).paused
            assert not (await slow.resume()).paused
            gate.open.set()
            assert (await slow.result(timeout=10)).status is ExecutionStatus.SUCCEEDED
            with pytest.raises(ClientError) as missing:
                await client.get_agent("ghost")
            assert missing.value.code_name == "NOT_FOUND"

    asyncio.run(body())


# -- retries and deadlines against a bare server ---------------------------------------------

FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
AGENT = AgentView(AgentRecord(AgentSpec("work", "v1", "m:Work"), 1.0, 2.0), AgentState.READY, [])
EXECUTION = ExecutionRecord("e1", "echo", 1, ExecutionStatus.PENDING, {}, 1.0)


class Flaky(agent_pb2_grpc.AgentServiceServicer, workflow_pb2_grpc.WorkflowServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls of every method, then succeeds;
    ListAgents answers only once `release` is set."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}
        self.signal_ids: list[str] = []
        self.modify_ids: list[str] = []
        self.release = threading.Event()

    def ListAgents(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.release.wait(30)
        return agent_pb2.ListAgentsResponse()

    def _try(self, method: str, context: grpc.ServicerContext) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.calls[method] <= self.failures:
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")

    def GetAgent(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._try("GetAgent", context)
        return agent_pb2.GetAgentResponse(agent=agent_to_proto(AGENT))

    def DeleteAgent(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._try("DeleteAgent", context)
        return agent_pb2.DeleteAgentResponse()

    def SignalExecution(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.signal_ids.append(request.request_id)
        self._try("SignalExecution", context)
        return workflow_pb2.SignalExecutionResponse(execution=execution_to_proto(EXECUTION))

    def ModifyExecution(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.modify_ids.append(request.request_id)
        self._try("ModifyExecution", context)
        return workflow_pb2.ModifyExecutionResponse(execution=execution_to_proto(EXECUTION))

    def PauseExecution(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._try("PauseExecution", context)
        return workflow_pb2.PauseExecutionResponse(execution=execution_to_proto(EXECUTION))

    def StartExecution(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._try(f"StartExecution:{request.request_id}", context)
        return workflow_pb2.StartExecutionResponse(
            execution=execution_to_proto(EXECUTION), created=True
        )


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, str]]:
    servicer = Flaky(failures=2)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    agent_pb2_grpc.add_AgentServiceServicer_to_server(servicer, server)
    workflow_pb2_grpc.add_WorkflowServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        servicer.release.set()
        server.stop(0)


def test_idempotent_calls_are_retried_while_unavailable(flaky: tuple[Flaky, str]) -> None:
    servicer, address = flaky
    with OrchestratorClient(address, timeout_s=10, retry=FAST) as client:
        assert client.get_agent("work") == AGENT
        assert servicer.calls["GetAgent"] == 3
        with pytest.raises(ClientError) as once:
            client.delete_agent("work")  # a second delete would answer NOT_FOUND
        assert once.value.code_name == "UNAVAILABLE" and servicer.calls["DeleteAgent"] == 1


def test_a_start_with_a_request_id_is_retried_one_without_is_not(
    flaky: tuple[Flaky, str],
) -> None:
    servicer, address = flaky
    with OrchestratorClient(address, timeout_s=10, retry=FAST) as client:
        assert client.start_execution("echo", request_id="once").execution == EXECUTION
        assert servicer.calls["StartExecution:once"] == 3
        with pytest.raises(ClientError):
            client.start_execution("echo")
        assert servicer.calls["StartExecution:"] == 1

    async def body() -> None:
        async with AsyncOrchestratorClient(address, timeout_s=10, retry=FAST) as client:
            handle = await client.start_execution("echo", request_id="async")
            assert handle.execution == EXECUTION

    asyncio.run(body())
    assert servicer.calls["StartExecution:async"] == 3


def test_a_signal_is_retried_under_one_request_id_made_up_when_none_is_given(
    flaky: tuple[Flaky, str],
) -> None:
    servicer, address = flaky
    with OrchestratorClient(address, timeout_s=10, retry=FAST) as client:
        assert client.signal_execution("e1", "approve", {"user": "ann"}) == EXECUTION
        made_up = servicer.signal_ids
        assert len(made_up) == 3 and len(set(made_up)) == 1 and made_up[0]
        assert client.pause_execution("e1") == EXECUTION  # a pause is safe to repeat
        assert servicer.calls["PauseExecution"] == 3

    async def body() -> None:
        async with AsyncOrchestratorClient(address, timeout_s=10, retry=FAST) as client:
            servicer.calls.clear()
            servicer.signal_ids.clear()
            await client.signal_execution("e1", "approve", request_id="mine")

    asyncio.run(body())
    assert servicer.signal_ids == ["mine"] * 3


def test_a_modification_is_retried_under_one_request_id_made_up_when_none_is_given(
    flaky: tuple[Flaky, str],
) -> None:
    servicer, address = flaky
    skip = [Operation(OperationKind.SKIP_TASK, task_id="lint")]
    with OrchestratorClient(address, timeout_s=10, retry=FAST) as client:
        assert client.modify_execution("e1", skip, "not needed") == EXECUTION
        made_up = servicer.modify_ids
        assert len(made_up) == 3 and len(set(made_up)) == 1 and made_up[0]

    async def body() -> None:
        async with AsyncOrchestratorClient(address, timeout_s=10, retry=FAST) as client:
            servicer.calls.clear()
            servicer.modify_ids.clear()
            await client.modify_execution("e1", skip, request_id="mine")

    asyncio.run(body())
    assert servicer.modify_ids == ["mine"] * 3


def test_no_retry_policy_means_one_try(flaky: tuple[Flaky, str]) -> None:
    servicer, address = flaky
    with (
        OrchestratorClient(address, timeout_s=10, retry=None) as client,
        pytest.raises(ClientError),
    ):
        client.get_agent("work")
    assert servicer.calls["GetAgent"] == 1


def test_the_service_config_names_real_methods_only() -> None:
    services = {
        s.full_name: {m.name for m in s.methods}
        for file in (
            agent_pb2,
            workflow_pb2,
            resource_pb2,
            scheduler_pb2,
            scaling_pb2,
            schedule_pb2,
            admin_pb2,
        )
        for s in file.DESCRIPTOR.services_by_name.values()
    }
    for service, methods in IDEMPOTENT.items():
        assert set(methods) <= services[service], service
    config = json.loads(FAST.service_config())
    (method_config,) = config["methodConfig"]
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert {"service": "orchestrator.v1.WorkflowService", "method": "GetExecution"} in (
        method_config["name"]
    )
    assert not any(n["method"].startswith(("Create", "Delete")) for n in method_config["name"])


def test_every_unary_call_has_the_default_deadline(flaky: tuple[Flaky, str]) -> None:
    _, address = flaky
    with OrchestratorClient(address, timeout_s=0.2) as client:
        with pytest.raises(ClientError) as late:
            client.list_agents()
        assert late.value.code_name == "DEADLINE_EXCEEDED"

    async def body() -> None:
        async with AsyncOrchestratorClient(address, timeout_s=0.2) as client:
            with pytest.raises(ClientError) as late:
                await client.list_agents()
            assert late.value.code_name == "DEADLINE_EXCEEDED"

    asyncio.run(body())
