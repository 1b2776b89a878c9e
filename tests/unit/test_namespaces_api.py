"""Workflows, executions and schedules belong to a namespace, over a real gRPC socket (the
in-process backend), through the Python client, raw stubs and the CLI: names and request ids
are unique per namespace, lists filter by namespace (`*`: every one), an execution or schedule
of another namespace is NOT_FOUND for every call that names it, and child executions and
schedule firings stay in their namespace."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import EXIT_REJECTED, main
from models.agents import AgentSpec
from models.executions import ExecutionStatus, ValuePart
from models.modifications import Operation, OperationKind
from models.schedules import ScheduleSpec
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

TEAM = "team-a"


def greeting(namespace: str) -> str:
    """A workflow `greet` whose output names the namespace it was defined in."""
    return f"""
name: greet
tasks:
  - {{id: say, agent: work, input: {{who: {namespace}}}}}
outputs: {{who: "${{tasks.say.output.who}}"}}
"""


PARENT = """
name: parent
tasks:
  - {id: call, workflow: greet}
outputs: {who: "${tasks.call.output.who}"}
"""
HELD = """
name: held
tasks:
  - {id: wait, agent: held}
"""


class ShiftedClock:
    """The wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def server(tmp_path: Path, gate: Gate, clock: ShiftedClock) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["held"] = gate
    server = ServerThread(
        tmp_path,
        "unused",
        backend=backend,
        overrides={"grpc.shutdown_grace_s": 0.1, "loops.schedule_interval_s": 0.1},
        clock=clock,
    )
    try:
        for namespace in ("default", TEAM):  # a task runs on its own namespace's agents
            with OrchestratorClient(server.address, namespace=namespace) as client:
                for agent in ("work", "held"):
                    client.deploy_agent(AgentSpec(agent, "v1", f"m:{agent.title()}"))
        with OrchestratorClient(server.address) as client:
            client.create_workflow(greeting("default"))
            client.create_workflow(greeting(TEAM), namespace=TEAM)
            client.create_workflow(HELD, namespace=TEAM)
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=10) as client:
        yield client


@pytest.fixture
def team(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=10, namespace=TEAM) as client:
        yield client


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as failed:
        call()
    return failed.value.code_name


# -- workflows --------------------------------------------------------------------------------


def test_one_name_holds_a_definition_per_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    assert client.get_workflow("greet").namespace == "default"
    mine = team.get_workflow("greet")
    assert (mine.name, mine.namespace, mine.revision.revision) == ("greet", TEAM, 1)
    assert TEAM in mine.revision.definition_text
    assert "default" not in mine.revision.definition_text
    # Each namespace runs its own definition.
    assert client.start_execution("greet").result(10).outputs == {"who": "default"}
    done = team.start_execution("greet").result(10)
    assert (done.outputs, done.namespace, done.workflow) == ({"who": TEAM}, TEAM, "greet")
    # A workflow only team-a has is not found from default, and not startable there.
    assert _code(lambda: client.get_workflow("held")) == "NOT_FOUND"
    assert _code(lambda: client.start_execution("held")) == "NOT_FOUND"


def test_workflow_lists_filter_by_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    assert [w.name for w in client.list_workflows()] == ["greet"]
    assert [w.name for w in team.list_workflows()] == ["greet", "held"]
    assert client.list_workflows(namespace="empty") == []
    every = [(w.namespace, w.name) for w in client.list_workflows(namespace="*")]
    assert every == [("default", "greet"), (TEAM, "greet"), (TEAM, "held")]
    # One page at a time across namespaces.
    with OrchestratorClient(client.address, page_size=1) as paged:
        assert [(w.namespace, w.name) for w in paged.list_workflows(namespace="*")] == every


def test_a_definition_is_checked_against_its_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    calls_held = "name: calls-held\ntasks:\n  - {id: run, workflow: held}\n"
    assert team.validate_workflow(calls_held).valid
    problems = client.validate_workflow(calls_held).problems
    assert [p.path for p in problems] == ["tasks[0].workflow"]
    assert _code(lambda: client.create_workflow(calls_held)) == "INVALID_ARGUMENT"


def test_a_bad_namespace_is_invalid_argument_naming_it(client: OrchestratorClient) -> None:
    for call in (
        lambda: client.list_workflows(namespace="Team A"),
        lambda: client.start_execution("greet", namespace="a/b"),
        lambda: client.get_execution("x", namespace="*"),  # `*` only lists
        lambda: client.get_schedule("x", namespace="-x"),
    ):
        with pytest.raises(ClientError) as bad:
            call()
        assert bad.value.code_name == "INVALID_ARGUMENT"
        assert [field for field, _ in bad.value.violations] == ["namespace"]


# -- executions -------------------------------------------------------------------------------


BY_ID_RPCS = (
    "GetExecution",
    "CancelExecution",
    "SignalExecution",
    "PauseExecution",
    "ResumeExecution",
    "RetryExecution",
    "ModifyExecution",
    "WatchExecution",
    "ReadExecutionValue",
)


def _by_id(client: OrchestratorClient, rpc: str, execution_id: str) -> Any:
    """Calls `rpc` on the execution, in the client's namespace."""
    if rpc == "WatchExecution":
        return list(client.watch_execution(execution_id))
    if rpc == "ReadExecutionValue":
        return client.read_execution_value(execution_id, ValuePart.INPUTS)
    if rpc == "ModifyExecution":
        skip = [Operation(OperationKind.SKIP_TASK, task_id="wait")]
        return client.modify_execution(execution_id, skip)
    if rpc == "SignalExecution":
        return client.signal_execution(execution_id, "go")
    method = {
        "GetExecution": client.get_execution,
        "CancelExecution": client.cancel_execution,
        "PauseExecution": client.pause_execution,
        "ResumeExecution": client.resume_execution,
        "RetryExecution": client.retry_execution,
    }[rpc]
    return method(execution_id)


def test_an_execution_of_another_namespace_is_not_found_for_every_call(
    client: OrchestratorClient, team: OrchestratorClient, gate: Gate
) -> None:
    held = team.start_execution("held")
    execution_id = held.execution_id
    _until(lambda: team.get_execution(execution_id).status is ExecutionStatus.RUNNING, "start")
    unknown = "0" * 32
    for rpc in BY_ID_RPCS:
        with pytest.raises(ClientError) as hidden:
            _by_id(client, rpc, execution_id)
        assert hidden.value.code_name == "NOT_FOUND", rpc
        # Word for word what an id that exists nowhere gets: nothing tells the two apart.
        with pytest.raises(ClientError) as nowhere:
            _by_id(client, rpc, unknown)
        assert hidden.value.message.replace(execution_id, unknown) == nowhere.value.message, rpc
        assert hidden.value.violations == nowhere.value.violations, rpc
    # Nothing changed, and from its own namespace every call works.
    record = team.get_execution(execution_id)
    assert record.status is ExecutionStatus.RUNNING and not record.paused
    assert team.pause_execution(execution_id).paused
    assert not held.resume().paused  # a handle works in its execution's namespace
    assert team.read_execution_value(execution_id, ValuePart.INPUTS) == {}
    gate.open.set()
    assert held.result(10).status is ExecutionStatus.SUCCEEDED


def test_a_raw_request_without_a_namespace_is_in_default(
    server: ServerThread, team: OrchestratorClient
) -> None:
    execution_id = team.start_execution("greet").execution_id
    stub = workflow_pb2_grpc.WorkflowServiceStub(grpc.insecure_channel(server.address))
    with pytest.raises(grpc.RpcError) as hidden:
        stub.GetExecution(workflow_pb2.GetExecutionRequest(execution_id=execution_id))
    assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
    found = stub.GetExecution(
        workflow_pb2.GetExecutionRequest(execution_id=execution_id, namespace=TEAM)
    ).execution
    assert (found.namespace, found.workflow) == (TEAM, "greet")


def test_request_ids_are_unique_per_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    mine = team.start_execution("greet", request_id="build-1")
    theirs = client.start_execution("greet", request_id="build-1")
    assert mine.created and theirs.created
    assert mine.execution_id != theirs.execution_id
    again = team.start_execution("greet", request_id="build-1")
    assert not again.created and again.execution_id == mine.execution_id
    assert again.execution.request_id == "build-1"
    # A default id that looks like another namespace's key is its own too.
    looks_alike = client.start_execution("greet", request_id=f"{TEAM}/build-1")
    assert looks_alike.created and looks_alike.execution_id != mine.execution_id
    assert looks_alike.execution.request_id == f"{TEAM}/build-1"


def test_execution_lists_filter_by_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    theirs = client.start_execution("greet").result(10)
    mine = team.start_execution("greet").result(10)
    assert [e.execution_id for e in client.list_executions()] == [theirs.execution_id]
    assert [e.execution_id for e in team.list_executions("greet")] == [mine.execution_id]
    every = client.list_executions(namespace="*")
    assert [(e.namespace, e.execution_id) for e in every] == [
        (TEAM, mine.execution_id),
        ("default", theirs.execution_id),
    ]
    # A workflow filter across namespaces matches the name in each.
    assert len(client.list_executions("greet", namespace="*")) == 2
    assert client.list_executions("held", namespace="*") == []


def test_a_child_execution_runs_in_its_parents_namespace(
    client: OrchestratorClient, team: OrchestratorClient
) -> None:
    team.create_workflow(PARENT)
    done = team.start_execution("parent").result(10)
    assert done.outputs == {"who": TEAM}  # team-a's greet, not default's
    child_id = team.get_execution(done.execution_id).tasks["call"].child_execution_id
    child = team.get_execution(child_id)
    assert (child.namespace, child.parent_execution_id) == (TEAM, done.execution_id)
    assert _code(lambda: client.get_execution(child_id)) == "NOT_FOUND"


# -- schedules --------------------------------------------------------------------------------


def test_schedules_are_per_namespace_and_fire_there(
    server: ServerThread,
    client: OrchestratorClient,
    team: OrchestratorClient,
    clock: ShiftedClock,
) -> None:
    mine, created = team.create_schedule(ScheduleSpec("tick", "greet", "* * * * *"))
    assert created and mine.spec.namespace == TEAM
    theirs, created = client.create_schedule(ScheduleSpec("tick", "greet", "* * * * *"))
    assert created and theirs.schedule_id != mine.schedule_id
    # A workflow only team-a has cannot be scheduled from default.
    with pytest.raises(ClientError) as missing:
        client.create_schedule(ScheduleSpec("wait", "held", "@daily"))
    assert "schedule.workflow" in dict(missing.value.violations)
    # The schedule's namespace is the request's.
    with pytest.raises(ClientError) as other:
        client.create_schedule(
            ScheduleSpec("tock", "greet", "@daily", namespace=TEAM), namespace="default"
        )
    assert [field for field, _ in other.value.violations] == ["schedule.namespace"]

    assert [s.spec.namespace for s in client.list_schedules(namespace="*")] == ["default", TEAM]
    assert [s.schedule_id for s in team.list_schedules()] == [mine.schedule_id]
    team.pause_schedule("tick")
    assert team.get_schedule("tick").paused and not client.get_schedule("tick").paused
    team.resume_schedule("tick")

    clock.offset += 61  # past each one's next firing
    for api in (client, team):
        _until(lambda api=api: bool(api.get_schedule("tick").state.last_execution_ids), "fire")
    apis = {"default": client, TEAM: team}
    fired = {
        namespace: api.get_execution(api.get_schedule("tick").state.last_execution_ids[0])
        for namespace, api in apis.items()
    }
    # Both fired the same time with the same request id, each in its own namespace.
    assert fired[TEAM].request_id == fired["default"].request_id
    assert fired[TEAM].execution_id != fired["default"].execution_id
    for namespace, execution in fired.items():
        assert execution.namespace == namespace
        assert _outputs_when_ended(apis[namespace], execution.execution_id) == {"who": namespace}
    team.delete_schedule("tick")
    assert _code(lambda: team.get_schedule("tick")) == "NOT_FOUND"
    assert client.get_schedule("tick").schedule_id == theirs.schedule_id


def _outputs_when_ended(api: OrchestratorClient, execution_id: str) -> Any:
    deadline = time.monotonic() + 10
    while True:
        record = api.get_execution(execution_id)
        if record.status.terminal:
            return record.outputs
        assert time.monotonic() < deadline, "execution did not end"
        time.sleep(0.01)


# -- CLI --------------------------------------------------------------------------------------


def test_cli_namespace_option(
    server: ServerThread, team: OrchestratorClient, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = team.start_execution("greet").execution_id
    address = ["--address", server.address]
    assert main([*address, "-n", TEAM, "executions", "get", execution_id, "-o", "json"]) == 0
    assert f'"namespace": "{TEAM}"' in capsys.readouterr().out
    assert main([*address, "executions", "get", execution_id]) == EXIT_REJECTED
    assert "NOT_FOUND" in capsys.readouterr().err
    # After the subcommand too, and from the environment.
    assert main(["executions", "list", *address, "--namespace", "*"]) == 0
    table = capsys.readouterr().out
    assert "NAMESPACE" in table and TEAM in table
    assert main([*address, "workflows", "list", "-n", "*"]) == 0
    assert "NAMESPACE" in capsys.readouterr().out
    assert main([*address, "workflows", "list"]) == 0
    assert "NAMESPACE" not in capsys.readouterr().out


def test_cli_namespace_from_the_environment(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_NAMESPACE", TEAM)
    assert main(["--address", server.address, "workflows", "list", "-o", "json"]) == 0
    assert '"held"' in capsys.readouterr().out
