"""Pure parts of the CLI: argument parsing, value parsing, error lines and exit codes."""

from __future__ import annotations

import argparse

import pytest

from controlplane.api.client import ClientError
from controlplane.api.codec.wellknown import plain_numbers
from controlplane.cli.main import EXIT_UNREACHABLE, main
from controlplane.cli.parser import build_parser
from controlplane.cli.parsing import (
    assignments_to_dict,
    error_line,
    parse_assignment,
    parse_json_object,
    parse_status,
    parse_value,
)
from controlplane.cli.server.demo import DEMO_AGENTS, run_demo, workflow_text
from controlplane.cli.server.serve import run_serve
from controlplane.workflow import parse_workflow, validate_workflow
from models.executions import ExecutionStatus
from models.workflows import Severity

# -- --input / --config values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('"3"', "3"),
        ("[1, 2]", [1, 2]),
        ('{"a": {"b": 1}}', {"a": {"b": 1}}),
        ("demo-shop", "demo-shop"),
        ("", ""),
        ("hello world", "hello world"),
        ("{not json", "{not json"),
    ],
)
def test_parse_value_is_json_when_it_parses_else_string(text: str, expected: object) -> None:
    assert parse_value(text) == expected


def test_parse_assignment_splits_on_first_equals() -> None:
    assert parse_assignment("n=3") == ("n", 3)
    assert parse_assignment("project=demo-shop") == ("project", "demo-shop")
    assert parse_assignment("expr=a=b") == ("expr", "a=b")
    assert parse_assignment("empty=") == ("empty", "")


@pytest.mark.parametrize("text", ["novalue", "=3", " =3", ""])
def test_parse_assignment_rejects_missing_key_or_equals(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_assignment(text)


def test_later_assignments_win() -> None:
    pairs = [parse_assignment("a=1"), parse_assignment("b=x"), parse_assignment("a=2")]
    assert assignments_to_dict(pairs) == {"a": 2, "b": "x"}
    assert assignments_to_dict(None) == {}


def test_parse_json_object() -> None:
    assert parse_json_object('{"env_vars": {"A": "1"}}') == {"env_vars": {"A": "1"}}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_json_object("[1]")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_json_object("{bad")


@pytest.mark.parametrize("text", ["failed", "FAILED", "execution_status_failed", " Failed "])
def test_parse_status_accepts_several_spellings(text: str) -> None:
    assert parse_status(text) is ExecutionStatus.FAILED


def test_parse_status_rejects_unknown() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="unknown status"):
        parse_status("done")


def test_struct_numbers_come_back_as_ints_when_integral() -> None:
    assert plain_numbers({"n": 3.0, "x": 2.5, "l": [1.0, {"k": 0.0}], "s": "3.0"}) == {
        "n": 3,
        "x": 2.5,
        "l": [1, {"k": 0}],
        "s": "3.0",
    }


# -- parser -----------------------------------------------------------------------------------


def test_run_collects_inputs() -> None:
    args = build_parser().parse_args(
        ["run", "wf.yaml", "--input", "n=3", "-i", "project=demo-shop", "--wait"]
    )
    assert args.file == "wf.yaml"
    assert assignments_to_dict(args.input) == {"n": 3, "project": "demo-shop"}
    assert args.wait is True
    assert args.request_id == ""


def test_execution_controls_take_their_arguments() -> None:
    args = build_parser().parse_args(
        ["executions", "signal", "ex-1", "approve", "--payload", '{"user": "ann"}',
         "--request-id", "r-1"]
    )  # fmt: skip
    assert (args.execution_id, args.name, args.request_id) == ("ex-1", "approve", "r-1")
    assert args.payload == {"user": "ann"} and args.payload_file == ""
    args = build_parser().parse_args(["executions", "signal", "ex-1", "go", "--payload", "3"])
    assert (args.payload, args.request_id) == (3, "")
    args = build_parser().parse_args(["executions", "signal", "ex-1", "go"])
    assert args.payload is None
    args = build_parser().parse_args(["executions", "signal", "e", "go", "--payload-file", "-"])
    assert args.payload_file == "-"
    for command in ("pause", "resume"):
        args = build_parser().parse_args(["executions", command, "ex-1", "--reason", "why"])
        assert (args.subcommand, args.execution_id, args.reason) == (command, "ex-1", "why")


def test_global_options_work_before_or_after_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ORCHESTRATOR_ADDRESS", raising=False)
    args = build_parser().parse_args(["agents", "list"])
    assert (args.address, args.output) == ("localhost:50051", "table")
    args = build_parser().parse_args(["--output", "json", "agents", "list"])
    assert args.output == "json"
    args = build_parser().parse_args(["agents", "list", "-o", "json", "--address", "h:1"])
    assert (args.address, args.output) == ("h:1", "json")


def test_address_defaults_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_ADDRESS", "cp.example:6000")
    assert build_parser().parse_args(["workflows", "list"]).address == "cp.example:6000"


def test_agents_deploy_arguments() -> None:
    args = build_parser().parse_args(
        [
            "agents", "deploy", "--name", "codegen", "--version", "1.0",
            "--import-path", "samples.agents:CodeGenAgent", "--replicas", "2",
            "--num-cpus", "0.5", "--max-concurrency", "4",
            "--capability", "code", "--capability", "python",
            "--config", "delay_s=0.1", "--config", "language=go",
            "--runtime-env", '{"env_vars": {"X": "1"}}',
        ]
    )  # fmt: skip
    assert args.replicas == 2
    assert args.num_cpus == 0.5
    assert args.max_concurrency == 4
    assert args.capability == ["code", "python"]
    assert assignments_to_dict(args.config) == {"delay_s": 0.1, "language": "go"}
    assert args.runtime_env == {"env_vars": {"X": "1"}}


def test_serve_and_demo_defaults() -> None:
    serve = build_parser().parse_args(["serve", "--port", "0", "--data-dir", "/tmp/x"])
    assert serve.runner.resolve() is run_serve
    assert (serve.port, serve.host, serve.ray_address) == (0, None, None)  # not given: None
    assert serve.sqlite_synchronous is None
    assert serve.no_dashboard is False
    serve = build_parser().parse_args(["serve", "--sqlite-synchronous", "normal"])
    assert serve.sqlite_synchronous == "NORMAL"
    demo = build_parser().parse_args(["demo"])
    assert demo.runner.resolve() is run_demo
    assert (demo.port, demo.keep, demo.ray_num_cpus) == (0, False, 2)
    assert demo.data_dir is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["agents"],
        ["bogus"],
        ["run"],
        ["run", "wf.yaml", "--input", "novalue"],
        ["agents", "scale", "codegen", "many"],
        ["agents", "scale", "codegen", "-1"],
        ["agents", "deploy", "--name", "x"],
        ["agents", "deploy", "--name", "x", "--version", "1", "--import-path", "m:C",
         "--runtime-env", "[]"],
        ["executions", "list", "--status", "done"],
        ["executions", "signal", "ex-1"],
        ["executions", "signal", "ex-1", "go", "--payload", "{not json"],
        ["executions", "signal", "ex-1", "go", "--payload", "NaN"],
        ["executions", "signal", "ex-1", "go", "--payload", "1", "--payload-file", "p.json"],
        ["executions", "pause"],
        ["--output", "xml", "agents", "list"],
        ["serve", "--sqlite-synchronous", "OFF"],
    ],
)  # fmt: skip
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("orchestrator") and " error: " in err and err.endswith(" -h)\n")
    assert err.count("\n") == 1


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "workflows" in capsys.readouterr().out


# -- errors -----------------------------------------------------------------------------------


def test_error_line_appends_violations() -> None:
    line = error_line("NOT_FOUND", "workflow 'x' not found", [("name", "not found")])
    assert line == "error: NOT_FOUND: workflow 'x' not found (name: not found)"


def test_error_line_joins_several_violations_and_skips_repeats() -> None:
    line = error_line(
        "INVALID_ARGUMENT",
        "agent.name: is required",
        [("agent.name", "is required"), ("agent.replicas", "must be between 0 and 1000")],
    )
    assert line == (
        "error: INVALID_ARGUMENT: agent.name: is required "
        "(agent.replicas: must be between 0 and 1000)"
    )


def test_error_line_is_one_line() -> None:
    line = error_line("INTERNAL", "boom\n  at somewhere\n")
    assert "\n" not in line
    assert line == "error: INTERNAL: boom at somewhere"
    assert error_line("UNAVAILABLE", "down") == "error: UNAVAILABLE: down"


def test_client_error_keeps_its_parts() -> None:
    exc = ClientError("NOT_FOUND", "agent 'a' not found", [("name", "no such agent")])
    assert (exc.code_name, exc.message, exc.violations) == (
        "NOT_FOUND",
        "agent 'a' not found",
        [("name", "no such agent")],
    )
    assert str(exc) == "NOT_FOUND: agent 'a' not found"


def test_unreadable_file_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # The file is read before any call, so no server is needed.
    assert main(["--address", "127.0.0.1:1", "workflows", "validate", "/no/such/file.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read /no/such/file.yaml")
    assert err.count("\n") == 1


def test_unreachable_server_is_one_line_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on loopback refuses connections immediately.
    assert (
        main(["--address", "127.0.0.1:1", "--timeout", "5", "agents", "list"]) == EXIT_UNREACHABLE
    )
    err = capsys.readouterr().err
    assert err.startswith("error: UNAVAILABLE: cannot reach the orchestrator at 127.0.0.1:1")
    assert err.count("\n") == 1


# -- the demo's packaged workflow -------------------------------------------------------------


def test_demo_workflow_is_packaged_and_valid() -> None:
    text = workflow_text()
    definition = parse_workflow(text)
    assert definition.name == "build-app"
    assert [t.id for t in definition.tasks] == ["frontend", "backend", "test"]
    assert set(definition.task("test").depends_on) == {"frontend", "backend"}
    agents = {spec.name for spec in DEMO_AGENTS}
    _, problems = validate_workflow(text, known_agents=agents)
    assert [p for p in problems if p.severity is Severity.ERROR] == []
    assert {t.agent for t in definition.tasks} <= agents
