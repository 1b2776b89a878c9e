"""Turning command-line text into values: JSON values, KEY=VALUE assignments, statuses (argparse
`type=` callables) and the error line (pure: no I/O, no gRPC, no heavy imports). Numbers,
durations, ports and addresses are in `arg_types`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from typing import Any

from models.executions import ExecutionStatus
from models.values import MAX_WIRE_DEPTH, value_problems


class _NotCarried(Exception):
    """JSON text holding what no JSON value carries (NaN, Infinity, 1e400, nesting too deep)."""


def _int_or_infinity(text: str) -> int | float:
    # An integer beyond a double is as uncarried as 1e400: infinity, refused below.
    value = int(text)
    if abs(value) <= sys.float_info.max:
        return value
    return -math.inf if value < 0 else math.inf


def _load_json(text: str) -> Any:
    """The JSON value of `text`; ValueError when it is not JSON, _NotCarried when it is but
    holds what the API cannot carry."""
    try:
        value = json.loads(text, parse_int=_int_or_infinity)
    except RecursionError:
        raise _NotCarried("is nested too deeply") from None
    problems = value_problems(value, "", MAX_WIRE_DEPTH, None)
    if problems:
        where = f"{problems[0].path} " if problems[0].path else ""
        raise _NotCarried(f"{where}{problems[0].description}")
    return value


def parse_value(text: str) -> Any:
    """JSON when the text parses as JSON (`3`, `true`, `[1]`, `{"a": 1}`), else the string.

    ValueError for JSON the API cannot carry (`NaN`, `1e400`, nesting too deep)."""
    try:
        return _load_json(text)
    except _NotCarried as exc:
        raise ValueError(str(exc)) from None
    except ValueError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` -> (key, parsed value); argparse `type=` callable (bad text: usage error)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, parse_value(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc}") from None


def parse_text_pair(text: str) -> tuple[str, str]:
    """`NAME=VALUE` -> (NAME, VALUE), the value kept as text; argparse `type=` callable."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def parse_env_var(text: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (KEY, VALUE) with the value kept as text (an environment variable)."""
    key, value = parse_text_pair(text)
    if any(c.isspace() for c in key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def assignments_to_dict(pairs: Iterable[tuple[str, Any]] | None) -> dict[str, Any]:
    """Later assignments of the same key win."""
    return dict(pairs or ())


def parse_json_object(text: str) -> dict[str, Any]:
    """argparse `type=` callable for a JSON object such as `--runtime-env '{"env_vars": {}}'`."""
    try:
        value = _load_json(text)
    except _NotCarried as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def json_value(text: str) -> Any:
    """The JSON value `text` holds; ValueError saying why when it holds none, or one the API
    cannot carry."""
    try:
        return _load_json(text)
    except _NotCarried as exc:
        raise ValueError(str(exc)) from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None


def parse_json_value(text: str) -> Any:
    """argparse `type=` callable for any JSON value, e.g. `--payload '{"user": "ann"}'`
    (strict: text that is not JSON is a usage error, not a string)."""
    try:
        return json_value(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def error_line(code_name: str, message: str, violations: Iterable[tuple[str, str]] = ()) -> str:
    """The single line printed to stderr for a failed call.

    `error: NOT_FOUND: workflow 'x' not found (name: not found)`; a violation already spelled
    out in the message is not repeated.
    """
    message = " ".join(message.split())
    extra = [f"{f}: {d}" for f, d in violations if f"{f}: {d}" not in message]
    suffix = f" ({'; '.join(extra)})" if extra else ""
    return f"error: {code_name}: {message}{suffix}"
