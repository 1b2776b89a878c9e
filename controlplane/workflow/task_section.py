"""A definition's `tasks:` and `finally:` lists: each task's id, its kind (exactly one of
`agent`, `workflow`, `wait_for_signal`, `sleep`), the fields that apply to that kind, and the
dependencies it declares or references."""

from __future__ import annotations

from typing import Any

from controlplane.workflow.inputs import json_type_name
from controlplane.workflow.reporter import SIGNAL_NAME, TASK_ID, WORKFLOW_NAME
from controlplane.workflow.retry_section import parse_retry
from controlplane.workflow.task_control import CONTROL_KEYS, parse_controls
from controlplane.workflow.task_draft import (
    DefinitionContext,
    Edge,
    TaskDraft,
    check_agent,
    checked_references,
    scoped_roots,
    task_edges,
)
from controlplane.workflow.task_resources import (
    parse_heartbeat_timeout,
    parse_placement,
    parse_priority,
    parse_resources,
)
from models.workflows import TaskKind

# The key that makes a task of each kind, in the order a problem names them.
_KIND_KEYS = {
    "agent": TaskKind.AGENT,
    "workflow": TaskKind.WORKFLOW,
    "wait_for_signal": TaskKind.SIGNAL,
    "sleep": TaskKind.SLEEP,
}
_KIND_NAMES = {kind: key for key, kind in _KIND_KEYS.items()}
_AGENT_OR_WORKFLOW = (TaskKind.AGENT, TaskKind.WORKFLOW)
# Fields that mean something for some kinds only; the rest apply to every task.
_KINDS_OF_FIELD = {
    "input": _AGENT_OR_WORKFLOW,
    "retry": _AGENT_OR_WORKFLOW,
    "for_each": _AGENT_OR_WORKFLOW,
    "max_concurrency": _AGENT_OR_WORKFLOW,
    "allow_failures": _AGENT_OR_WORKFLOW,
    "loop": _AGENT_OR_WORKFLOW,
    "resources": (TaskKind.AGENT,),
    "placement": (TaskKind.AGENT,),
    "priority": (TaskKind.AGENT,),
    "heartbeat_timeout": (TaskKind.AGENT,),
    "revision": (TaskKind.WORKFLOW,),
}
_TASK_KEYS = (
    "id",
    *_KIND_KEYS,
    "revision",
    "input",
    "depends_on",
    "timeout",
    "retry",
    "resources",
    "placement",
    "priority",
    "heartbeat_timeout",
    *CONTROL_KEYS,
)


def parse_task_list(data: dict[str, Any], key: str, context: DefinitionContext) -> list[TaskDraft]:
    """The drafts of `tasks` (required, at least one) or `finally` (optional)."""
    if key not in data:
        if key == "tasks":
            context.report.error("tasks", "missing required field 'tasks'")
        return []
    raw = data[key]
    if not isinstance(raw, list):
        context.report.error(key, f"expected a list of tasks, got {json_type_name(raw)}")
        return []
    if not raw and key == "tasks":
        context.report.error("tasks", "a workflow needs at least one task")
    drafts = [_task(key, i, item, context) for i, item in enumerate(raw)]
    return [d for d in drafts if d is not None]


def _task(key: str, index: int, raw: Any, context: DefinitionContext) -> TaskDraft | None:
    report = context.report
    base = f"{key}[{index}]"
    if not isinstance(raw, dict):
        report.error(base, f"expected a task object, got {json_type_name(raw)}")
        return None
    report.unknown_keys(raw, _TASK_KEYS, base)
    task_id = None
    if "id" not in raw:
        report.error(f"{base}.id", "missing required field 'id'")
    else:
        task_id = report.name(f"{base}.id", raw["id"], TASK_ID)
    draft = TaskDraft(index=index, base=base, in_finally=key == "finally", id=task_id)
    _kind(raw, draft, context)
    fields = _applicable(raw, draft, context)
    draft.timeout_s = (
        None if raw.get("timeout") is None else report.duration(f"{base}.timeout", raw["timeout"])
    )
    draft.retry = parse_retry(f"{base}.retry", fields.get("retry"), report)
    draft.resources = parse_resources(f"{base}.resources", fields.get("resources"), report.error)
    draft.placement = parse_placement(f"{base}.placement", fields.get("placement"), report.error)
    draft.priority = parse_priority(f"{base}.priority", fields.get("priority"), report.error)
    draft.heartbeat_timeout_s = parse_heartbeat_timeout(
        f"{base}.heartbeat_timeout", fields.get("heartbeat_timeout"), report.error
    )
    explicit = _explicit_edges(base, raw.get("depends_on"), context)
    parse_controls(fields, draft, context)
    from_controls, draft.edges = draft.edges, []
    draft.input = fields.get("input")
    refs = checked_references(draft.input, f"{base}.input", context, scoped_roots(draft))
    draft.edges = explicit + task_edges(refs) + from_controls
    return draft


def _kind(raw: dict[str, Any], draft: TaskDraft, context: DefinitionContext) -> None:
    """Sets the task's kind and what names its work (agent, workflow, signal or duration)."""
    report = context.report
    present = [key for key in _KIND_KEYS if key in raw]
    if not present:
        # Most tasks run an agent: say what is missing for those.
        report.error(f"{draft.base}.agent", "missing required field 'agent'")
        return
    for extra in present[1:]:
        report.error(
            f"{draft.base}.{extra}",
            "a task has exactly one of 'agent', 'workflow', 'wait_for_signal' or 'sleep'; "
            f"this one also has '{present[0]}'",
        )
    key = present[0]
    draft.kind = _KIND_KEYS[key]
    path, value = f"{draft.base}.{key}", raw[key]
    if draft.kind is TaskKind.AGENT:
        draft.agent = check_agent(path, value, context)
    elif draft.kind is TaskKind.WORKFLOW:
        draft.workflow = _child_workflow(path, value, context)
        if "revision" in raw:
            revision = report.integer_at_least(f"{draft.base}.revision", raw["revision"], 1)
            draft.workflow_revision = revision or 0
    elif draft.kind is TaskKind.SIGNAL:
        draft.wait_for_signal = report.name(path, value, SIGNAL_NAME) or ""
    else:
        draft.sleep_s = report.duration(path, value)


def _child_workflow(path: str, value: Any, context: DefinitionContext) -> str:
    name = context.report.name(path, value, WORKFLOW_NAME)
    if name is None:
        return ""
    known = context.catalog.workflows
    if name == context.workflow_name:
        # Deeper cycles (a -> b -> a) are found when the child starts, not here.
        context.report.error(path, f"workflow '{name}' cannot run itself as a child (recursion)")
    elif known is not None and name not in known:
        context.report.report(
            path, f"unknown workflow '{name}'", context.catalog.unknown_workflow_severity
        )
    return name


def _applicable(
    raw: dict[str, Any], draft: TaskDraft, context: DefinitionContext
) -> dict[str, Any]:
    """The task's fields without those that do not apply to its kind (after reporting them)."""
    kept = {}
    for key, value in raw.items():
        kinds = _KINDS_OF_FIELD.get(str(key))
        if kinds is None or draft.kind in kinds:
            kept[str(key)] = value
        else:
            allowed = " and ".join(_KIND_NAMES[kind] for kind in kinds)
            context.report.error(
                f"{draft.base}.{key}",
                f"'{key}' applies only to {allowed} tasks; "
                f"this is {_a(_KIND_NAMES[draft.kind])} task",
            )
    return kept


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _explicit_edges(base: str, raw: Any, context: DefinitionContext) -> list[Edge]:
    if raw is None:
        return []
    path = f"{base}.depends_on"
    if not context.report.expect(path, raw, "array"):
        return []
    return [
        Edge(dep, f"{path}[{i}]", via_reference=False)
        for i, dep in enumerate(raw)
        if context.report.expect(f"{path}[{i}]", dep, "string")
    ]
