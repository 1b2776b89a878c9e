"""`orchestrator executions modify` against a real server (the in-process backend): operations in
the order the flags are given, usage errors naming the flag, refusals naming the flag that made
the operation, and the EXECUTION_MODIFIED event as `executions watch` prints it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.cli.main import EXIT_REJECTED, EXIT_USAGE, main
from controlplane.cli.render import event_text
from models.executions import Event, EventType, ExecutionStatus, TaskStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import Gate
from tests.unit.test_modify_execution_api import (  # noqa: F401  (the fixtures)
    _ended,
    backend_fixture,
    client_fixture,
    gate_fixture,
    running_fixture,
    server_fixture,
    stuck_fixture,
)


def _cli(server: ServerThread, *argv: str) -> int:
    return main([*argv, "--address", server.address])


def _flat(text: str) -> str:
    return " ".join(text.split())  # table cells and event lines may wrap


ADD_EXTRA = json.dumps(
    {
        "id": "extra",
        "agent": "work",
        "input": {"n": 1},
        "depends_on": ["build"],
        "timeout": "5m",
        "retry": {"max_attempts": 2, "initial_interval": "10ms"},
    }
)


def test_flags_become_one_change_applied_in_their_order(
    server: ServerThread,
    client: OrchestratorClient,
    running: str,
    gate: Gate,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _cli(
        server, "executions", "modify", running,
        "--force-when", "docs=true",
        "--skip", "lint",
        "--add-task", ADD_EXTRA,
        # Changes the task the flag before added: the order of the flags is kept.
        "--update-task", '{"id": "extra", "input": {"n": 2}}',
        "--set", "inputs.cfg.mode=release",
        "--remove", "test",
        "--reason", "ship it",
        "--request-id", "cli-1",
    )  # fmt: skip
    assert code == 0
    assert _flat(capsys.readouterr().out) == (
        f"6 operations applied to execution {running}: RUNNING"
    )
    gate.open.set()
    final = _ended(client, running)
    assert final.status is ExecutionStatus.SUCCEEDED, final.error
    assert "test" not in final.tasks
    assert final.tasks["extra"].output == {"n": 2}
    assert final.tasks["extra"].depends_on == ("build",)
    assert final.tasks["build"].output == {"mode": "release"}
    assert final.tasks["docs"].status is TaskStatus.SUCCEEDED

    assert _cli(server, "executions", "watch", running) == 0
    out = _flat(capsys.readouterr().out)
    assert (
        "EXECUTION_MODIFIED - by ipv4:127.0.0.1:" in out
        and ': "ship it": force docs when=true; skip lint; add extra (agent work, after build, '
        'input {"n":1}, timeout 5m, retry 2 attempts); update extra (input {"n":2}); '
        'set inputs.cfg.mode = "release"; remove test'
        in out
    )
    # `executions get` shows the execution as it is now, and why lint did not run.
    assert _cli(server, "executions", "get", running) == 0
    assert "skipped: ship it" in _flat(capsys.readouterr().out)


def test_json_output_and_a_refusal_naming_the_flag(
    server: ServerThread, running: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(server, "executions", "modify", running, "--skip", "lint", "--reason", "r",
                "-o", "json") == 0  # fmt: skip
    answer = json.loads(capsys.readouterr().out)
    assert {t["task_id"]: t["status"] for t in answer["tasks"]}["lint"] == "SKIPPED"

    code = _cli(
        server, "executions", "modify", running,
        "--set", "inputs.cfg.docs=true",
        "--update-task", '{"id": "later", "input": 1}',
        "--add-task", '{"id": "later", "agent": "work"}',
        "--reason", "wrong order",
    )  # fmt: skip
    assert code == EXIT_REJECTED
    err = _flat(capsys.readouterr().err)
    assert err.startswith("error: INVALID_ARGUMENT: no task 'later' (")
    assert "operations[1].update_task.task_id: not a task of this execution" in err
    assert err.endswith("""where operations[1] is --update-task {"id": "later", "input": 1}""")

    assert _cli(server, "executions", "modify", running, "--skip", "gate",
                "--reason", "r") == EXIT_REJECTED  # fmt: skip
    err = _flat(capsys.readouterr().err)
    assert err.startswith("error: FAILED_PRECONDITION: task 'gate' is RUNNING")
    assert err.endswith("where operations[0] is --skip gate")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "error: give at least one operation: --skip, --remove, --add-task"),
        (["--skip", " "], "error: --skip: expected a task id"),
        (["--add-task", "{nope"], "error: --add-task {nope: not valid JSON"),
        (["--add-task", "[1]"], "error: --add-task [1]: expected a JSON object"),
        (["--add-task", '{"agent": "work"}'], 'error: --add-task {"agent": "work"}: id: required'),
        (["--add-task", '{"id": "x"}'], "error: --add-task x: agent: required"),
        (
            ["--add-task", '{"id": "x", "agnet": "work"}'],
            "error: --add-task x: unknown field 'agnet'; did you mean 'agent'?",
        ),
        (
            ["--add-task", '{"id": "x", "agent": "w", "depends_on": "build"}'],
            "error: --add-task x: depends_on: expected a list of task ids",
        ),
        (
            ["--add-task", '{"id": "x", "agent": "w", "timeout": "soon"}'],
            "error: --add-task x: timeout: invalid duration 'soon'",
        ),
        (
            ["--add-task", '{"id": "x", "agent": "w", "retry": {"max_attempts": 0}}'],
            "error: --add-task x: retry.max_attempts: max_attempts must be >= 1, got 0",
        ),
        (
            ["--update-task", '{"id": "x", "agent": "w"}'],
            "error: --update-task x: unknown field 'agent'",
        ),
        (["--update-task", '{"id": "x"}'], "error: --update-task x: give input, timeout or retry"),
        (["--set", "cfg.mode=1"], "error: --set cfg.mode=1: expected inputs.PATH=VALUE"),
        (["--set", "inputs.x"], "error: --set inputs.x: expected inputs.PATH=VALUE"),
        (["--set", "inputs.x=NaN"], "error: --set inputs.x: nan is not a JSON number"),
        (["--force-when", "docs=maybe"], "error: --force-when docs=maybe: expected TASK=true"),
        (["--force-when", "=true"], "error: --force-when =true: expected TASK=true"),
    ],
)
def test_a_bad_flag_is_a_usage_error_naming_it(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing is sent: no server is needed.
    argv = ["executions", "modify", "e1", *flags, "--reason", "r", "--address", "127.0.0.1:9"]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.startswith(message)


def test_the_reason_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executions", "modify", "e1", "--skip", "a", "--address", "127.0.0.1:9"]) == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err


def _modified(details: dict[str, Any]) -> str:
    event = Event("e1", 7, EventType.EXECUTION_MODIFIED, 1_700_000_000.0, details=details)
    return _flat(event_text(event).plain)


def test_a_modification_event_reads_as_who_why_and_what() -> None:
    line = _modified(
        {
            "caller": "ipv4:10.0.0.5:4242",
            "reason": "hotfix",
            "request_id": "r1",
            "operations": [
                {"kind": "update_task", "task_id": "t", "has_input": True, "input": "x" * 100},
                {"kind": "update_task", "task_id": "u", "timeout_s": 90.0, "retry": None},
                {"kind": "set_value", "path": "inputs.n", "value": 3},
                {"kind": "force_condition", "task_id": "d", "condition": False},
                {"kind": "rename_task", "task_id": "v"},  # from a newer server
            ],
        }
    )
    assert 'by ipv4:10.0.0.5:4242: "hotfix": update t (input "' in line
    assert "characters)" in line  # a long value is cut, saying how long it was
    assert line.endswith(
        "update u (timeout 1m30s); set inputs.n = 3; force d when=false; rename_task v"
    )
    assert _modified({}).endswith("EXECUTION_MODIFIED - by unknown caller")
