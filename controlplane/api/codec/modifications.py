"""orchestrator.v1.ExecutionOperation and RetryPolicy <-> models.modifications.Operation and
models.workflows.RetryPolicy (ModifyExecution)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from controlplane.api.codec.wellknown import duration, from_value, optional_seconds, to_value
from controlplane.api.gen.orchestrator.v1 import workflow_pb2
from models.errors import FieldViolation, InvalidArgument, OrchestratorError, invalid
from models.modifications import Operation, OperationKind
from models.values import MAX_WIRE_DEPTH, value_problems
from models.workflows import RetryPolicy

# The field of the `operation` oneof that carries each kind.
ONEOF_FIELDS = {
    OperationKind.SKIP_TASK: "skip_task",
    OperationKind.ADD_TASK: "add_task",
    OperationKind.REMOVE_TASK: "remove_task",
    OperationKind.UPDATE_TASK: "update_task",
    OperationKind.SET_VALUE: "set_value",
    OperationKind.FORCE_CONDITION: "force_condition",
}
_KINDS = {field: kind for kind, field in ONEOF_FIELDS.items()}


# -- retry policy -----------------------------------------------------------------------------


def retry_to_proto(policy: RetryPolicy) -> workflow_pb2.RetryPolicy:
    return workflow_pb2.RetryPolicy(
        max_attempts=policy.max_attempts,
        initial_interval=duration(policy.initial_interval_s),
        backoff_coefficient=policy.backoff_coefficient,
        max_interval=duration(policy.max_interval_s),
        non_retryable_errors=list(policy.non_retryable_errors),
    )


def retry_from_proto(message: workflow_pb2.RetryPolicy, path: str = "retry") -> RetryPolicy:
    """The policy, unset fields taking the defaults; InvalidArgument naming the field under
    `path` for a value no policy can have."""
    default = RetryPolicy()
    if message.max_attempts < 0:
        raise invalid(f"{path}.max_attempts", f"must be >= 1, got {message.max_attempts}")
    coefficient = message.backoff_coefficient
    if not math.isfinite(coefficient) or (coefficient and coefficient < 1):
        raise invalid(f"{path}.backoff_coefficient", f"must be >= 1, got {coefficient:g}")
    initial = optional_seconds(message, "initial_interval")
    if initial is not None and initial < 0:
        raise invalid(f"{path}.initial_interval", "must not be negative")
    initial = default.initial_interval_s if initial is None else initial
    maximum = optional_seconds(message, "max_interval")
    if maximum is not None and maximum < initial:
        raise invalid(
            f"{path}.max_interval",
            f"must be >= initial_interval ({initial:g}s), got {maximum:g}s",
        )
    return RetryPolicy(
        max_attempts=message.max_attempts or default.max_attempts,
        initial_interval_s=initial,
        backoff_coefficient=coefficient or default.backoff_coefficient,
        # As in a definition: without a maximum the cap grows to fit a long initial interval.
        max_interval_s=max(default.max_interval_s, initial) if maximum is None else maximum,
        non_retryable_errors=tuple(message.non_retryable_errors),
    )


# -- operations -------------------------------------------------------------------------------


def operation_to_proto(op: Operation) -> workflow_pb2.ExecutionOperation:
    """Only the fields of `op.kind` are carried: the others mean nothing for it."""
    Op = workflow_pb2.ExecutionOperation
    kind = op.kind
    if kind is OperationKind.SKIP_TASK:
        return Op(skip_task=Op.SkipTask(task_id=op.task_id))
    if kind is OperationKind.REMOVE_TASK:
        return Op(remove_task=Op.RemoveTask(task_id=op.task_id))
    if kind is OperationKind.FORCE_CONDITION:
        return Op(force_condition=Op.ForceCondition(task_id=op.task_id, value=op.condition))
    if kind is OperationKind.SET_VALUE:
        return Op(set_value=Op.SetValue(path=op.path, value=to_value(op.value)))
    timeout = None if op.timeout_s is None else duration(op.timeout_s)
    retry = None if op.retry is None else retry_to_proto(op.retry)
    if kind is OperationKind.ADD_TASK:
        return Op(
            add_task=Op.AddTask(
                task_id=op.task_id,
                agent=op.agent,
                input=None if op.input is None else to_value(op.input),
                depends_on=list(op.depends_on),
                timeout=timeout,
                retry=retry,
            )
        )
    return Op(
        update_task=Op.UpdateTask(
            task_id=op.task_id,
            input=to_value(op.input) if op.has_input else None,
            timeout=timeout,
            retry=retry,
        )
    )


def operation_from_proto(message: workflow_pb2.ExecutionOperation, index: int = 0) -> Operation:
    """The operation at `operations[index]` of a request; InvalidArgument naming the field of
    one that is unset or malformed."""
    at = f"operations[{index}]"
    field = message.WhichOneof("operation")
    if field is None:
        raise invalid(at, f"set one of {', '.join(ONEOF_FIELDS.values())}")
    kind = _KINDS[field]
    at = f"{at}.{field}"
    if kind is OperationKind.SKIP_TASK:
        return Operation(kind, task_id=message.skip_task.task_id)
    if kind is OperationKind.REMOVE_TASK:
        return Operation(kind, task_id=message.remove_task.task_id)
    if kind is OperationKind.FORCE_CONDITION:
        force = message.force_condition
        return Operation(kind, task_id=force.task_id, condition=force.value)
    if kind is OperationKind.SET_VALUE:
        value = from_value(message.set_value.value)
        _check_value(value, f"{at}.value")
        return Operation(kind, path=message.set_value.path, value=value)
    task = message.add_task if kind is OperationKind.ADD_TASK else message.update_task
    has_input = task.HasField("input")
    task_input = from_value(task.input) if has_input else None
    _check_value(task_input, f"{at}.input")
    return Operation(
        kind,
        task_id=task.task_id,
        agent=message.add_task.agent if kind is OperationKind.ADD_TASK else "",
        input=task_input,
        has_input=has_input and kind is OperationKind.UPDATE_TASK,
        depends_on=tuple(message.add_task.depends_on) if kind is OperationKind.ADD_TASK else (),
        timeout_s=_timeout(task, f"{at}.timeout"),
        retry=retry_from_proto(task.retry, f"{at}.retry") if task.HasField("retry") else None,
    )


def operations_from_proto(
    messages: Sequence[workflow_pb2.ExecutionOperation],
) -> list[Operation]:
    return [operation_from_proto(m, i) for i, m in enumerate(messages)]


def _timeout(
    task: workflow_pb2.ExecutionOperation.AddTask | workflow_pb2.ExecutionOperation.UpdateTask,
    path: str,
) -> float | None:
    seconds = optional_seconds(task, "timeout")
    if seconds is not None and seconds <= 0:
        raise invalid(path, f"must be more than zero, got {seconds:g}s")
    return seconds


def _check_value(value: object, path: str) -> None:
    """A value another client sent may hold what no JSON value can (NaN, Infinity); its
    depth is held to the server's setting by the engine."""
    problems = value_problems(value, path, MAX_WIRE_DEPTH, None)
    if problems:
        first = problems[0]
        raise InvalidArgument(
            f"{first.path}: {first.description}",
            [FieldViolation(p.path, p.description) for p in problems],
        )


# -- the engine's errors in the request's terms ----------------------------------------------

_OPERATION_FIELD = re.compile(r"\boperations\[(\d+)\]\.")


def in_request_terms(
    error: OrchestratorError, messages: Sequence[workflow_pb2.ExecutionOperation]
) -> OrchestratorError:
    """`error` with each `operations[i].field` the engine names (in terms of the operation
    model) spelled as the request's path, `operations[i].<oneof field>.field`."""

    def spelled(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(messages):
            return match.group(0)
        field = messages[index].WhichOneof("operation")
        return f"{match.group(0)}{field}." if field else match.group(0)

    def rewrite(text: str) -> str:
        return _OPERATION_FIELD.sub(spelled, text)

    violations = [FieldViolation(rewrite(v.field), v.description) for v in error.violations]
    return type(error)(rewrite(error.message), violations)
