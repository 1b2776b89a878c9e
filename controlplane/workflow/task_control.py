"""The fields of a task that decide whether, how often and over what it runs: `when`,
`trigger`, `for_each` (with `max_concurrency` and `allow_failures`), `loop` and `compensate`.

    when: "tasks.review.output.exists(r, r.score < 0.8)"     # CEL; false: SKIPPED
    trigger: none_failed
    for_each: "${tasks.plan.output.files}"                   # one item per element
    max_concurrency: 8
    allow_failures: 10%                                      # or a count
    loop: {until: "output.approved == true", max_iterations: 5}
    compensate: {agent: undo, input: {id: "${tasks.deploy.output.id}"}}

Every task a condition or `for_each` reads becomes a dependency, as for `input`.
"""

from __future__ import annotations

import re
from typing import Any

from controlplane.workflow import conditions
from controlplane.workflow.inputs import json_type_name
from controlplane.workflow.references import Reference, parse_template
from controlplane.workflow.task_draft import (
    DefinitionContext,
    Edge,
    TaskDraft,
    check_agent,
    checked_references,
    task_edges,
)
from models.workflows import (
    DEFAULT_LOOP_ITERATIONS,
    MAX_LOOP_ITERATIONS,
    Compensation,
    ForEachSpec,
    LoopSpec,
    TriggerRule,
)

CONTROL_KEYS = (
    "when",
    "trigger",
    "for_each",
    "max_concurrency",
    "allow_failures",
    "loop",
    "compensate",
)
_LOOP_KEYS = ("until", "max_iterations")
_COMPENSATE_KEYS = ("agent", "input")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_TRIGGERS = ", ".join(rule.value for rule in TriggerRule)


def parse_controls(raw: dict[str, Any], draft: TaskDraft, context: DefinitionContext) -> None:
    """Reads the control fields into `draft`, with the dependencies they add; for_each and
    loop first, since they decide what the input may reference. A null field is an absent one."""
    raw = {key: value for key, value in raw.items() if value is not None}
    base = draft.base
    draft.for_each = _for_each(raw, draft, context)
    if "loop" in raw:
        if draft.for_each is not None:
            context.report.error(
                f"{base}.loop",
                "a task cannot both loop and run for_each; loop inside a child workflow "
                "(for_each of a workflow task whose workflow has the loop)",
            )
        else:
            draft.loop = _loop(f"{base}.loop", raw["loop"], draft, context)
    if "when" in raw:
        names = _names(conditions.WHEN_NAMES, draft)
        draft.when = _condition(f"{base}.when", raw["when"], names, draft, context)
    if "trigger" in raw:
        draft.trigger = _trigger(f"{base}.trigger", raw["trigger"], context)
    if "compensate" in raw:
        if draft.in_finally:
            context.report.error(
                f"{base}.compensate", "finally tasks have no compensation: they run last"
            )
        else:
            draft.compensate = _compensation(
                f"{base}.compensate", raw["compensate"], draft, context
            )


def _names(names: frozenset[str], draft: TaskDraft) -> frozenset[str]:
    return names | conditions.FINALLY_NAMES if draft.in_finally else names


def _condition(
    path: str, raw: Any, names: frozenset[str], draft: TaskDraft, context: DefinitionContext
) -> str:
    if not isinstance(raw, str):
        context.report.error(path, f"expected a CEL expression (string), got {json_type_name(raw)}")
        return ""
    # Unknown task ids are reported with the dependencies, like input references.
    context.report.extend(conditions.condition_problems(raw, path, names))
    draft.edges += [
        Edge(task_id, path, via_reference=True) for task_id in conditions.condition_task_ids(raw)
    ]
    return raw


def _trigger(path: str, raw: Any, context: DefinitionContext) -> TriggerRule:
    for rule in TriggerRule:
        if raw == rule.value:
            return rule
    context.report.error(path, f"unknown trigger {raw!r}; expected one of {_TRIGGERS}")
    return TriggerRule.ALL_SUCCEEDED


# --- for_each -------------------------------------------------------------------------


def _for_each(
    raw: dict[str, Any], draft: TaskDraft, context: DefinitionContext
) -> ForEachSpec | None:
    base = draft.base
    for key in ("max_concurrency", "allow_failures"):
        if key in raw and "for_each" not in raw:
            context.report.error(f"{base}.{key}", f"'{key}' applies only with for_each")
    if "for_each" not in raw:
        return None
    items = _items(f"{base}.for_each", raw["for_each"], draft, context)
    concurrency = 0
    if "max_concurrency" in raw:
        path = f"{base}.max_concurrency"
        concurrency = context.report.integer_at_least(path, raw["max_concurrency"], 1) or 0
    failures, percent = 0, None
    if "allow_failures" in raw:
        failures, percent = _allowed_failures(
            f"{base}.allow_failures", raw["allow_failures"], context
        )
    if items is None:
        return None
    return ForEachSpec(items, concurrency, failures, percent)


def _items(path: str, raw: Any, draft: TaskDraft, context: DefinitionContext) -> str | None:
    """The reference to the list, as written; its task becomes a dependency."""
    rule = 'for_each must be one ${...} reference to a list, e.g. "${tasks.plan.output.files}"'
    if not isinstance(raw, str):
        context.report.error(path, f"{rule}; got {json_type_name(raw)}")
        return None
    try:
        parts = parse_template(raw)
    except ValueError as exc:
        context.report.error(path, str(exc))
        return None
    if len(parts) != 1 or not isinstance(parts[0], Reference):
        context.report.error(path, rule)
        return None
    ref = parts[0]
    if ref.root not in ("inputs", "tasks"):
        context.report.error(path, f"for_each reads ${{inputs...}} or ${{tasks...}}, not {ref}")
        return None
    refs = checked_references(raw, path, context)
    if ref.root == "inputs" and len(ref.path) == 1:
        param = context.inputs.get(str(ref.path[0]))
        if param is not None and param.type not in ("array", "any"):
            context.report.error(path, f"input '{param.name}' is {param.type}, not an array")
    draft.edges += task_edges(refs)
    return raw


def _allowed_failures(path: str, raw: Any, context: DefinitionContext) -> tuple[int, float | None]:
    """A count of items, or a share of them as "N%"."""
    if isinstance(raw, str):
        found = _PERCENT.fullmatch(raw)
        if found is None or float(found.group(1)) > 100:
            context.report.error(
                path, f"expected a count or a percentage from 0% to 100%, got {raw!r}"
            )
            return 0, None
        return 0, float(found.group(1))
    count = context.report.integer_at_least(path, raw, 0)
    return count or 0, None


# --- loop and compensate ---------------------------------------------------------------


def _loop(path: str, raw: Any, draft: TaskDraft, context: DefinitionContext) -> LoopSpec | None:
    report = context.report
    if not isinstance(raw, dict):
        report.error(path, f"expected {{until, max_iterations}}, got {json_type_name(raw)}")
        return None
    report.unknown_keys(raw, _LOOP_KEYS, path)
    if "until" not in raw:
        report.error(f"{path}.until", "missing required field 'until'")
        return None
    names = _names(conditions.UNTIL_NAMES, draft)
    until = _condition(f"{path}.until", raw["until"], names, draft, context)
    iterations = DEFAULT_LOOP_ITERATIONS
    if "max_iterations" in raw:
        given = report.integer_at_least(f"{path}.max_iterations", raw["max_iterations"], 1)
        if given is not None and given > MAX_LOOP_ITERATIONS:
            report.error(
                f"{path}.max_iterations",
                f"must be at most {MAX_LOOP_ITERATIONS:,}, got {given}",
            )
        elif given is not None:
            iterations = given
    return LoopSpec(until, iterations) if until else None


def _compensation(
    path: str, raw: Any, draft: TaskDraft, context: DefinitionContext
) -> Compensation | None:
    report = context.report
    if not isinstance(raw, dict):
        report.error(path, f"expected {{agent, input}}, got {json_type_name(raw)}")
        return None
    report.unknown_keys(raw, _COMPENSATE_KEYS, path)
    if "agent" not in raw:
        report.error(f"{path}.agent", "missing required field 'agent'")
        return None
    agent = check_agent(f"{path}.agent", raw["agent"], context)
    refs = checked_references(raw.get("input"), f"{path}.input", context)
    draft.compensate_refs += [
        (location, str(ref.task_id)) for location, ref in refs if ref.root == "tasks"
    ]
    return Compensation(agent, raw.get("input")) if agent else None
