"""SignalExecution, PauseExecution and ResumeExecution over a real gRPC socket (the in-process
backend), through the Python client and the `orchestrator executions` commands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli.main import EXIT_REJECTED, main
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.executions import Event, EventType, ExecutionRecord, ExecutionStatus, TaskStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

TWO_STEPS = """
name: two-steps
tasks:
  - {id: first, agent: held}
  - {id: second, agent: work, depends_on: [first]}
"""
HELD = """
name: held
tasks:
  - {id: only, agent: held}
"""
QUICK = """
name: quick
tasks:
  - {id: only, agent: work}
"""
BROKEN = """
name: broken
tasks:
  - {id: build, agent: fails, retry: {max_attempts: 1}}
  - {id: ship, agent: work, depends_on: [build]}
"""
APPROVAL = """
name: approval
tasks:
  - {id: approve, wait_for_signal: approve}
outputs: {by: "${tasks.approve.output.user}"}
"""

EARLY_APPROVAL = """
name: early-approval
tasks:
  - {id: build, agent: held}
  - {id: approve, wait_for_signal: approve, depends_on: [build]}
"""


async def _fail(value: object, request: AttemptRequest) -> object:
    raise RuntimeError("compiler crashed")


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def backend(gate: Gate) -> FakeBackend:
    backend = FakeBackend()
    backend.behaviours["held"] = gate
    backend.behaviours["fails"] = _fail
    return backend


@pytest.fixture
def server(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            for agent in ("held", "work", "fails"):
                client.deploy_agent(AgentSpec(agent, "v1", f"m:{agent.title()}"))
            for definition in (TWO_STEPS, HELD, QUICK, BROKEN):
                client.create_workflow(definition)
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=10) as client:
        yield client


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _holds(condition: Callable[[], bool], what: str, for_s: float = 0.3) -> None:
    """`condition` stays true for `for_s` seconds (a thing that must not happen does not)."""
    until = time.monotonic() + for_s
    while time.monotonic() < until:
        assert condition(), what
        time.sleep(0.01)


def _events(client: OrchestratorClient, execution_id: str) -> list[Event]:
    """Every event of an ended execution."""
    return list(client.watch_execution(execution_id))


def _cli(server: ServerThread, *argv: str) -> int:
    return main([*argv, "--address", server.address])


def _flat(text: str) -> str:
    return " ".join(text.split())  # table cells may wrap


# -- pause and resume -------------------------------------------------------------------------


def test_a_paused_execution_starts_no_new_attempt_until_resumed(
    server: ServerThread,
    client: OrchestratorClient,
    backend: FakeBackend,
    gate: Gate,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = client.start_execution("two-steps").execution_id
    _until(lambda: len(backend.calls) == 1, "the first task's attempt")

    assert _cli(server, "executions", "pause", execution_id, "--reason", "hold on") == 0
    assert _flat(capsys.readouterr().out) == f"execution {execution_id}: RUNNING PAUSED"
    assert client.get_execution(execution_id).paused
    # Pausing again changes nothing (and so is safe to retry).
    assert client.pause_execution(execution_id, "again").paused

    gate.open.set()  # the running attempt finishes
    _until(
        lambda: client.get_execution(execution_id).tasks["first"].status is TaskStatus.SUCCEEDED,
        "the first task to succeed",
    )

    def second_not_started() -> bool:
        second = client.get_execution(execution_id).tasks["second"]
        return not second.attempts and [c.task_id for c in backend.calls] == ["first"]

    _holds(second_not_started, "the second task started while paused")

    assert _cli(server, "executions", "get", execution_id) == 0
    assert f"execution {execution_id} two-steps rev 1 RUNNING PAUSED" in _flat(
        capsys.readouterr().out
    )
    assert _cli(server, "executions", "list", "--workflow", "two-steps") == 0
    assert "RUNNING PAUSED" in _flat(capsys.readouterr().out)
    assert _cli(server, "executions", "get", execution_id, "-o", "json") == 0
    assert json.loads(capsys.readouterr().out)["paused"] is True

    resumed = client.resume_execution(execution_id, "go on")
    assert not resumed.paused
    final = _wait_ended(client, execution_id)
    assert final.status is ExecutionStatus.SUCCEEDED and not final.paused
    assert [c.task_id for c in backend.calls] == ["first", "second"]

    events = _events(client, execution_id)
    controls = [(e.type, e.details.get("reason")) for e in events if "PAUSED" in e.type.value]
    assert controls == [
        (EventType.EXECUTION_PAUSED, "hold on"),
        (EventType.EXECUTION_UNPAUSED, "go on"),
    ]
    kinds = [(e.type, e.task_id) for e in events]
    unpaused = kinds.index((EventType.EXECUTION_UNPAUSED, ""))
    assert kinds.index((EventType.ATTEMPT_STARTED, "second")) > unpaused


def test_resume_through_the_cli_and_pause_of_an_ended_execution(
    server: ServerThread,
    client: OrchestratorClient,
    backend: FakeBackend,
    gate: Gate,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handle = client.start_execution("held")
    execution_id = handle.execution_id
    _until(lambda: len(backend.calls) == 1, "the attempt")
    assert handle.pause().paused
    assert _cli(server, "executions", "resume", execution_id, "-o", "json") == 0
    assert json.loads(capsys.readouterr().out)["paused"] is False
    gate.open.set()
    assert _wait_ended(client, execution_id).status is ExecutionStatus.SUCCEEDED

    for command in ("pause", "resume"):
        assert _cli(server, "executions", command, execution_id) == EXIT_REJECTED
        err = capsys.readouterr().err
        assert err.startswith("error: FAILED_PRECONDITION: ") and "SUCCEEDED" in err
    with pytest.raises(ClientError) as missing:
        client.pause_execution("no-such-execution")
    assert missing.value.code_name == "NOT_FOUND"


# -- signals ----------------------------------------------------------------------------------


def test_a_signal_to_an_ended_execution_is_a_failed_precondition(
    client: OrchestratorClient,
) -> None:
    handle = client.start_execution("quick")
    assert handle.result(timeout=10).status is ExecutionStatus.SUCCEEDED
    with pytest.raises(ClientError) as ended:
        client.signal_execution(handle.execution_id, "approve", {"user": "ann"})
    assert ended.value.code_name == "FAILED_PRECONDITION"
    assert [field for field, _ in ended.value.violations] == ["execution_id"]


@pytest.mark.parametrize("name", ["", "9lives", "has space", "x" * 64])
def test_a_bad_signal_name_is_an_invalid_argument_naming_name(
    client: OrchestratorClient, name: str
) -> None:
    execution_id = client.start_execution("held").execution_id
    with pytest.raises(ClientError) as bad:
        client.signal_execution(execution_id, name)
    assert bad.value.code_name == "INVALID_ARGUMENT"
    assert [field for field, _ in bad.value.violations] == ["name"]


def test_a_payload_the_api_cannot_carry_is_refused_naming_its_path(
    client: OrchestratorClient,
) -> None:
    execution_id = client.start_execution("held").execution_id
    with pytest.raises(ClientError) as bad:
        client.signal_execution(execution_id, "approve", {"score": float("nan")})
    assert bad.value.code_name == "INVALID_ARGUMENT"
    assert [field for field, _ in bad.value.violations] == ["payload.score"]


def test_a_signal_is_stored_once_per_request_id(
    server: ServerThread,
    client: OrchestratorClient,
    gate: Gate,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = client.start_execution("held").execution_id
    first = client.signal_execution(execution_id, "approve", {"user": "ann"}, "sig-1")
    again = client.signal_execution(execution_id, "approve", {"user": "ann"}, "sig-1")
    assert first.status is again.status is ExecutionStatus.RUNNING
    # Without a request id each call is a new signal (the client makes up a new id for each).
    client.signal_execution(execution_id, "nudge")
    client.signal_execution(execution_id, "nudge")
    assert _cli(server, "executions", "signal", execution_id, "nudge", "--request-id", "sig-1") == 0
    assert _flat(capsys.readouterr().out) == (
        f"signal nudge sent to execution {execution_id}: RUNNING"
    )
    gate.open.set()
    _wait_ended(client, execution_id)

    received = [e for e in _events(client, execution_id) if e.type is EventType.SIGNAL_RECEIVED]
    assert [e.details["name"] for e in received] == ["approve", "nudge", "nudge"]
    ids = [e.details["request_id"] for e in received]
    assert ids[0] == "sig-1" and len(set(ids)) == 3 and all(ids)


def test_signal_payloads_from_the_command_line(
    server: ServerThread, client: OrchestratorClient, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    execution_id = client.start_execution("held").execution_id
    payload_file = tmp_path / "payload.json"
    payload_file.write_text('{"user": "bob", "notes": ["ok"]}')
    assert _cli(
        server, "executions", "signal", execution_id, "approve", "--payload", '{"user": "ann"}'
    ) == 0  # fmt: skip
    assert _cli(
        server, "executions", "signal", execution_id, "approve", "--payload-file",
        str(payload_file), "-o", "json",
    ) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["execution_id"] == execution_id

    payload_file.write_text("{not json")
    assert _cli(
        server, "executions", "signal", execution_id, "approve", "--payload-file",
        str(payload_file),
    ) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith(f"error: --payload-file {payload_file}: not valid")
    assert _cli(server, "executions", "signal", execution_id, "bad name") == EXIT_REJECTED
    assert capsys.readouterr().err.startswith("error: INVALID_ARGUMENT: name: must be 1-63")
    client.cancel_execution(execution_id, "done")
    received = [
        e.details["name"]
        for e in _events(client, execution_id)
        if e.type is EventType.SIGNAL_RECEIVED
    ]
    assert received == ["approve", "approve"]


def test_a_task_waiting_for_a_signal_takes_its_payload_as_output(
    server: ServerThread, client: OrchestratorClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.create_workflow(APPROVAL)
    execution_id = client.start_execution("approval").execution_id
    _until(
        lambda: client.get_execution(execution_id).tasks["approve"].status is TaskStatus.RUNNING,
        "the task to wait",
    )
    assert _cli(
        server, "executions", "signal", execution_id, "approve", "--payload", '{"user": "ann"}',
        "--request-id", "approval-1",
    ) == 0  # fmt: skip
    capsys.readouterr()
    final = _wait_ended(client, execution_id)
    assert final.status is ExecutionStatus.SUCCEEDED
    assert final.tasks["approve"].output == {"user": "ann"}
    assert final.outputs == {"by": "ann"}
    # Sent again with the same request id (a retry): nothing more is stored.
    with pytest.raises(ClientError) as ended:
        client.signal_execution(execution_id, "approve", {"user": "ann"}, "approval-1")
    assert ended.value.code_name == "FAILED_PRECONDITION"
    received = [e for e in _events(client, execution_id) if e.type is EventType.SIGNAL_RECEIVED]
    assert len(received) == 1


def test_a_signal_sent_before_its_task_waits_is_kept(
    client: OrchestratorClient, backend: FakeBackend, gate: Gate
) -> None:
    client.create_workflow(EARLY_APPROVAL)
    execution_id = client.start_execution("early-approval").execution_id
    _until(lambda: len(backend.calls) == 1, "the build attempt")
    client.signal_execution(execution_id, "approve", {"user": "bob"})
    assert client.get_execution(execution_id).tasks["approve"].status is TaskStatus.PENDING
    gate.open.set()
    final = _wait_ended(client, execution_id)
    assert final.status is ExecutionStatus.SUCCEEDED
    assert final.tasks["approve"].output == {"user": "bob"}


# -- skip reasons -----------------------------------------------------------------------------


def test_executions_get_says_why_a_task_was_skipped(
    server: ServerThread, client: OrchestratorClient, capsys: pytest.CaptureFixture[str]
) -> None:
    final = client.start_execution("broken").result(timeout=10)
    assert final.status is ExecutionStatus.FAILED
    ship = final.tasks["ship"]
    assert ship.status is TaskStatus.SKIPPED and ship.error is not None
    assert ship.error.type == "UpstreamFailed"
    assert _cli(server, "executions", "get", final.execution_id) == 0
    out = _flat(capsys.readouterr().out)
    assert f"skipped: {ship.error.message}" in out
    assert "RuntimeError: compiler crashed" in out


# -- helpers ----------------------------------------------------------------------------------


def _wait_ended(client: OrchestratorClient, execution_id: str) -> ExecutionRecord:
    _until(lambda: client.get_execution(execution_id).status.terminal, "the execution to end")
    return client.get_execution(execution_id)
