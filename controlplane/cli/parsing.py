"""Turning command-line text into values: argparse `type=` callables and the error line (pure:
no I/O, no gRPC, no heavy imports)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from models.executions import ExecutionStatus


def parse_value(text: str) -> Any:
    """JSON when the text parses as JSON (`3`, `true`, `[1]`, `{"a": 1}`), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` -> (key, parsed value); argparse `type=` callable (bad text: usage error)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, parse_value(value)


def assignments_to_dict(pairs: Iterable[tuple[str, Any]] | None) -> dict[str, Any]:
    """Later assignments of the same key win."""
    return dict(pairs or ())


def parse_json_object(text: str) -> dict[str, Any]:
    """argparse `type=` callable for a JSON object such as `--runtime-env '{"env_vars": {}}'`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def parse_status(text: str) -> ExecutionStatus:
    """`failed`, `FAILED` or `EXECUTION_STATUS_FAILED` -> ExecutionStatus.FAILED."""
    name = text.strip().upper().removeprefix("EXECUTION_STATUS_")
    try:
        return ExecutionStatus(name)
    except ValueError:
        choices = ", ".join(s.value for s in ExecutionStatus)
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r} (choose from {choices})"
        ) from None


def duration_arg(text: str) -> float:
    """Seconds from `30s`, `5m`, `1h30m`, `500ms` or a bare number (argparse `type=`)."""
    # Imported here: the workflow package (YAML, definitions) is not needed to build the parser.
    from models.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_duration(text: str) -> float:
    """Seconds from `30s`, `5m`, `1h`, `1h30m`, `500ms` or a bare number of seconds; > 0."""
    seconds = duration_arg(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than zero, got {text!r}")
    return seconds


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value:g}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def fraction_arg(text: str) -> float:
    """A number strictly between 0 and 1 (an interval level, a probability)."""
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.9), got {value:g}")
    return value


def utilization_arg(text: str) -> float:
    """A number in (0, 1]: a target utilisation may be 100%."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def count_arg(text: str) -> int:
    """A whole number of at least 1 (steps, origins, workers)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def error_line(code_name: str, message: str, violations: Iterable[tuple[str, str]] = ()) -> str:
    """The single line printed to stderr for a failed call.

    `error: NOT_FOUND: workflow 'x' not found (name: not found)`; a violation already spelled
    out in the message is not repeated.
    """
    message = " ".join(message.split())
    extra = [f"{f}: {d}" for f, d in violations if f"{f}: {d}" not in message]
    suffix = f" ({'; '.join(extra)})" if extra else ""
    return f"error: {code_name}: {message}{suffix}"
