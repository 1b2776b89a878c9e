"""Heartbeats of long attempts: the agent's progress details as a checked value.

An agent calls ``context.heartbeat(details)`` while an attempt runs; the control plane keeps the
last details per task (shown by GetExecution and the event stream, and handed to the next
attempt as ``context["last_heartbeat"]``). Details are a JSON object of the value domain and at
most MAX_DETAILS_BYTES of JSON text, so one task's details never crowd a response.
"""

from __future__ import annotations

from typing import Any

from models.values import MAX_DEPTH, json_text, value_problems

MAX_DETAILS_BYTES = 64 << 10
# The event that records heartbeat details is stored at most this often per attempt (and once
# more when the attempt ends with details not yet recorded).
RECORD_INTERVAL_S = 5.0
# Heartbeats reach the control plane from replicas about every 0.5 s: a shorter
# heartbeat_timeout would fire between two deliveries.
MIN_HEARTBEAT_TIMEOUT_S = 1.0
HEARTBEAT_TIMEOUT = "HeartbeatTimeout"


def details_text(details: Any) -> str:
    """The JSON text of heartbeat `details`; ValueError naming why they cannot be recorded."""
    if not isinstance(details, dict):
        raise ValueError(f"details must be an object or None, got {type(details).__name__}")
    problems = value_problems(details, "details", MAX_DEPTH, None)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"{first.path} {first.description}{more}")
    text = json_text(details)
    if len(text) > MAX_DETAILS_BYTES:
        raise ValueError(
            f"details are {len(text):,} bytes of JSON, over the {MAX_DETAILS_BYTES:,}-byte limit"
        )
    return text


def details_problem(details: Any) -> str | None:
    """Why `details` cannot be recorded as a heartbeat's details (None when they can)."""
    try:
        details_text(details)
    except ValueError as exc:
        return str(exc)
    return None
