"""Checks values the engine computed or received before they are stored: an agent's output, a
resolved task input, an execution's outputs. Each must be a JSON value (`models.values`) and an
output of bounded size, because it is kept in the store, streamed in events and returned in
GetExecution."""

from __future__ import annotations

import json
from typing import Any

from models.executions import ErrorInfo
from models.values import MAX_DEPTH, value_problems

MAX_OUTPUT_BYTES = 2 << 20


def value_error(
    value: Any, path: str, error_type: str, max_depth: int = MAX_DEPTH
) -> ErrorInfo | None:
    """A typed error naming where `value` leaves the JSON value domain (or is nested deeper
    than `max_depth`, the setting limits.value_depth); None if it does not."""
    problems = value_problems(value, path, max_depth)
    if not problems:
        return None
    listed = "; ".join(f"{p.path} {p.description}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ErrorInfo(error_type, f"{listed}{more}")


def output_problem(
    output: Any, limit: int = MAX_OUTPUT_BYTES, max_depth: int = MAX_DEPTH
) -> ErrorInfo | None:
    if (invalid := value_error(output, "output", "OutputNotSerializable", max_depth)) is not None:
        return invalid
    try:
        size = len(json.dumps(output, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        return ErrorInfo("OutputNotSerializable", f"agent output is not JSON: {exc}")
    if size > limit:
        return ErrorInfo("OutputTooLarge", f"agent output is {size} bytes (limit {limit})")
    return None
