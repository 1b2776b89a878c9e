"""An EXECUTION_MODIFIED event as one readable line: who changed the execution, why, and
each operation in a few words (`skip lint; add package (agent packer, after build)`)."""

from __future__ import annotations

from typing import Any

from controlplane.cli.json_text import display_text
from controlplane.cli.quantities import number, seconds_text

VALUE_CHARS = 40
REASON_CHARS = 200


def modification_text(details: dict[str, Any]) -> str:
    """`by CALLER: "REASON": op; op; ...` from the event's details (whatever a server of
    another version left out is left out here too)."""
    said = f"by {display_text(details.get('caller') or 'unknown caller', 80)}"
    reason = details.get("reason")
    if reason:
        said += f": {_value(reason, REASON_CHARS)}"
    operations = details.get("operations")
    if not isinstance(operations, list):
        return said
    shown = "; ".join(operation_text(op) for op in operations if isinstance(op, dict))
    return f"{said}: {shown}" if shown else said


def operation_text(op: dict[str, Any]) -> str:
    kind = str(op.get("kind", "?"))
    task = display_text(op.get("task_id") or "?", 60)
    if kind == "skip_task":
        return f"skip {task}"
    if kind == "remove_task":
        return f"remove {task}"
    if kind == "force_condition":
        return f"force {task} when={'true' if op.get('condition') else 'false'}"
    if kind == "set_value":
        return f"set {display_text(op.get('path', '?'), 80)} = {_value(op.get('value'))}"
    if kind == "add_task":
        parts = [f"agent {display_text(op.get('agent', '?'), 60)}"]
        depends_on = op.get("depends_on")
        if isinstance(depends_on, list) and depends_on:
            parts.append("after " + ", ".join(display_text(d, 60) for d in depends_on))
        if op.get("input") is not None:
            parts.append(f"input {_value(op['input'])}")
        return f"add {task} ({', '.join(parts + _limits(op))})"
    if kind == "update_task":
        parts = [f"input {_value(op.get('input'))}"] if op.get("has_input") else []
        return f"update {task} ({', '.join(parts + _limits(op)) or 'no change'})"
    return f"{display_text(kind, 40)} {task}"


def _limits(op: dict[str, Any]) -> list[str]:
    parts = []
    timeout = op.get("timeout_s")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        parts.append(f"timeout {seconds_text(float(timeout))}")
    retry = op.get("retry")
    if isinstance(retry, dict):
        attempts = retry.get("max_attempts")
        shown = number(attempts) if isinstance(attempts, int | float) else "?"
        parts.append(f"retry {shown} attempts")
    return parts


def _value(value: Any, limit: int = VALUE_CHARS) -> str:
    """JSON, cut; a string in quotes (so that `"3"` and `3` differ)."""
    shown = display_text(value, limit)
    return f'"{shown}"' if isinstance(value, str) else shown


def task_count_change(details: dict[str, Any]) -> int:
    """How many tasks the execution gained (added less removed)."""
    operations = details.get("operations")
    if not isinstance(operations, list):
        return 0
    kinds = [op.get("kind") for op in operations if isinstance(op, dict)]
    return kinds.count("add_task") - kinds.count("remove_task")
