"""`heartbeat_timeout` in workflow definitions: a duration of at least a second, refused with
the path of the task that gives it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from controlplane.workflow.definition import validate_workflow
from models.workflows import Severity


def _definition(heartbeat_timeout: Any) -> str:
    tasks: list[dict[str, Any]] = [{"id": name, "agent": "worker"} for name in ("a", "b")]
    tasks.append({"id": "c", "agent": "worker", "heartbeat_timeout": heartbeat_timeout})
    return yaml.safe_dump({"name": "long", "tasks": tasks}, sort_keys=False)


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30.0), ("1m30s", 90.0), (5, 5.0), ("1s", 1.0), (2.5, 2.5)]
)
def test_heartbeat_timeout_is_a_duration(value: Any, seconds: float) -> None:
    definition, problems = validate_workflow(_definition(value))
    assert problems == [] and definition is not None
    assert definition.task("c").heartbeat_timeout_s == seconds
    assert definition.task("a").heartbeat_timeout_s is None  # heartbeats are optional


def test_null_heartbeat_timeout_means_none() -> None:
    definition, problems = validate_workflow(_definition(None))
    assert problems == [] and definition is not None
    assert definition.task("c").heartbeat_timeout_s is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "invalid duration 'soon'"),
        (True, "invalid duration True"),
        ("-5s", "must not be negative"),
        ("500ms", "heartbeat_timeout '500ms' is shorter than 1s"),
        (0, "heartbeat_timeout 0 is shorter than 1s"),
        ([1], "invalid duration [1]"),
    ],
)
def test_bad_heartbeat_timeout_is_refused_with_its_path(value: Any, message: str) -> None:
    definition, problems = validate_workflow(_definition(value))
    assert definition is None
    errors = {p.path: p.message for p in problems if p.severity is Severity.ERROR}
    assert list(errors) == ["tasks[2].heartbeat_timeout"]
    assert message in errors["tasks[2].heartbeat_timeout"]


def test_misspelt_heartbeat_timeout_gets_a_hint() -> None:
    text = _definition("10s").replace("heartbeat_timeout", "heartbeat_timout")
    _, problems = validate_workflow(text)
    assert [(p.path, p.message) for p in problems] == [
        (
            "tasks[2].heartbeat_timout",
            "unknown field 'heartbeat_timout'; did you mean 'heartbeat_timeout'?",
        )
    ]
