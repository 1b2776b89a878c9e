"""`orchestrator` against real gRPC servers prints any stored value without a traceback: values
a store kept from before the value domain (NaN, ±Infinity, 1e308, 2**63, huge strings, non-BMP
text, written here into SQLite directly), and answers of a server of another version (NaN in a
Struct, an enum value this side does not know)."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.api.codec.workflows import execution_to_proto
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.cli.main import EXIT_FAILED, main
from models.agents import AgentSpec
from models.executions import ExecutionRecord, ExecutionStatus, TaskRecord, TaskStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

WORKFLOW = """
name: echo
inputs: {word: {type: string}}
tasks:
  - {id: say, agent: work, input: "${inputs.word}"}
outputs: {said: "${tasks.say.output}"}
"""
HUGE = 200_000  # long for a table, short enough to travel inline (256 KiB)
LEGACY = {
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "max": 1e308,
    "big": 2**63,
    "huge": "h" * HUGE,
    "emoji": "\U0001f600\U00010348",
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=FakeBackend(), overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:Work"))
        yield server
    finally:
        server.stop()


def legacy_execution(
    server: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    """An execution run through the CLI, whose stored values are then replaced by values the
    value domain refuses today, as an older server could have written them."""
    definition = tmp_path / "echo.yaml"
    definition.write_text(WORKFLOW)
    code, out, _ = run_cli(
        capsys, "--address", server.address, "run", str(definition), "-i", "word=hi", "--wait",
        "-o", "json",
    )  # fmt: skip
    assert code == 0
    execution_id: str = strict_json(out)["execution_id"]
    stored = json.dumps(LEGACY)  # the standard library writes NaN and Infinity
    error = json.dumps({"type": "Legacy", "message": "e" * HUGE, "task_id": "say"})
    with sqlite3.connect(tmp_path / "orchestrator.db", timeout=30) as db:
        db.execute(
            "UPDATE executions SET outputs=?, inputs=?, error=? WHERE execution_id=?",
            (stored, json.dumps({"word": math.nan}), error, execution_id),
        )
        db.execute("UPDATE tasks SET output=? WHERE execution_id=?", (stored, execution_id))
        db.execute("UPDATE events SET details=? WHERE execution_id=?", (stored, execution_id))
    return execution_id


def test_stored_values_json_cannot_carry_print_as_valid_json(
    server: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = legacy_execution(server, tmp_path, capsys)
    address = ("--address", server.address)

    code, out, _ = run_cli(capsys, *address, "executions", "get", execution_id, "-o", "json")
    assert code == 0
    got = strict_json(out)
    for values in (got["outputs"], got["tasks"][0]["output"]):
        assert values["nan"] is None and values["inf"] is None and values["minus_inf"] is None
        assert values["max"] == 1e308 and values["big"] == float(2**63)
        assert values["huge"] == "h" * HUGE and values["emoji"] == "\U0001f600\U00010348"
    assert got["inputs"] == {"word": None}

    code, out, _ = run_cli(capsys, *address, "executions", "list", "-o", "json")
    assert code == 0
    assert [e["execution_id"] for e in strict_json(out)] == [execution_id]

    code, out, err = run_cli(capsys, *address, "executions", "watch", execution_id, "-o", "json")
    assert code == 0 and "nan=null" in err  # the events, on stderr
    assert strict_json(out)["outputs"]["nan"] is None


def test_stored_values_print_shortened_in_tables(
    server: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = legacy_execution(server, tmp_path, capsys)
    address = ("--address", server.address)

    code, out, _ = run_cli(capsys, *address, "executions", "get", execution_id)
    assert code == 0
    assert execution_id in out and "\U0001f600" in out
    assert f"({HUGE}characters)" in "".join(out.split())  # rich may wrap anywhere
    assert "NaN" not in out  # the server sent null for it
    assert len(out) < 20_000

    code, out, _ = run_cli(capsys, *address, "executions", "list")
    assert code == 0 and execution_id in out


# -- a server of another version ----------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


class OtherVersion(workflow_pb2_grpc.WorkflowServiceServicer):
    """Answers with what this version's codec never sends: NaN and infinities in Structs, and
    (for the execution `odd`) a status number it does not know."""

    def GetExecution(self, request: Any, context: grpc.ServicerContext) -> Any:
        record = ExecutionRecord(
            request.execution_id,
            "wf",
            1,
            ExecutionStatus.SUCCEEDED,
            inputs={},
            create_time=1.0,
            outputs={"score": 0.0, "deep": nested(15)},
            tasks={"t": TaskRecord("t", "work", TaskStatus.SUCCEEDED, output=[0.0])},
        )
        message = execution_to_proto(record)
        message.outputs.fields["score"].number_value = math.nan
        message.tasks[0].output.list_value.values[0].number_value = -math.inf
        if request.execution_id == "odd":
            message.status = 99
        return workflow_pb2.GetExecutionResponse(execution=message)


@pytest.fixture
def other_version() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    workflow_pb2_grpc.add_WorkflowServiceServicer_to_server(OtherVersion(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def test_non_finite_numbers_from_another_server_print(
    other_version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "--address", other_version, "executions", "get", "x", "-o", "json"
    )
    assert code == 0
    got = strict_json(out)
    assert got["outputs"] == {"score": None, "deep": nested(15)}
    assert got["tasks"][0]["output"] == [None]

    code, out, _ = run_cli(capsys, "--address", other_version, "executions", "get", "x")
    assert code == 0 and "NaN" in out and "-Infinity" in out


def test_an_answer_the_cli_cannot_read_is_one_line(
    other_version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--address", other_version, "executions", "get", "odd")
    assert code == EXIT_FAILED and out == ""
    assert err.startswith("error: executions failed: UnknownEnumValue: execution.status: 99")
    assert err.count("\n") == 1
