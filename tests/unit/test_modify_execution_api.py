"""ModifyExecution over a real gRPC socket (the in-process backend), through the Python client
and a bare stub: each operation's effect on the run, the refusals with the request's paths,
atomicity, idempotency, and the event that records who changed what and why."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import EventType, ExecutionRecord, ExecutionStatus, TaskStatus
from models.modifications import Operation, OperationKind
from models.workflows import RetryPolicy
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

PIPELINE = """
name: pipeline
inputs: {cfg: {type: object}}
tasks:
  - {id: gate, agent: held}
  - {id: build, agent: work, depends_on: [gate], input: {mode: "${inputs.cfg.mode}"}}
  - {id: test, agent: work, depends_on: [build]}
  - {id: lint, agent: work, depends_on: [gate]}
  - {id: docs, agent: work, depends_on: [gate], when: "inputs.cfg.docs == true"}
"""
INPUTS = {"cfg": {"mode": "debug", "docs": False}}
FAST_RETRY = RetryPolicy(max_attempts=2, initial_interval_s=0.01, max_interval_s=0.01)


async def _fail(value: object, request: AttemptRequest) -> object:
    raise RuntimeError("flaky")


@pytest.fixture(name="gate")
def gate_fixture() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture(name="stuck")
def stuck_fixture() -> Iterator[Gate]:
    stuck = Gate()
    yield stuck
    stuck.open.set()


@pytest.fixture(name="backend")
def backend_fixture(gate: Gate, stuck: Gate) -> FakeBackend:
    backend = FakeBackend()
    backend.behaviours["held"] = gate
    backend.behaviours["stuck"] = stuck
    backend.behaviours["fails"] = _fail
    return backend


@pytest.fixture(name="server")
def server_fixture(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            for agent in ("held", "work", "fails", "stuck"):
                client.deploy_agent(AgentSpec(agent, "v1", f"m:{agent.title()}"))
            client.create_workflow(PIPELINE)
        yield server
    finally:
        server.stop()


@pytest.fixture(name="client")
def client_fixture(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=10) as client:
        yield client


@pytest.fixture(name="running")
def running_fixture(client: OrchestratorClient, backend: FakeBackend) -> str:
    """A pipeline execution whose first task holds until the gate opens."""
    execution_id = client.start_execution("pipeline", INPUTS).execution_id
    _until(lambda: len(backend.calls) == 1, "the gate task's attempt")
    return execution_id


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _ended(client: OrchestratorClient, execution_id: str) -> ExecutionRecord:
    _until(lambda: client.get_execution(execution_id).status.terminal, "the execution to end")
    return client.get_execution(execution_id)


def _modifications(client: OrchestratorClient, execution_id: str) -> list[dict[str, object]]:
    """The details of every EXECUTION_MODIFIED event of an ended execution."""
    events = client.watch_execution(execution_id)
    return [e.details for e in events if e.type is EventType.EXECUTION_MODIFIED]


def op(kind: OperationKind, **fields: Any) -> Operation:
    return Operation(kind, **fields)


def test_a_batch_changes_what_has_not_started_and_is_recorded_with_its_caller(
    client: OrchestratorClient, running: str, gate: Gate
) -> None:
    answer = client.modify_execution(
        running,
        [
            op(OperationKind.SET_VALUE, path="inputs.cfg.mode", value="release"),
            op(OperationKind.SKIP_TASK, task_id="lint"),
            op(OperationKind.FORCE_CONDITION, task_id="docs", condition=True),
            op(
                OperationKind.ADD_TASK,
                task_id="package",
                agent="work",
                input={"of": "${tasks.build.output}"},
                timeout_s=30.0,
                retry=FAST_RETRY,
            ),
            op(OperationKind.UPDATE_TASK, task_id="test", input={"suite": "full"}, has_input=True),
        ],
        reason="release build",
        request_id="change-1",
    )
    # The answer is the execution with the change applied.
    assert answer.status is ExecutionStatus.RUNNING
    assert answer.inputs == {"cfg": {"mode": "release", "docs": False}}
    assert answer.tasks["lint"].status is TaskStatus.SKIPPED
    assert answer.tasks["package"].status is TaskStatus.PENDING
    assert answer.tasks["package"].depends_on == ("build",)

    gate.open.set()
    final = _ended(client, running)
    assert final.status is ExecutionStatus.SUCCEEDED, final.error
    tasks = final.tasks
    assert tasks["build"].output == {"mode": "release"}
    assert tasks["docs"].status is TaskStatus.SUCCEEDED
    assert tasks["package"].output == {"of": {"mode": "release"}}
    assert tasks["test"].output == {"suite": "full"}
    lint = tasks["lint"].error
    assert lint is not None and (lint.type, lint.message) == ("SkippedByOperator", "release build")

    [recorded] = _modifications(client, running)
    assert recorded["reason"] == "release build" and recorded["request_id"] == "change-1"
    # No authentication yet: the caller is the client's address.
    assert str(recorded["caller"]).startswith("ipv4:127.0.0.1:")
    operations = recorded["operations"]
    assert isinstance(operations, list)
    assert [o["kind"] for o in operations] == [
        "set_value",
        "skip_task",
        "force_condition",
        "add_task",
        "update_task",
    ]
    assert operations[3]["timeout_s"] == 30 and operations[3]["retry"]["max_attempts"] == 2


def test_timeouts_and_retry_policies_sent_take_effect(
    client: OrchestratorClient, running: str, gate: Gate, backend: FakeBackend
) -> None:
    client.modify_execution(
        running,
        [
            op(OperationKind.ADD_TASK, task_id="flaky", agent="fails", retry=FAST_RETRY),
            op(
                OperationKind.ADD_TASK,
                task_id="stalled",
                agent="stuck",
                depends_on=("gate",),
                retry=RetryPolicy(max_attempts=3),
            ),
            # Changed within the batch: an operation builds on the ones before it.
            op(
                OperationKind.UPDATE_TASK,
                task_id="stalled",
                timeout_s=0.2,
                retry=RetryPolicy(max_attempts=1),
            ),
        ],
        reason="probe",
    )
    gate.open.set()
    final = _ended(client, running)
    assert final.tasks["flaky"].status is TaskStatus.FAILED
    assert len(final.tasks["flaky"].attempts) == 2
    assert final.tasks["stalled"].status is TaskStatus.TIMED_OUT
    assert len(final.tasks["stalled"].attempts) == 1


def test_refusals_name_the_operation_and_change_nothing(
    client: OrchestratorClient, running: str, gate: Gate
) -> None:
    with pytest.raises(ClientError) as started:
        client.modify_execution(running, [op(OperationKind.SKIP_TASK, task_id="gate")])
    assert started.value.code_name == "FAILED_PRECONDITION"
    assert "task 'gate' is RUNNING" in started.value.message
    assert [f for f, _ in started.value.violations] == ["operations[0].skip_task.task_id"]

    with pytest.raises(ClientError) as unknown_agent:
        client.modify_execution(
            running,
            [
                op(OperationKind.SKIP_TASK, task_id="lint"),
                op(OperationKind.ADD_TASK, task_id="y", agent="nobody"),
            ],
        )
    assert unknown_agent.value.code_name == "INVALID_ARGUMENT"
    assert [f for f, _ in unknown_agent.value.violations] == ["operations[1].add_task.agent"]

    with pytest.raises(ClientError) as cycle:
        client.modify_execution(
            running,
            [
                op(OperationKind.ADD_TASK, task_id="x", agent="work", depends_on=("test",)),
                op(
                    OperationKind.UPDATE_TASK,
                    task_id="build",
                    input="${tasks.x.output}",
                    has_input=True,
                ),
            ],
        )
    assert cycle.value.code_name == "INVALID_ARGUMENT" and "cycle" in cycle.value.message

    with pytest.raises(ClientError) as unknown_task:
        client.modify_execution(
            running,
            [op(OperationKind.ADD_TASK, task_id="z", agent="work", input="${tasks.nope.output}")],
        )
    assert [f for f, _ in unknown_task.value.violations] == ["operations[0].add_task.input"]

    with pytest.raises(ClientError) as nothing:
        client.modify_execution(running, [])
    assert [f for f, _ in nothing.value.violations] == ["operations"]

    with pytest.raises(ClientError) as not_carried:
        client.modify_execution(
            running, [op(OperationKind.SET_VALUE, path="inputs.x", value={"n": float("nan")})]
        )
    assert [f for f, _ in not_carried.value.violations] == ["operations[0].set_value.value.n"]

    record = client.get_execution(running)  # every refused batch left it as it was
    assert record.tasks["lint"].status is TaskStatus.PENDING
    assert set(record.tasks) == {"gate", "build", "test", "lint", "docs"}
    gate.open.set()
    assert _ended(client, running).status is ExecutionStatus.SUCCEEDED
    assert _modifications(client, running) == []


def test_an_operation_without_its_kind_is_refused_naming_it(
    server: ServerThread, running: str
) -> None:
    """What another language's client could send: an operation with no oneof set."""
    skip = workflow_pb2.ExecutionOperation(
        skip_task=workflow_pb2.ExecutionOperation.SkipTask(task_id="lint")
    )
    request = workflow_pb2.ModifyExecutionRequest(
        execution_id=running, operations=[skip, workflow_pb2.ExecutionOperation()]
    )
    with grpc.insecure_channel(server.address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        with pytest.raises(grpc.RpcError) as unset:
            stub.ModifyExecution(request, timeout=10)
    assert unset.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "operations[1]: set one of skip_task" in (unset.value.details() or "")


def test_a_batch_is_applied_once_per_request_id(
    client: OrchestratorClient, running: str, gate: Gate
) -> None:
    change = [op(OperationKind.SET_VALUE, path="inputs.cfg.mode", value="a")]
    client.modify_execution(running, change, "first", request_id="same")
    again = client.modify_execution(
        running, [op(OperationKind.SET_VALUE, path="inputs.cfg.mode", value="b")], "retry", "same"
    )
    assert again.inputs["cfg"]["mode"] == "a"  # the repeated id answers without applying
    # Without a request id every call is applied (the client makes up a new id for each).
    client.modify_execution(running, change, "no id")
    client.modify_execution(running, change, "no id")
    gate.open.set()
    recorded = _modifications(client, running)
    assert [m["reason"] for m in recorded] == ["first", "no id", "no id"]
    ids = [m["request_id"] for m in recorded]
    assert ids[0] == "same" and len(set(ids)) == 3 and all(ids)


def test_an_ended_or_unknown_execution_cannot_be_changed(
    client: OrchestratorClient, running: str, gate: Gate
) -> None:
    gate.open.set()
    _ended(client, running)
    skip = [op(OperationKind.SKIP_TASK, task_id="lint")]
    with pytest.raises(ClientError) as ended:
        client.modify_execution(running, skip)
    assert ended.value.code_name == "FAILED_PRECONDITION"
    assert [f for f, _ in ended.value.violations] == ["execution_id"]
    with pytest.raises(ClientError) as missing:
        client.modify_execution("no-such-execution", skip)
    assert missing.value.code_name == "NOT_FOUND"


def test_a_path_below_a_plain_value_is_refused_before_anything_is_applied(
    client: OrchestratorClient, running: str
) -> None:
    with pytest.raises(ClientError) as bad:
        client.modify_execution(
            running,
            [
                op(OperationKind.SKIP_TASK, task_id="lint"),
                op(OperationKind.SET_VALUE, path="inputs.cfg.mode.deeper", value=1),
            ],
        )
    assert bad.value.code_name == "INVALID_ARGUMENT"
    assert [f for f, _ in bad.value.violations] == ["operations[1].set_value.path"]
