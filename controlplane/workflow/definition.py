"""Parsing and validating workflow definitions (YAML or JSON text).

Validation never stops at the first mistake: every problem is collected with the path
of the offending field (`tasks[1].retry.max_interval`), so a user can fix them in one go.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from controlplane.workflow.inputs import INPUT_TYPES, json_type_name, matches_type
from controlplane.workflow.loader import MAX_DEFINITION_DEPTH, parse_text
from controlplane.workflow.references import Reference, find_reference_problems
from controlplane.workflow.task_resources import (
    check_placement_refs,
    parse_heartbeat_timeout,
    parse_placement,
    parse_priority,
    parse_resources,
)
from models.durations import parse_duration
from models.resources import ResourceAmounts
from models.values import ValueProblem, value_problems
from models.workflows import (
    InputParameter,
    PlacementConstraints,
    RetryPolicy,
    Severity,
    TaskDefinition,
    ValidationProblem,
    WorkflowDefinition,
)

MAX_NAME_LENGTH = 63
_WORKFLOW_NAME = re.compile(r"[a-z0-9]([-a-z0-9_]*[a-z0-9])?")
_TASK_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Input names must be addressable by `${inputs.NAME}`.
_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

_TOP_KEYS = ("name", "description", "timeout", "inputs", "tasks", "outputs")
_TASK_KEYS = (
    "id",
    "agent",
    "input",
    "depends_on",
    "timeout",
    "retry",
    "resources",
    "placement",
    "priority",
    "heartbeat_timeout",
)
_RETRY_KEYS = (
    "max_attempts",
    "initial_interval",
    "backoff_coefficient",
    "max_interval",
    "non_retryable_errors",
)
_PARAM_KEYS = ("type", "default", "required", "description")


class DefinitionError(ValueError):
    """An invalid definition; `problems` holds every ERROR found."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        lines = "; ".join(f"{p.path or '<definition>'}: {p.message}" for p in problems)
        super().__init__(f"invalid workflow definition: {lines}")
        self.problems = problems


def definition_digest(text: str) -> str:
    """sha256 hex of the text exactly as given (no normalisation)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_workflow(text: str) -> WorkflowDefinition:
    """Parse a definition or raise DefinitionError listing all errors (warnings ignored)."""
    defn, problems = validate_workflow(text)
    if defn is None:
        raise DefinitionError([p for p in problems if p.severity is Severity.ERROR])
    return defn


def validate_workflow(
    text: str,
    known_agents: set[str] | None = None,
    unknown_agent_severity: Severity = Severity.WARNING,
) -> tuple[WorkflowDefinition | None, list[ValidationProblem]]:
    """Return (definition or None if any ERROR, every problem found)."""
    problems: list[ValidationProblem] = []
    data = _load(text, problems)
    if data is None:
        return None, problems
    checker = _Checker(problems, known_agents, unknown_agent_severity)
    defn = checker.check(data)
    has_errors = any(p.severity is Severity.ERROR for p in problems)
    return (None if has_errors else defn), problems


def topological_order(defn: WorkflowDefinition) -> list[str]:
    """Task ids so that every task follows its dependencies.

    Ties keep definition order, wave by wave, so the result is deterministic.
    """
    remaining = {task.id: set(task.depends_on) for task in defn.tasks}
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


def _load(text: str, problems: list[ValidationProblem]) -> dict[str, Any] | None:
    if not isinstance(text, str):
        problems.append(ValidationProblem("", "definition must be text"))
        return None
    if not text.strip():
        problems.append(ValidationProblem("", "definition is empty"))
        return None
    try:
        data = parse_text(text)
    except ValueError as exc:
        problems.append(ValidationProblem("", str(exc)))
        return None
    if not isinstance(data, dict):
        problems.append(
            ValidationProblem("", f"definition must be a mapping, got {json_type_name(data)}")
        )
        return None
    bad_values = value_problems(data, "", MAX_DEFINITION_DEPTH) or _value_depth_problems(data)
    if bad_values:
        problems.extend(ValidationProblem(p.path, p.description) for p in bad_values)
        return None
    return data


def _value_depth_problems(data: Any) -> list[ValueProblem]:
    """Defaults, task inputs and outputs are values, each held to the value domain's depth."""
    found: list[ValueProblem] = []
    if isinstance(data.get("inputs"), dict):
        for name, spec in data["inputs"].items():
            if isinstance(spec, dict) and "default" in spec:
                found += value_problems(spec["default"], f"inputs.{name}.default")
    if isinstance(data.get("tasks"), list):
        for index, task in enumerate(data["tasks"]):
            if isinstance(task, dict) and "input" in task:
                found += value_problems(task["input"], f"tasks[{index}].input")
    if "outputs" in data:
        found += value_problems(data["outputs"], "outputs")
    return found


# --- checking --------------------------------------------------------------------------


@dataclass
class _Edge:
    dep: str
    path: str
    via_reference: bool


@dataclass
class _TaskDraft:
    """What was readable of one task; built into a TaskDefinition if all is well."""

    index: int
    id: str | None
    agent: str
    input: Any
    timeout_s: float | None
    retry: RetryPolicy
    edges: list[_Edge] = field(default_factory=list)
    depends_on: tuple[str, ...] = ()
    resources: ResourceAmounts = field(default_factory=ResourceAmounts)
    placement: PlacementConstraints = field(default_factory=PlacementConstraints)
    priority: int = 0
    heartbeat_timeout_s: float | None = None


class _Checker:
    def __init__(
        self,
        problems: list[ValidationProblem],
        known_agents: set[str] | None,
        unknown_agent_severity: Severity,
    ) -> None:
        self.problems = problems
        self.known_agents = known_agents
        self.unknown_agent_severity = unknown_agent_severity
        # None when the `inputs` section is unreadable: input references are then not
        # checked, to avoid one "unknown input" per reference on top of the real error.
        self.input_names: set[str] | None = set()

    def error(self, path: str, message: str) -> None:
        self.problems.append(ValidationProblem(path, message))

    # -- generic helpers

    def unknown_keys(self, data: dict[Any, Any], allowed: tuple[str, ...], base: str) -> None:
        for key in data:
            if key not in allowed:
                path = f"{base}.{key}" if base else str(key)
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suffix = f"; did you mean '{hint[0]}'?" if hint else ""
                self.error(path, f"unknown field '{key}'{suffix}")

    def expect(self, path: str, value: Any, type_name: str) -> bool:
        if matches_type(value, type_name):
            return True
        self.error(path, f"expected {type_name}, got {json_type_name(value)}")
        return False

    def duration(self, path: str, value: Any) -> float | None:
        """A positive duration, or None (after reporting) when it is not one."""
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None
        if seconds <= 0:
            self.error(path, f"duration {value!r} must be greater than zero")
            return None
        return seconds

    def name(self, path: str, value: Any, pattern: re.Pattern[str], rule: str) -> str | None:
        if not self.expect(path, value, "string"):
            return None
        if not pattern.fullmatch(value):
            self.error(path, f"invalid name {value!r}: {rule}")
        elif len(value) > MAX_NAME_LENGTH:
            self.error(path, f"name {value!r} is longer than {MAX_NAME_LENGTH} characters")
        return str(value)

    # -- top level

    def check(self, data: dict[str, Any]) -> WorkflowDefinition | None:
        self.unknown_keys(data, _TOP_KEYS, "")
        name = self.workflow_name(data)
        description = data.get("description")
        if description is not None and not self.expect("description", description, "string"):
            description = None
        raw_timeout = data.get("timeout")
        timeout = None if raw_timeout is None else self.duration("timeout", raw_timeout)
        inputs = self.inputs_section(data.get("inputs"))
        drafts = self.tasks_section(data)
        self.graph(drafts)
        check_placement_refs(((f"tasks[{d.index}]", d.id, d.placement) for d in drafts), self.error)
        self.outputs(data.get("outputs"), {d.id for d in drafts if d.id is not None})
        if name is None or inputs is None:
            return None
        return WorkflowDefinition(
            name=name,
            tasks=tuple(_build_task(d) for d in drafts),
            inputs=inputs,
            outputs=data.get("outputs"),
            timeout_s=timeout,
            description=description or "",
        )

    def workflow_name(self, data: dict[str, Any]) -> str | None:
        if "name" not in data:
            self.error("name", "missing required field 'name'")
            return None
        rule = (
            "use lowercase letters, digits, '-' and '_', starting and ending with a letter or digit"
        )
        return self.name("name", data["name"], _WORKFLOW_NAME, rule)

    # -- inputs

    def inputs_section(self, raw: Any) -> dict[str, InputParameter] | None:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error("inputs", f"expected object of input parameters, got {json_type_name(raw)}")
            self.input_names = None
            return None
        self.input_names = {str(key) for key in raw}
        params: dict[str, InputParameter] = {}
        for key, spec in raw.items():
            name = str(key)
            path = f"inputs.{name}"
            if not _INPUT_NAME.fullmatch(name):
                self.error(path, f"invalid input name {name!r}: use letters, digits, '_', '-'")
            param = self.input_param(name, spec, path)
            if param is not None:
                params[name] = param
        return params

    def input_param(self, name: str, spec: Any, path: str) -> InputParameter | None:
        if spec is None:
            return InputParameter(name)
        if isinstance(spec, str):  # shorthand: `project: string`
            spec = {"type": spec}
        if not isinstance(spec, dict):
            self.error(path, f"expected object or type name, got {json_type_name(spec)}")
            return None
        self.unknown_keys(spec, _PARAM_KEYS, path)
        type_name = spec.get("type", "any")
        if type_name not in INPUT_TYPES:
            self.error(
                f"{path}.type",
                f"unknown type {type_name!r}; expected one of {', '.join(INPUT_TYPES)}",
            )
            return None
        if "description" in spec:
            self.expect(f"{path}.description", spec["description"], "string")
        has_default = "default" in spec
        default = spec.get("default")
        if default is not None and not matches_type(default, type_name):
            self.error(f"{path}.default", f"expected {type_name}, got {json_type_name(default)}")
        required = not has_default
        if "required" in spec and self.expect(f"{path}.required", spec["required"], "boolean"):
            if spec["required"] and has_default:
                self.error(f"{path}.required", "an input with a default cannot be required")
            required = bool(spec["required"]) and not has_default
        return InputParameter(name, str(type_name), required, default)

    # -- tasks

    def tasks_section(self, data: dict[str, Any]) -> list[_TaskDraft]:
        if "tasks" not in data:
            self.error("tasks", "missing required field 'tasks'")
            return []
        raw = data["tasks"]
        if not isinstance(raw, list):
            self.error("tasks", f"expected a list of tasks, got {json_type_name(raw)}")
            return []
        if not raw:
            self.error("tasks", "a workflow needs at least one task")
        drafts = [self.task(i, item) for i, item in enumerate(raw)]
        return [d for d in drafts if d is not None]

    def task(self, index: int, raw: Any) -> _TaskDraft | None:
        base = f"tasks[{index}]"
        if not isinstance(raw, dict):
            self.error(base, f"expected a task object, got {json_type_name(raw)}")
            return None
        self.unknown_keys(raw, _TASK_KEYS, base)
        draft = _TaskDraft(
            index=index,
            id=self.task_id(base, raw),
            agent=self.agent(base, raw),
            input=raw.get("input"),
            timeout_s=None
            if raw.get("timeout") is None
            else self.duration(f"{base}.timeout", raw["timeout"]),
            retry=self.retry(f"{base}.retry", raw.get("retry")),
            resources=parse_resources(f"{base}.resources", raw.get("resources"), self.error),
            placement=parse_placement(f"{base}.placement", raw.get("placement"), self.error),
            priority=parse_priority(f"{base}.priority", raw.get("priority"), self.error),
            heartbeat_timeout_s=parse_heartbeat_timeout(
                f"{base}.heartbeat_timeout", raw.get("heartbeat_timeout"), self.error
            ),
        )
        draft.edges = self.explicit_edges(base, raw.get("depends_on"))
        draft.edges += self.reference_edges(f"{base}.input", draft.input)
        return draft

    def task_id(self, base: str, raw: dict[str, Any]) -> str | None:
        if "id" not in raw:
            self.error(f"{base}.id", "missing required field 'id'")
            return None
        rule = "start with a letter or '_', then letters, digits, '_' or '-'"
        return self.name(f"{base}.id", raw["id"], _TASK_ID, rule)

    def agent(self, base: str, raw: dict[str, Any]) -> str:
        path = f"{base}.agent"
        if "agent" not in raw:
            self.error(path, "missing required field 'agent'")
            return ""
        agent = raw["agent"]
        if not self.expect(path, agent, "string"):
            return ""
        if not agent.strip():
            self.error(path, "agent must not be empty")
        elif self.known_agents is not None and agent not in self.known_agents:
            self.problems.append(
                ValidationProblem(path, f"unknown agent '{agent}'", self.unknown_agent_severity)
            )
        return str(agent)

    def explicit_edges(self, base: str, raw: Any) -> list[_Edge]:
        if raw is None:
            return []
        path = f"{base}.depends_on"
        if not self.expect(path, raw, "array"):
            return []
        edges = []
        for i, dep in enumerate(raw):
            if self.expect(f"{path}[{i}]", dep, "string"):
                edges.append(_Edge(dep, f"{path}[{i}]", via_reference=False))
        return edges

    def reference_edges(self, base: str, value: Any) -> list[_Edge]:
        refs, problems = find_reference_problems(value, base)
        self.problems.extend(problems)
        self.check_input_refs(refs)
        return [
            _Edge(str(ref.task_id), location, via_reference=True)
            for location, ref in refs
            if ref.root == "tasks"
        ]

    def check_input_refs(self, refs: list[tuple[str, Reference]]) -> None:
        if self.input_names is None:
            return
        for location, ref in refs:
            if ref.root == "inputs" and ref.path[0] not in self.input_names:
                self.error(location, f"{ref} references unknown workflow input '{ref.path[0]}'")

    # -- retry

    def retry(self, path: str, raw: Any) -> RetryPolicy:
        default = RetryPolicy()
        if raw is None:
            return default
        if not isinstance(raw, dict):
            self.error(path, f"expected retry object, got {json_type_name(raw)}")
            return default
        self.unknown_keys(raw, _RETRY_KEYS, path)
        attempts = self.minimum(raw, path, "max_attempts", "integer", 1, default.max_attempts)
        backoff = self.minimum(
            raw, path, "backoff_coefficient", "number", 1, default.backoff_coefficient
        )
        initial = default.initial_interval_s
        if "initial_interval" in raw:
            initial = self.duration(f"{path}.initial_interval", raw["initial_interval"]) or initial
        # Without an explicit max_interval the cap grows to fit a large initial interval.
        maximum = max(default.max_interval_s, initial)
        if "max_interval" in raw:
            given = self.duration(f"{path}.max_interval", raw["max_interval"])
            if given is not None and given < initial:
                self.error(
                    f"{path}.max_interval",
                    f"max_interval ({given:g}s) must be >= initial_interval ({initial:g}s)",
                )
            maximum = given or maximum
        return RetryPolicy(
            max_attempts=int(attempts),
            initial_interval_s=initial,
            backoff_coefficient=float(backoff),
            max_interval_s=maximum,
            non_retryable_errors=self.error_names(path, raw.get("non_retryable_errors")),
        )

    def minimum(
        self, raw: dict[str, Any], path: str, key: str, type_name: str, low: float, default: float
    ) -> float:
        if key not in raw:
            return default
        value = raw[key]
        if not self.expect(f"{path}.{key}", value, type_name):
            return default
        if value < low:
            self.error(f"{path}.{key}", f"{key} must be >= {low}, got {value}")
            return default
        return float(value)

    def error_names(self, path: str, raw: Any) -> tuple[str, ...]:
        if raw is None:
            return ()
        path = f"{path}.non_retryable_errors"
        if not self.expect(path, raw, "array"):
            return ()
        return tuple(
            name for i, name in enumerate(raw) if self.expect(f"{path}[{i}]", name, "string")
        )

    # -- dependency graph

    def graph(self, drafts: list[_TaskDraft]) -> None:
        first: dict[str, _TaskDraft] = {}
        for draft in drafts:
            if draft.id is None:
                continue
            if draft.id in first:
                where = f"tasks[{first[draft.id].index}]"
                self.error(
                    f"tasks[{draft.index}].id",
                    f"duplicate task id '{draft.id}' (first defined at {where})",
                )
            else:
                first[draft.id] = draft
        edges: dict[str, list[_Edge]] = {}
        for draft in drafts:
            kept = self.dependencies(draft, first)
            draft.depends_on = tuple(edge.dep for edge in kept)
            if draft.id is not None and first[draft.id] is draft:
                edges[draft.id] = kept
        for cycle, path in _find_cycles(list(edges), edges):
            self.error(path, "dependency cycle: " + " -> ".join(cycle))

    def dependencies(self, draft: _TaskDraft, known: dict[str, _TaskDraft]) -> list[_Edge]:
        """Edges to existing other tasks, first occurrence of each dependency only."""
        kept: list[_Edge] = []
        seen: set[str] = set()
        for edge in draft.edges:
            if edge.dep == draft.id:
                what = "references its own output" if edge.via_reference else "depends on itself"
                self.error(edge.path, f"task '{draft.id}' {what}")
            elif edge.dep not in known:
                what = "references" if edge.via_reference else "depends on"
                self.error(edge.path, f"{what} unknown task '{edge.dep}'")
            elif edge.dep not in seen:
                seen.add(edge.dep)
                kept.append(edge)
        return kept

    # -- outputs

    def outputs(self, raw: Any, task_ids: set[str]) -> None:
        refs, problems = find_reference_problems(raw, "outputs")
        self.problems.extend(problems)
        self.check_input_refs(refs)
        for location, ref in refs:
            if ref.root == "tasks" and ref.task_id not in task_ids:
                self.error(location, f"{ref} references unknown task '{ref.task_id}'")


def _find_cycles(nodes: list[str], edges: dict[str, list[_Edge]]) -> list[tuple[list[str], str]]:
    """One (cycle, closing edge path) per back edge of an iterative depth-first search.

    `a -> b -> a` reads "a depends on b, which depends on a"; the path is where the last
    edge (b -> a) is written. Iterative so long chains cannot hit the recursion limit.
    """
    state: dict[str, int] = dict.fromkeys(nodes, 0)  # 0 new, 1 on the stack, 2 done
    cycles: list[tuple[list[str], str]] = []
    for root in nodes:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(edges.get(root, [])))]
        while stack:
            node, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                state[node] = 2
                stack.pop()
            elif state[edge.dep] == 1:
                on_stack = [name for name, _ in stack]
                cycle = [*on_stack[on_stack.index(edge.dep) :], edge.dep]
                cycles.append((cycle, edge.path))
            elif state[edge.dep] == 0:
                state[edge.dep] = 1
                stack.append((edge.dep, iter(edges.get(edge.dep, []))))
    return cycles


def _build_task(draft: _TaskDraft) -> TaskDefinition:
    return TaskDefinition(
        id=draft.id or "",
        agent=draft.agent,
        input=draft.input,
        depends_on=draft.depends_on,
        timeout_s=draft.timeout_s,
        retry=draft.retry,
        resources=draft.resources,
        placement=draft.placement,
        priority=draft.priority,
        heartbeat_timeout_s=draft.heartbeat_timeout_s,
    )
