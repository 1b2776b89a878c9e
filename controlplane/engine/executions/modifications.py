"""ModifyExecution: a batch of operations checked whole against the execution as it is, then
applied to its definition (the execution's own copy) and its records. Each applied batch is an
EXECUTION_MODIFIED event with the operations, the reason, the caller and the request id; a
resumed execution replays those events onto its revision's definition, so the changes are as
durable as the rest of its history."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from controlplane.workflow.references import find_references, parse_path
from models.errors import FailedPrecondition, FieldViolation, InvalidArgument
from models.executions import ExecutionRecord, TaskStatus
from models.limits import DEFAULT_LIMITS, WorkflowLimits, setting
from models.modifications import Operation, OperationKind
from models.values import value_problems
from models.workflows import RetryPolicy, TaskDefinition, TaskKind, WorkflowDefinition

MAX_OPERATIONS = 100
NOT_STARTED = frozenset({TaskStatus.PENDING, TaskStatus.SCHEDULED})


def _field(i: int, name: str) -> str:
    return f"operations[{i}].{name}" if name else f"operations[{i}]"


def check(
    operations: Sequence[Operation],
    definition: WorkflowDefinition,
    record: ExecutionRecord,
    agents: set[str],
    limits: WorkflowLimits = DEFAULT_LIMITS,
) -> WorkflowDefinition:
    """The definition with every operation applied, or the first refusal: InvalidArgument
    for a malformed batch, an unknown agent, a cycle or a change past `limits` (task count,
    value nesting), FailedPrecondition naming the task for one that has started or ended."""
    if not operations:
        raise InvalidArgument("no operations", [FieldViolation("operations", "give at least one")])
    if len(operations) > MAX_OPERATIONS:
        raise InvalidArgument(
            "too many operations", [FieldViolation("operations", f"at most {MAX_OPERATIONS}")]
        )
    tasks = {t.id: t for t in definition.tasks}
    statuses = {tid: t.status for tid, t in record.tasks.items()}
    inputs = copy.deepcopy(record.inputs)  # set_value is tried here, in batch order
    for i, op in enumerate(operations):
        tasks = _apply(i, op, tasks, statuses, agents)
        if op.kind is OperationKind.SET_VALUE:
            try:
                assign(inputs, parse_path(op.path.split(".", 1)[1]), op.value)
            except InvalidArgument as exc:
                raise InvalidArgument(
                    str(exc), [FieldViolation(_field(i, "path"), str(exc))]
                ) from None
        if op.kind is OperationKind.ADD_TASK:
            statuses[op.task_id] = TaskStatus.PENDING
        if op.kind is OperationKind.REMOVE_TASK:
            statuses.pop(op.task_id, None)
    _check_depth(operations, inputs, limits.value_depth)
    changed = dataclasses.replace(definition, tasks=tuple(tasks.values()))
    count = len(changed.tasks) + len(changed.finally_tasks)
    if count > limits.tasks_per_workflow:
        bound = setting("tasks_per_workflow", limits.tasks_per_workflow)
        raise InvalidArgument(
            f"the execution would have {count:,} tasks, above {bound}",
            [FieldViolation("operations", f"{count:,} tasks, above {bound}")],
        )
    cycle = _cycle(changed)
    if cycle:
        raise InvalidArgument(
            f"the changes make a cycle: {' -> '.join(cycle)}",
            [FieldViolation("operations", "depends_on would make a cycle")],
        )
    return changed


def _check_depth(operations: Sequence[Operation], inputs: dict[str, Any], depth: int) -> None:
    """Values and inputs are held to limits.value_depth, as at StartExecution."""
    problems = [
        problem
        for i, op in enumerate(operations)
        if op.kind in (OperationKind.ADD_TASK, OperationKind.UPDATE_TASK)
        for problem in value_problems(op.input, _field(i, "input"), depth)
    ]
    for name, value in inputs.items():
        problems += value_problems(value, f"inputs.{name}", depth)
    if problems:
        first = problems[0]
        raise InvalidArgument(
            f"{first.path}: {first.description}",
            [FieldViolation(p.path, p.description) for p in problems],
        )


def _apply(
    i: int,
    op: Operation,
    tasks: dict[str, TaskDefinition],
    statuses: dict[str, TaskStatus],
    agents: set[str],
) -> dict[str, TaskDefinition]:
    kind = op.kind
    if kind is OperationKind.SET_VALUE:
        parts = op.path.split(".", 1)
        if len(parts) != 2 or parts[0] != "inputs" or not parts[1]:
            raise InvalidArgument(
                "bad path", [FieldViolation(_field(i, "path"), "must look like inputs.x.y")]
            )
        return tasks
    if kind is OperationKind.ADD_TASK:
        return _added(i, op, tasks, statuses, agents)
    task = tasks.get(op.task_id)
    if task is None:
        raise InvalidArgument(
            f"no task {op.task_id!r}",
            [FieldViolation(_field(i, "task_id"), "not a task of this execution")],
        )
    status = statuses.get(op.task_id, TaskStatus.PENDING)
    if status not in NOT_STARTED:
        raise FailedPrecondition(
            f"task {op.task_id!r} is {status.value}: only a task that has not started changes",
            [FieldViolation(_field(i, "task_id"), f"task {op.task_id} is {status.value}")],
        )
    changed = dict(tasks)
    if kind is OperationKind.REMOVE_TASK:
        dependants = [t.id for t in tasks.values() if op.task_id in t.depends_on]
        if dependants:
            raise FailedPrecondition(
                f"task {op.task_id!r} cannot be removed: {', '.join(dependants)} depend on it",
                [FieldViolation(_field(i, "task_id"), "other tasks depend on it")],
            )
        del changed[op.task_id]
    elif kind is OperationKind.UPDATE_TASK:
        update: dict[str, Any] = {}
        if op.has_input:
            update["input"] = op.input
            update["depends_on"] = _dependencies(task.depends_on, op.input, tasks, i)
        if op.timeout_s is not None:
            update["timeout_s"] = op.timeout_s
        if op.retry is not None:
            update["retry"] = op.retry
        changed[op.task_id] = dataclasses.replace(task, **update)
    elif kind is OperationKind.FORCE_CONDITION:
        changed[op.task_id] = dataclasses.replace(task, when="true" if op.condition else "false")
    # SKIP_TASK changes the record only (applied with the event).
    return changed


def _added(
    i: int,
    op: Operation,
    tasks: dict[str, TaskDefinition],
    statuses: dict[str, TaskStatus],
    agents: set[str],
) -> dict[str, TaskDefinition]:
    if not op.task_id or op.task_id in tasks or op.task_id in statuses:
        raise InvalidArgument(
            f"task id {op.task_id!r} is missing or taken",
            [FieldViolation(_field(i, "task_id"), "must be a new task id")],
        )
    if op.agent not in agents:
        raise InvalidArgument(
            f"agent {op.agent!r} is not deployed",
            [FieldViolation(_field(i, "agent"), "not a deployed agent")],
        )
    for dep in op.depends_on:
        if dep not in tasks:
            raise InvalidArgument(
                f"no task {dep!r}", [FieldViolation(_field(i, "depends_on"), f"no task {dep}")]
            )
    return {**tasks, op.task_id: _new_task(op, tasks, i)}


def _new_task(op: Operation, tasks: dict[str, TaskDefinition], i: int) -> TaskDefinition:
    return TaskDefinition(
        id=op.task_id,
        agent=op.agent,
        input=op.input,
        depends_on=_dependencies(op.depends_on, op.input, tasks, i),
        timeout_s=op.timeout_s,
        retry=op.retry or RetryPolicy(),
        kind=TaskKind.AGENT,
    )


def _dependencies(
    explicit: Iterable[str], value: Any, tasks: dict[str, TaskDefinition], i: int
) -> tuple[str, ...]:
    """Explicit dependencies plus every task the input references (which must exist)."""
    out = list(dict.fromkeys(explicit))
    for where, ref in find_references(value, _field(i, "input")):
        if ref.root != "tasks" or ref.task_id is None:
            continue
        task_id = ref.task_id
        if task_id not in tasks:
            raise InvalidArgument(
                f"{where} references unknown task {task_id!r}",
                [FieldViolation(where, f"no task {task_id}")],
            )
        if task_id not in out:
            out.append(task_id)
    return tuple(out)


def _cycle(definition: WorkflowDefinition) -> list[str]:
    deps = {t.id: t.depends_on for t in definition.tasks}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in deps:
        if node not in state and (found := visit(node)):
            return found
    return []


def set_value(inputs: dict[str, Any], path: str) -> tuple[dict[str, Any], list[str | int]]:
    """A copy of the inputs and the path below `inputs` (for `inputs.x.y`)."""
    return copy.deepcopy(inputs), parse_path(path.split(".", 1)[1])


def assign(target: dict[str, Any], path: list[str | int], value: Any) -> None:
    """Sets `value` at `path` in `target`, creating objects on the way."""
    node: Any = target
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(str(part), {})
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            raise InvalidArgument(
                f"cannot set inputs path at {part!r}", [FieldViolation("path", "no such place")]
            )
    last = path[-1]
    if isinstance(node, dict):
        node[str(last)] = value
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    else:
        raise InvalidArgument(
            f"cannot set inputs path at {last!r}", [FieldViolation("path", "no such place")]
        )


def to_details(op: Operation) -> dict[str, Any]:
    """An operation as it is stored in its event."""
    data = dataclasses.asdict(op)
    data["kind"] = op.kind.value
    data["depends_on"] = list(op.depends_on)
    if op.retry is not None:
        data["retry"]["non_retryable_errors"] = list(op.retry.non_retryable_errors)
    return data


def from_details(data: dict[str, Any]) -> Operation:
    retry = data.get("retry")
    return Operation(
        kind=OperationKind(data["kind"]),
        task_id=data.get("task_id", ""),
        agent=data.get("agent", ""),
        input=data.get("input"),
        has_input=bool(data.get("has_input")),
        depends_on=tuple(data.get("depends_on", ())),
        timeout_s=data.get("timeout_s"),
        retry=None
        if retry is None
        else RetryPolicy(
            **{**retry, "non_retryable_errors": tuple(retry.get("non_retryable_errors", ()))}
        ),
        path=data.get("path", ""),
        value=data.get("value"),
        condition=bool(data.get("condition")),
    )


def replayed(
    definition: WorkflowDefinition, batches: Iterable[Sequence[Operation]]
) -> WorkflowDefinition:
    """The revision's definition with the stored batches applied again (they were checked when
    they were applied; only their effect on the definition is redone)."""
    for operations in batches:
        tasks = {t.id: t for t in definition.tasks}
        for op in operations:
            if op.kind is OperationKind.ADD_TASK:
                tasks[op.task_id] = _new_task(op, tasks, 0)
            elif op.kind is OperationKind.REMOVE_TASK:
                tasks.pop(op.task_id, None)
            elif op.kind in (OperationKind.UPDATE_TASK, OperationKind.FORCE_CONDITION):
                statuses = {op.task_id: TaskStatus.PENDING}
                tasks = _apply(0, op, tasks, statuses, set())
        definition = dataclasses.replace(definition, tasks=tuple(tasks.values()))
    return definition
