"""Checking execution inputs against a workflow's declared input parameters."""

from __future__ import annotations

import copy
from typing import Any

from models.values import MAX_DEPTH, value_problems
from models.workflows import ValidationProblem, WorkflowDefinition

INPUT_TYPES = ("string", "number", "integer", "boolean", "object", "array", "any")


def json_type_name(value: Any) -> str:
    """The JSON-ish name of a Python value, as used in problem messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def matches_type(value: Any, type_name: str) -> bool:
    """Whether `value` fits an input type. bool is never a number.

    A float with an integral value counts as an integer, because protobuf Struct (used by
    the gRPC API) carries every number as a double.
    """
    if type_name == "any":
        return True
    if isinstance(value, bool):
        return type_name == "boolean"
    if type_name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return isinstance(value, int | float)
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "object": dict,
        "array": (list, tuple),
    }
    kind = expected.get(type_name)
    return kind is not None and isinstance(value, kind)


def _normalize(value: Any, type_name: str) -> Any:
    if type_name == "integer" and isinstance(value, float):
        return int(value)
    return value


def check_inputs(
    defn: WorkflowDefinition, inputs: dict[str, Any] | None, max_depth: int = MAX_DEPTH
) -> tuple[dict[str, Any], list[ValidationProblem]]:
    """Apply defaults and type-check `inputs` (each nested at most `max_depth`, the setting
    limits.value_depth); returns (resolved inputs, problems).

    The resolved dict holds every declared input: given values (integral floats for
    `integer` inputs become ints), else a copy of the default (None when an optional
    input has no default), so `${inputs.NAME}` always resolves for declared names.
    """
    given = inputs or {}
    resolved: dict[str, Any] = {}
    problems: list[ValidationProblem] = []
    for name, param in defn.inputs.items():
        path = f"inputs.{name}"
        if name in given:
            value = given[name]
            bad = value_problems(value, path, max_depth)
            if bad:
                problems.extend(ValidationProblem(p.path, p.description) for p in bad)
            elif matches_type(value, param.type):
                resolved[name] = _normalize(value, param.type)
            else:
                problems.append(
                    ValidationProblem(path, f"expected {param.type}, got {json_type_name(value)}")
                )
        elif param.required:
            problems.append(ValidationProblem(path, "missing required input"))
        else:
            resolved[name] = copy.deepcopy(param.default)
    for name in given:
        if name not in defn.inputs:
            declared = ", ".join(defn.inputs) or "none"
            problems.append(
                ValidationProblem(
                    f"inputs.{name}", f"unknown input '{name}' (declared: {declared})"
                )
            )
    return resolved, problems
