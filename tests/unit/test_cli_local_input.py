"""Local input the CLI reads (a definition, a policy or problem file, stdin, a history CSV) that
it cannot use is one line and exit 2, never a traceback or a hang; nothing is sent."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from controlplane.cli.main import EXIT_USAGE, main

NOWHERE = ["--address", "127.0.0.1:1"]  # nothing is listening: a call would exit 3, not 2


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def billion_laughs(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels + 1):
        text += f"l{level}: &l{level} [{','.join([f'*l{level - 1}'] * 9)}]\n"
    return text


@pytest.mark.parametrize("command", [["workflows", "create"], ["workflows", "validate"], ["run"]])
def test_a_definition_that_is_not_utf8_is_refused(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_bytes(b"name: x\ntasks: \xff\xfe\n")
    assert main([*NOWHERE, *command, str(path)]) == EXIT_USAGE
    assert f"cannot read {path}: not UTF-8 text (at byte 15)" in one_error_line(capsys)


def test_stdin_that_is_not_utf8_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\x80name: x"), "utf-8"))
    assert main([*NOWHERE, "run", "-"]) == EXIT_USAGE
    assert "cannot read stdin: not UTF-8 text (at byte 0)" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (billion_laughs(), "expands to more than"),
        ("a: " + "[" * 5000 + "]" * 5000, "nesting depth"),
        ('{"a":' * 100_000, "nested deeper than"),
        ("min_replicas: 1\nmin_replicas: 2\n", "duplicate key"),
    ],
)
def test_a_policy_file_is_read_strictly_and_within_a_budget(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(content)
    started = time.monotonic()
    assert main([*NOWHERE, "scaling", "policy", "set", "work", "--file", str(path)]) == EXIT_USAGE
    assert time.monotonic() - started < 10
    assert message in one_error_line(capsys)


def test_a_problem_file_nested_too_deeply_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "problem.json"
    path.write_text('{"a":' + "[" * 100_000)
    assert main([*NOWHERE, "plan", "--problem", str(path)]) == EXIT_USAGE
    assert "is nested too deeply" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"agent,kind,size,duration\n", "no records"),
        (b"agent,kind,size,duration\na,k,1,2\na,k,1,nan\n", "line 3: duration must be a finite"),
        (b"agent,kind,size,duration\na,k,-1,2\n", "line 2: size must be a finite number >= 0"),
        (b"agent,kind,size,duration\na,k,1,soon\n", "line 2: duration 'soon' is not a number"),
        (b"\xff\xfe\x00\x01", "not a UTF-8 CSV file"),
    ],
)
def test_a_bad_attempt_history_names_the_file_and_line(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.csv"
    path.write_bytes(content)
    argv = ["ml", "train-durations", "--history", str(path), "--out", str(tmp_path / "m.joblib")]
    assert main(argv) == EXIT_USAGE
    err = one_error_line(capsys)
    assert str(path) in err and message in err
