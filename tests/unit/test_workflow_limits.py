"""The `limits` settings on workflows and executions, through a real control plane (real
SQLite, in-process backend): each refusal names its setting, values up to the setting pass,
and a workflow stored under wider settings stays readable after they are lowered."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from controlplane.config import MAX_VALUE_DEPTH, ConfigError, LimitsConfig
from controlplane.workflow import validate_workflow
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.errors import InvalidArgument
from models.executions import ExecutionStatus
from models.limits import DEFAULT_LIMITS, WorkflowLimits, byte_size
from models.values import MAX_WIRE_DEPTH
from models.workflows import Severity
from tests.unit.engine_runs import config, finished, start
from tests.unit.fake_backend import FakeBackend


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def serve(tmp_path: Path, settings: Mapping[str, object], body: Any) -> None:
    async def main() -> None:
        cp = ControlPlane(config(tmp_path).override(settings), FakeBackend())
        await cp.start()
        try:
            for name in ("worker", "w"):
                await cp.agents.deploy(AgentSpec(name=name, version="v1", import_path="m:W"))
            await body(cp)
        finally:
            await cp.stop()

    asyncio.run(main())


def test_the_engine_defaults_are_the_settings_defaults() -> None:
    assert MAX_VALUE_DEPTH == MAX_WIRE_DEPTH
    settings = LimitsConfig()
    for name in WorkflowLimits.__dataclass_fields__:
        assert getattr(DEFAULT_LIMITS, name) == getattr(settings, name), name


@pytest.mark.parametrize(
    ("name", "value"),
    [("value_depth", 31), ("value_depth", 0), ("burst", 0), ("requests_per_second", 0.0)],
)
def test_a_setting_out_of_range_names_itself(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"limits.{name}"):
        LimitsConfig(**{name: value})


def test_a_definition_over_the_size_limit_is_refused_naming_it(tmp_path: Path) -> None:
    async def body(cp: ControlPlane) -> None:
        text = "name: big\ntasks: [{id: a, agent: worker}]\n# " + "x" * 2200
        with pytest.raises(InvalidArgument) as refused:
            await cp.catalog.create(text)
        assert refused.value.violations[0].field == "definition"
        assert "above limits.definition_bytes (2 KiB)" in str(refused.value)
        assert cp.store.workflow_names("default") == set()

    serve(tmp_path, {"limits.definition_bytes": 2048}, body)


def test_byte_sizes_read_well() -> None:
    assert byte_size(1 << 20) == "1 MiB"
    assert byte_size(int(2.1 * (1 << 20))) == "2.1 MiB"
    assert byte_size(900) == "900 bytes"


def test_tasks_over_the_limit_are_refused_before_they_are_checked() -> None:
    tasks = ", ".join(f"{{id: t{i}, agent: w, bogus: 1}}" for i in range(4))
    text = f"name: wide\ntasks: [{tasks}]\nfinally: [{{id: f, agent: w}}]\n"
    definition, problems = validate_workflow(
        text, limits=WorkflowLimits(tasks_per_workflow=4), unknown_agent_severity=Severity.ERROR
    )
    assert definition is None
    assert [(p.path, p.message) for p in problems] == [
        ("tasks", "5 tasks (finally tasks included), above limits.tasks_per_workflow (4)")
    ]
    definition, _ = validate_workflow(
        "name: ok\ntasks: [{id: a, agent: w}]\n", limits=WorkflowLimits(tasks_per_workflow=1)
    )
    assert definition is not None


def test_value_depth_follows_its_setting_in_definitions_and_inputs(tmp_path: Path) -> None:
    deep_default = f"name: deep\ninputs: {{x: {{type: any, default: {nested(6)}}}}}\n"
    deep_default = deep_default.replace("'", '"') + "tasks: [{id: a, agent: worker}]\n"
    shallow = (
        "name: shallow\ninputs: {x: {type: any}}\n"
        'tasks: [{id: a, agent: worker, input: "${inputs.x}"}]\n'
    )

    async def body(cp: ControlPlane) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await cp.catalog.create(deep_default)
        assert "nested deeper than limits.value_depth (5 levels)" in str(refused.value.violations)
        await cp.catalog.create(shallow)
        with pytest.raises(InvalidArgument) as refused:
            await cp.executions.start("shallow", 0, {"x": nested(6)}, "")
        violation = refused.value.violations[0]
        assert violation.field.startswith("inputs.x")
        assert "limits.value_depth (5 levels)" in violation.description
        record, _ = await cp.executions.start("shallow", 0, {"x": nested(5)}, "")
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED, done.error

    serve(tmp_path, {"limits.value_depth": 5}, body)


def test_a_deeper_setting_lets_deeper_values_through_the_wire(tmp_path: Path) -> None:
    """At the highest setting a value still fits every message that carries it."""
    from controlplane.api.client import OrchestratorClient

    text = (
        "name: deep\ninputs: {x: {type: any}}\n"
        'tasks: [{id: a, agent: worker, input: "${inputs.x}"}]\n'
        'outputs: {y: "${tasks.a.output}"}\n'
    )

    async def body(cp: ControlPlane) -> None:
        await cp.catalog.create(text)

        def over_the_wire() -> Any:
            with OrchestratorClient(cp.address, timeout_s=20) as client:
                handle = client.start_execution("deep", {"x": nested(29)})
                done = handle.result(timeout=20)
                events = list(client.watch_execution(done.execution_id))
                return done, events

        done, events = await asyncio.to_thread(over_the_wire)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.outputs == {"y": nested(29)}
        assert events[-1].type.name == "EXECUTION_SUCCEEDED"

    serve(tmp_path, {"limits.value_depth": 30}, body)


FAN_OUT = """
name: fan
inputs: {items: {type: array}}
tasks:
  - {id: each, agent: worker, for_each: "${inputs.items}", input: "${item}"}
"""


def test_a_for_each_over_its_limit_fails_naming_it(tmp_path: Path) -> None:
    async def body(cp: ControlPlane) -> None:
        done = await finished(cp, await start(cp, FAN_OUT, {"items": [1, 2, 3, 4]}))
        assert done.status is ExecutionStatus.FAILED
        error = done.tasks["each"].error
        assert error is not None and error.type == "InvalidItems"
        assert "limits.for_each_items (3)" in error.message and "4 items" in error.message
        done = await finished(cp, await start(cp, FAN_OUT.replace("fan", "fan2"), {"items": [1]}))
        assert done.status is ExecutionStatus.SUCCEEDED

    serve(tmp_path, {"limits.for_each_items": 3}, body)


ENDLESS = """
name: endless
tasks:
  - id: spin
    agent: worker
    loop: {until: "false", max_iterations: 1000}
finally:
  - {id: tidy, agent: worker}
"""


def test_an_execution_that_reaches_the_event_limit_fails_naming_it(tmp_path: Path) -> None:
    async def echo(value: Any, request: AttemptRequest) -> Any:
        return {"ok": True}

    async def body(cp: ControlPlane) -> None:
        backend: Any = cp.backend
        backend.behaviours["worker"] = echo
        execution_id = await start(cp, ENDLESS)
        done = await finished(cp, execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.type == "EventLimitExceeded"
        assert "limits.events_per_execution (60)" in done.error.message
        # The finally task ran after the stop; the history stays bounded.
        assert done.tasks["tidy"].status.name == "SUCCEEDED"
        assert done.tasks["spin"].status.name == "CANCELLED"
        events = cp.store.read_events(execution_id, limit=10_000)
        assert 60 <= len(events) <= 60 + 100

    serve(tmp_path, {"limits.events_per_execution": 60}, body)


def test_a_modification_is_held_to_the_limits(tmp_path: Path) -> None:
    from models.modifications import Operation, OperationKind

    waiting = (
        "name: held\ntasks:\n  - {id: gate, wait_for_signal: go}\n"
        "  - {id: b, agent: worker, depends_on: [gate]}\n"
    )

    async def body(cp: ControlPlane) -> None:
        execution_id = await start(cp, waiting)
        add = Operation(OperationKind.ADD_TASK, task_id="c", agent="worker", input=nested(4))
        with pytest.raises(InvalidArgument, match=r"limits.value_depth \(3 levels\)"):
            await cp.executions.modify(execution_id, [add])
        add = Operation(OperationKind.ADD_TASK, task_id="c", agent="worker")
        with pytest.raises(InvalidArgument, match=r"limits.tasks_per_workflow \(2\)"):
            await cp.executions.modify(execution_id, [add])
        await cp.executions.cancel(execution_id, "done")

    serve(tmp_path, {"limits.value_depth": 3, "limits.tasks_per_workflow": 2}, body)


def test_a_stored_workflow_stays_readable_after_the_limits_are_lowered(tmp_path: Path) -> None:
    deep = str(nested(8)).replace("'", '"')
    text = f"name: kept\ntasks: [{{id: a, agent: worker, input: {deep}}}, {{id: b, agent: w}}]\n"

    async def store(cp: ControlPlane) -> None:
        await cp.catalog.create(text)

    async def read_back(cp: ControlPlane) -> None:
        revision = cp.catalog.get("kept")
        assert len((await cp.catalog.load_definition(revision)).tasks) == 2
        assert len(cp.catalog.definition(revision).tasks) == 2
        with pytest.raises(InvalidArgument):
            await cp.catalog.create(text.replace("kept", "again"))

    serve(tmp_path, {}, store)
    serve(tmp_path, {"limits.tasks_per_workflow": 1, "limits.value_depth": 4}, read_back)
