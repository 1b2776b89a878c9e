"""A definition's `inputs:` section: the parameters an execution is started with."""

from __future__ import annotations

import re
from typing import Any

from controlplane.workflow.inputs import INPUT_TYPES, json_type_name, matches_type
from controlplane.workflow.reporter import Reporter
from models.workflows import InputParameter

# Input names must be addressable by `${inputs.NAME}`.
_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PARAM_KEYS = ("type", "default", "required", "description")


def parse_inputs(raw: Any, report: Reporter) -> dict[str, InputParameter] | None:
    """The parameters by name; None when the section is unreadable."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report.error("inputs", f"expected object of input parameters, got {json_type_name(raw)}")
        return None
    params: dict[str, InputParameter] = {}
    for key, spec in raw.items():
        name = str(key)
        path = f"inputs.{name}"
        if not _INPUT_NAME.fullmatch(name):
            report.error(path, f"invalid input name {name!r}: use letters, digits, '_', '-'")
        param = _parameter(name, spec, path, report)
        if param is not None:
            params[name] = param
    return params


def _parameter(name: str, spec: Any, path: str, report: Reporter) -> InputParameter | None:
    if spec is None:
        return InputParameter(name)
    if isinstance(spec, str):  # shorthand: `project: string`
        spec = {"type": spec}
    if not isinstance(spec, dict):
        report.error(path, f"expected object or type name, got {json_type_name(spec)}")
        return None
    report.unknown_keys(spec, _PARAM_KEYS, path)
    type_name = spec.get("type", "any")
    if type_name not in INPUT_TYPES:
        report.error(
            f"{path}.type",
            f"unknown type {type_name!r}; expected one of {', '.join(INPUT_TYPES)}",
        )
        return None
    if "description" in spec:
        report.expect(f"{path}.description", spec["description"], "string")
    has_default = "default" in spec
    default = spec.get("default")
    if default is not None and not matches_type(default, type_name):
        report.error(f"{path}.default", f"expected {type_name}, got {json_type_name(default)}")
    required = not has_default
    if "required" in spec and report.expect(f"{path}.required", spec["required"], "boolean"):
        if spec["required"] and has_default:
            report.error(f"{path}.required", "an input with a default cannot be required")
        required = bool(spec["required"]) and not has_default
    return InputParameter(name, str(type_name), required, default)
