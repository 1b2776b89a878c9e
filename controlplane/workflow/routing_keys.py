"""The routing key of an attempt: an agent's ``load_balancing.hash_key`` template resolved
against the task's input.

A template holds literal text and references rooted at ``input`` (the task's resolved input):
``${input.user_id}``, ``${input.user.tenant}/${input.items[0]}``. A string value is used as
it is, any other as its JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from controlplane.workflow.references import Reference, parse_path, parse_template

ROOT = "input"


def _input_reference(body: str) -> Reference:
    parts = parse_path(body)
    if parts[0] != ROOT:
        raise ValueError(
            f"reference '${{{body}}}' must start with '{ROOT}' (the task's input), "
            f"e.g. ${{{ROOT}.user_id}}"
        )
    return Reference(ROOT, None, tuple(parts[1:]), body)


def key_template_problem(template: str) -> str | None:
    """Why `template` is not a routing-key template (None if it is one)."""
    try:
        parts = parse_template(template, _input_reference)
    except ValueError as exc:
        return str(exc)
    if not any(isinstance(part, Reference) for part in parts):
        return f"must reference the task's input, e.g. ${{{ROOT}.user_id}}"
    return None


def routing_key(template: str, task_input: Any) -> str:
    """The key of this input; "" when the template is empty or the input lacks a referenced
    value (the attempt then routes without a key)."""
    if not template:
        return ""
    try:
        parts = parse_template(template, _input_reference)
    except ValueError:
        return ""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
            continue
        found, value = _lookup(task_input, part.path)
        if not found:
            return ""
        pieces.append(value if isinstance(value, str) else _json(value))
    return "".join(pieces)


def _lookup(value: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    for step in path:
        field = isinstance(step, str) and isinstance(value, dict) and step in value
        item = isinstance(step, int) and isinstance(value, list | tuple) and step < len(value)
        if not (field or item):
            return False, None
        value = value[step]
    return True, value


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
