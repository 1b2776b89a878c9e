"""What a proxy sends about an attempt: its context, its headers and its request id."""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from typing import Any

from models.agents import EndpointOptions


def request_id(context: Mapping[str, Any]) -> str:
    """The same for every call about one attempt (execute, polls, cancel) and different for
    every attempt, so that a service can deduplicate."""
    execution, task = context.get("execution_id", ""), context.get("task_id", "")
    return f"{execution}/{task}/{context.get('attempt', 0)}"


def rfc3339(epoch_s: float | None) -> str | None:
    """`2025-01-31T12:00:00.250Z` (UTC, milliseconds); None stays None."""
    if epoch_s is None:
        return None
    when = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wire_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The `context` object of the HTTP contract."""
    return {
        "execution_id": str(context.get("execution_id", "")),
        "task_id": str(context.get("task_id", "")),
        "attempt": int(context.get("attempt", 0)),
        "agent_version": str(context.get("agent_version", "")),
        "deadline": rfc3339(context.get("deadline")),
        "request_id": request_id(context),
        # The progress the previous attempt reported (null on a first attempt or none).
        "last_heartbeat": context.get("last_heartbeat"),
    }


def attempt_headers(context: Mapping[str, Any]) -> dict[str, str]:
    return {
        "X-Execution-ID": str(context.get("execution_id", "")),
        "X-Task-ID": str(context.get("task_id", "")),
        "X-Attempt": str(context.get("attempt", 0)),
        "X-Request-ID": request_id(context),
    }


class MissingEnvironment(RuntimeError):
    """A header's value names an environment variable the replica process does not have."""


def configured_headers(options: EndpointOptions) -> dict[str, str]:
    """The headers of the spec, those read from the environment included (read once, when the
    replica starts: a missing variable fails its start with the variable's name)."""
    headers = dict(options.headers)
    for name, variable in options.headers_from_env.items():
        value = os.environ.get(variable)
        if value is None:
            raise MissingEnvironment(
                f"environment variable {variable} (endpoint_options.headers_from_env[{name}])"
                " is not set in the replica's process"
            )
        headers[name] = value
    return headers
