"""Keeps every execution response under the message limit, whatever executions hold.

An execution can hold up to one 2 MiB output per task, thousands of tasks and many attempts
with long error messages; sent whole, one GetExecution or one page of ListExecutions could
outgrow the 4 MiB a gRPC client accepts by default, and it would fail for every caller for
ever. So a response carries values within a budget: a value over INLINE_VALUE_BYTES, or one
that would take the response's values past RESPONSE_VALUE_BYTES, is left out and replaced by
its size (read it with ReadExecutionValue). Attempts and error messages are bounded too, and
when a view still does not fit, a leaner one is tried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from models.errors import ResourceExhausted
from models.executions import (
    ErrorInfo,
    Event,
    ExecutionRecord,
    TaskRecord,
)
from models.values import INLINE_VALUE_BYTES, json_text, shorten, sized_details
from models.workflows import View

RESPONSE_VALUE_BYTES = 2 << 20
# gRPC clients accept 4 MiB by default; leave room for the envelope.
RESPONSE_LIMIT_BYTES = (4 << 20) - (64 << 10)


def value_size(value: Any) -> int:
    """Bytes of the value's JSON text (ASCII: one byte per character)."""
    return len(json_text(value))


class ValueBudget:
    """Admits values into one response while they fit."""

    def __init__(self, total: int = RESPONSE_VALUE_BYTES, inline: int = INLINE_VALUE_BYTES):
        self.left = total
        self._inline = inline

    def omitted(self, value: Any) -> int | None:
        """None when `value` goes into the response; its size when it is left out."""
        size = value_size(value)
        if size > self._inline or size > self.left:
            return size
        self.left -= size
        return None


@dataclass(frozen=True)
class Detail:
    """How much detail of tasks one rung of the ladder keeps."""

    attempts: int
    error_chars: int
    values: bool = True
    dependencies: bool = True


# From the full view to the leanest one that still says what every task is doing.
LADDER = (Detail(50, 4000), Detail(1, 300), Detail(1, 300, values=False, dependencies=False))


def _error(error: ErrorInfo | None, chars: int) -> ErrorInfo | None:
    if error is None or len(error.message) <= chars:
        return error
    return dataclasses.replace(error, message=shorten(error.message, chars))


def _task(task: TaskRecord, detail: Detail, budget: ValueBudget) -> TaskRecord:
    output, omitted = task.output, task.output_omitted
    if output is not None and (not detail.values or (omitted := budget.omitted(output))):
        output, omitted = None, omitted if detail.values else value_size(output)
    shown = task.attempts[-detail.attempts :]
    heartbeat = task.last_heartbeat
    if heartbeat is not None and (not detail.values or budget.omitted(heartbeat) is not None):
        heartbeat = None  # a progress report, not a result: left out without a size
    return dataclasses.replace(
        task,
        output=output,
        output_omitted=omitted,
        last_heartbeat=heartbeat,
        attempts=[dataclasses.replace(a, error=_error(a.error, detail.error_chars)) for a in shown],
        omitted_attempts=task.omitted_attempts + len(task.attempts) - len(shown),
        error=_error(task.error, detail.error_chars),
        depends_on=task.depends_on if detail.dependencies else (),
    )


def _execution(
    record: ExecutionRecord, view: View, detail: Detail, budget: ValueBudget
) -> ExecutionRecord:
    """`record` (whose values the store may already have left out) within `budget`."""
    error = _error(record.error, detail.error_chars)
    if view is View.BASIC:
        return dataclasses.replace(
            record,
            inputs={},
            inputs_omitted=None,
            outputs=None,
            outputs_omitted=None,
            tasks={},
            error=error,
        )
    inputs, inputs_omitted = record.inputs, record.inputs_omitted
    if inputs_omitted is None and (inputs_omitted := budget.omitted(inputs)) is not None:
        inputs = {}
    outputs, outputs_omitted = record.outputs, record.outputs_omitted
    if outputs is not None and (outputs_omitted := budget.omitted(outputs)) is not None:
        outputs = None
    return dataclasses.replace(
        record,
        inputs=inputs,
        inputs_omitted=inputs_omitted,
        outputs=outputs,
        outputs_omitted=outputs_omitted,
        error=error,
        tasks={tid: _task(t, detail, budget) for tid, t in record.tasks.items()},
    )


class Encoded(Protocol):
    def ByteSize(self) -> int: ...


M = TypeVar("M", bound=Encoded)


def fit_execution(record: ExecutionRecord, view: View, encode: Callable[[ExecutionRecord], M]) -> M:
    """`record` encoded as one response carries it: the first rung of the ladder whose
    encoding fits the limit."""
    for detail in LADDER:
        message = encode(_execution(record, view, detail, ValueBudget()))
        if message.ByteSize() <= RESPONSE_LIMIT_BYTES:
            return message
    raise ResourceExhausted(
        f"execution {record.execution_id} has {len(record.tasks)} tasks: even its leanest full "
        "view outgrows a response; ask for the BASIC view"
    )


def fit_page(
    records: Iterable[ExecutionRecord], view: View, encode: Callable[[ExecutionRecord], M]
) -> list[M]:
    """One page of executions without tasks, sharing one value budget; once the page nears
    the limit, the rest are encoded in the basic view."""
    budget, used, page = ValueBudget(), 0, []
    for record in records:
        message = encode(_execution(dataclasses.replace(record, tasks={}), view, LADDER[0], budget))
        if used + message.ByteSize() > RESPONSE_LIMIT_BYTES:
            message = encode(_execution(record, View.BASIC, LADDER[-1], budget))
        used += message.ByteSize()
        page.append(message)
    return page


def fit_event(event: Event) -> Event:
    """`event` with large inputs or outputs replaced by their size (events stored before the
    engine did so itself may hold them)."""
    details = sized_details(event.details)
    return event if details is event.details else dataclasses.replace(event, details=details)
