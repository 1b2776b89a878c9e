"""Checks an agent's output before it is stored: it must be JSON and of bounded size, because
it is kept in the store, streamed in events and returned in GetExecution."""

from __future__ import annotations

import json
from typing import Any

from models.executions import ErrorInfo

MAX_OUTPUT_BYTES = 2 << 20


def output_problem(output: Any, limit: int = MAX_OUTPUT_BYTES) -> ErrorInfo | None:
    try:
        size = len(json.dumps(output, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        return ErrorInfo("OutputNotSerializable", f"agent output is not JSON: {exc}")
    if size > limit:
        return ErrorInfo("OutputTooLarge", f"agent output is {size} bytes (limit {limit})")
    return None
