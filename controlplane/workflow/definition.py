"""Parsing and validating workflow definitions (YAML or JSON text).

Validation never stops at the first mistake: every problem is collected with the path
of the offending field (`tasks[1].retry.max_interval`), so a user can fix them in one go.
"""

from __future__ import annotations

import hashlib
from typing import Any

from controlplane.workflow.inputs import json_type_name
from controlplane.workflow.inputs_section import parse_inputs
from controlplane.workflow.loader import DEFINITION_DEPTH_MARGIN, parse_text
from controlplane.workflow.references import find_reference_problems
from controlplane.workflow.reporter import MAX_NAME_LENGTH, WORKFLOW_NAME, Reporter
from controlplane.workflow.task_draft import Catalog, DefinitionContext, TaskDraft
from controlplane.workflow.task_graph import check_graph
from controlplane.workflow.task_resources import check_placement_refs
from controlplane.workflow.task_section import parse_task_list
from models.limits import DEFAULT_LIMITS, WorkflowLimits, setting
from models.values import ValueProblem, value_problems
from models.workflows import (
    FailureMode,
    Severity,
    TaskDefinition,
    ValidationProblem,
    WorkflowDefinition,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "DefinitionError",
    "definition_digest",
    "finally_order",
    "parse_workflow",
    "topological_order",
    "validate_workflow",
]

_TOP_KEYS = (
    "name",
    "description",
    "timeout",
    "failure_mode",
    "inputs",
    "tasks",
    "finally",
    "outputs",
)
_FAILURE_MODES = ", ".join(mode.value for mode in FailureMode)


class DefinitionError(ValueError):
    """An invalid definition; `problems` holds every ERROR found."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        lines = "; ".join(f"{p.path or '<definition>'}: {p.message}" for p in problems)
        super().__init__(f"invalid workflow definition: {lines}")
        self.problems = problems


def definition_digest(text: str) -> str:
    """sha256 hex of the text exactly as given (no normalisation)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_workflow(text: str, limits: WorkflowLimits = DEFAULT_LIMITS) -> WorkflowDefinition:
    """Parse a definition or raise DefinitionError listing all errors (warnings ignored)."""
    defn, problems = validate_workflow(text, limits=limits)
    if defn is None:
        raise DefinitionError([p for p in problems if p.severity is Severity.ERROR])
    return defn


def validate_workflow(
    text: str,
    known_agents: set[str] | None = None,
    unknown_agent_severity: Severity = Severity.WARNING,
    known_workflows: set[str] | None = None,
    unknown_workflow_severity: Severity = Severity.ERROR,
    limits: WorkflowLimits = DEFAULT_LIMITS,
) -> tuple[WorkflowDefinition | None, list[ValidationProblem]]:
    """Return (definition or None if any ERROR, every problem found).

    Agents and child workflows are checked against `known_agents` / `known_workflows` when
    given (None: not checked); a workflow naming itself as a child is always an error. Task
    count and value nesting are held to `limits`.
    """
    problems: list[ValidationProblem] = []
    data = _load(text, problems, limits)
    if data is None:
        return None, problems
    catalog = Catalog(
        known_agents, unknown_agent_severity, known_workflows, unknown_workflow_severity
    )
    defn = _check(data, Reporter(problems), catalog)
    has_errors = any(p.severity is Severity.ERROR for p in problems)
    return (None if has_errors else defn), problems


def topological_order(defn: WorkflowDefinition) -> list[str]:
    """Task ids so that every task follows its dependencies.

    Ties keep definition order, wave by wave, so the result is deterministic.
    """
    return _order(defn.tasks)


def finally_order(defn: WorkflowDefinition) -> list[str]:
    """The finally tasks' ids in the same way; their dependencies on regular tasks, all done
    by then, do not count."""
    return _order(defn.finally_tasks)


def _order(tasks: tuple[TaskDefinition, ...]) -> list[str]:
    ids = {task.id for task in tasks}
    remaining = {task.id: set(task.depends_on) & ids for task in tasks}
    order: list[str] = []
    while remaining:
        ready = [task_id for task_id, deps in remaining.items() if not deps]
        if not ready:
            raise ValueError(f"dependency cycle among tasks: {', '.join(remaining)}")
        for task_id in ready:
            order.append(task_id)
            del remaining[task_id]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


# --- loading ---------------------------------------------------------------------------


def _load(
    text: str, problems: list[ValidationProblem], limits: WorkflowLimits
) -> dict[str, Any] | None:
    if not isinstance(text, str):
        problems.append(ValidationProblem("", "definition must be text"))
        return None
    if not text.strip():
        problems.append(ValidationProblem("", "definition is empty"))
        return None
    text_depth = limits.value_depth + DEFINITION_DEPTH_MARGIN
    try:
        data = parse_text(text, text_depth)
    except ValueError as exc:
        problems.append(ValidationProblem("", str(exc)))
        return None
    if not isinstance(data, dict):
        problems.append(
            ValidationProblem("", f"definition must be a mapping, got {json_type_name(data)}")
        )
        return None
    bad_values = value_problems(data, "", text_depth, None) or _value_depth_problems(
        data, limits.value_depth
    )
    if bad_values:
        problems.extend(ValidationProblem(p.path, p.description) for p in bad_values)
        return None
    if (too_many := _task_count_problem(data, limits.tasks_per_workflow)) is not None:
        problems.append(too_many)
        return None
    return data


def _task_count_problem(data: dict[str, Any], limit: int) -> ValidationProblem | None:
    """Checked before any task is: the work of validating grows with the count."""
    count = sum(len(data[key]) for key in ("tasks", "finally") if isinstance(data.get(key), list))
    if count <= limit:
        return None
    return ValidationProblem(
        "tasks",
        f"{count:,} tasks (finally tasks included), above {setting('tasks_per_workflow', limit)}",
    )


def _value_depth_problems(data: Any, depth: int) -> list[ValueProblem]:
    """Defaults, task inputs and outputs are values, each held to the value domain's depth."""
    found: list[ValueProblem] = []
    if isinstance(data.get("inputs"), dict):
        for name, spec in data["inputs"].items():
            if isinstance(spec, dict) and "default" in spec:
                found += value_problems(spec["default"], f"inputs.{name}.default", depth)
    for key in ("tasks", "finally"):
        if not isinstance(data.get(key), list):
            continue
        for index, task in enumerate(data[key]):
            if not isinstance(task, dict):
                continue
            if "input" in task:
                found += value_problems(task["input"], f"{key}[{index}].input", depth)
            compensate = task.get("compensate")
            if isinstance(compensate, dict) and "input" in compensate:
                path = f"{key}[{index}].compensate.input"
                found += value_problems(compensate["input"], path, depth)
    if "outputs" in data:
        found += value_problems(data["outputs"], "outputs", depth)
    return found


# --- checking --------------------------------------------------------------------------


def _check(data: dict[str, Any], report: Reporter, catalog: Catalog) -> WorkflowDefinition | None:
    report.unknown_keys(data, _TOP_KEYS, "")
    name = _workflow_name(data, report)
    description = data.get("description")
    if description is not None and not report.expect("description", description, "string"):
        description = None
    raw_timeout = data.get("timeout")
    timeout = None if raw_timeout is None else report.duration("timeout", raw_timeout)
    failure_mode = _failure_mode(data.get("failure_mode"), report)
    raw_inputs = data.get("inputs")
    inputs = parse_inputs(raw_inputs, report)
    context = DefinitionContext(
        report=report,
        catalog=catalog,
        workflow_name=name,
        input_names=None if inputs is None else {str(key) for key in raw_inputs or {}},
        inputs=inputs or {},
    )
    tasks = parse_task_list(data, "tasks", context)
    finals = parse_task_list(data, "finally", context)
    check_graph(tasks, finals, report)
    check_placement_refs(((d.base, d.id, d.placement) for d in (*tasks, *finals)), report.error)
    _outputs(data.get("outputs"), tasks, finals, context)
    if name is None or inputs is None:
        return None
    return WorkflowDefinition(
        name=name,
        tasks=tuple(d.build() for d in tasks),
        inputs=inputs,
        outputs=data.get("outputs"),
        timeout_s=timeout,
        description=description or "",
        failure_mode=failure_mode,
        finally_tasks=tuple(d.build() for d in finals),
    )


def _workflow_name(data: dict[str, Any], report: Reporter) -> str | None:
    if "name" not in data:
        report.error("name", "missing required field 'name'")
        return None
    return report.name("name", data["name"], WORKFLOW_NAME)


def _failure_mode(raw: Any, report: Reporter) -> FailureMode:
    if raw is None:
        return FailureMode.CONTINUE
    for mode in FailureMode:
        if raw == mode.value:
            return mode
    report.error("failure_mode", f"unknown failure mode {raw!r}; expected one of {_FAILURE_MODES}")
    return FailureMode.CONTINUE


def _outputs(
    raw: Any, tasks: list[TaskDraft], finals: list[TaskDraft], context: DefinitionContext
) -> None:
    """Outputs read inputs and regular tasks (finally tasks run after they are known)."""
    regular = {d.id for d in tasks if d.id is not None}
    final = {d.id for d in finals if d.id is not None}
    refs, problems = find_reference_problems(raw, "outputs")
    context.report.extend(problems)
    for location, ref in refs:
        if ref.root == "inputs":
            names = context.input_names
            if names is not None and ref.path[0] not in names:
                context.report.error(
                    location, f"{ref} references unknown workflow input '{ref.path[0]}'"
                )
        elif ref.root == "tasks" and ref.task_id in final:
            context.report.error(location, f"{ref} references finally task '{ref.task_id}'")
        elif ref.root == "tasks" and ref.task_id not in regular:
            context.report.error(location, f"{ref} references unknown task '{ref.task_id}'")
        elif ref.root != "tasks":
            context.report.error(location, f"{ref} is not available in outputs")
