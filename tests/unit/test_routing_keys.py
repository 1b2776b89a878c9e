"""Routing keys from the task input, and agent specs stored before the health, breaker and
load-balancing settings existed."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from controlplane.store.codec import dump_agent_spec, load_agent_spec
from controlplane.workflow.routing_keys import key_template_problem, routing_key
from models.agents import AgentSpec
from models.replica_health import LoadBalancing, LoadBalancingStrategy


@pytest.mark.parametrize(
    ("template", "task_input", "key"),
    [
        ("${input.user}", {"user": "s-1"}, "s-1"),
        ("${input.user.id}/${input.items[1]}", {"user": {"id": 7}, "items": ["a", "b"]}, "7/b"),
        ("${input}", "whole", "whole"),
        ("${input.obj}", {"obj": {"b": 1, "a": [True, None]}}, '{"a":[true,null],"b":1}'),
        ("tenant-${input.t}", {"t": "x"}, "tenant-x"),
        ("$${input.t}-${input.t}", {"t": "x"}, "${input.t}-x"),
        # Missing values route without a key.
        ("${input.user}", {"other": 1}, ""),
        ("${input.items[5]}", {"items": [1]}, ""),
        ("${input.a.b}", {"a": "text"}, ""),
        ("${input.user}", None, ""),
        ("", {"user": "s"}, ""),
    ],
)
def test_routing_key(template: str, task_input: object, key: str) -> None:
    assert routing_key(template, task_input) == key


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("${input.user}", None),
        ("a-${input.x[0]}-b", None),
        ("user", "must reference the task's input"),
        ("${inputs.user}", "must start with 'input'"),
        ("${tasks.a.output}", "must start with 'input'"),
        ("${input.}", "malformed reference"),
        ("${input.a", "unclosed reference"),
        ("${}", "empty reference"),
    ],
)
def test_key_template_problems(template: str, problem: str | None) -> None:
    found = key_template_problem(template)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_specs_round_trip_through_the_store_and_old_rows_take_the_defaults() -> None:
    spec = AgentSpec(
        "coder",
        "v1",
        "m:A",
        load_balancing=LoadBalancing(LoadBalancingStrategy.ROUND_ROBIN),
    )
    assert load_agent_spec(dump_agent_spec(spec)) == spec
    old = asdict(AgentSpec("coder", "v1", "m:A"))
    for key in ("health_check", "circuit_breaker", "load_balancing"):
        del old[key]
    assert load_agent_spec(json.dumps(old)) == AgentSpec("coder", "v1", "m:A")
