"""The records of one execution and the smallest changes to them: each moves the in-memory
record through its lifecycle and appends its rows and events to a batch (no I/O, no waiting)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from controlplane.engine.executions.plan import ExecutionPlan, Phase
from controlplane.store import WriteBatch
from models.executions import (
    ATTEMPT_LIFECYCLE,
    EXECUTION_LIFECYCLE,
    TASK_LIFECYCLE,
    AttemptStatus,
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.limits import DEFAULT_LIMITS, WorkflowLimits
from models.values import sized_details
from models.workflows import FailureMode, WorkflowDefinition

FAILED_TASK = (TaskStatus.FAILED, TaskStatus.TIMED_OUT)
_TERMINAL_EVENT = {
    ExecutionStatus.SUCCEEDED: EventType.EXECUTION_SUCCEEDED,
    ExecutionStatus.FAILED: EventType.EXECUTION_FAILED,
    ExecutionStatus.CANCELLED: EventType.EXECUTION_CANCELLED,
    ExecutionStatus.TIMED_OUT: EventType.EXECUTION_TIMED_OUT,
}
# A condition: its CEL text and the activation -> its value (raises when it cannot be evaluated).
Evaluate = Callable[[str, Mapping[str, Any]], bool]
# Errors a stop leaves on a running execution while its finally tasks run: what it ends as.
STOPS = {
    "Cancelled": ExecutionStatus.CANCELLED,
    "WorkflowTimeout": ExecutionStatus.TIMED_OUT,
    "EventLimitExceeded": ExecutionStatus.FAILED,
}


class ExecutionChanges:
    def __init__(
        self,
        record: ExecutionRecord,
        definition: WorkflowDefinition,
        plan: ExecutionPlan,
        clock: Callable[[], float],
        evaluate: Evaluate,
        limits: WorkflowLimits = DEFAULT_LIMITS,
    ) -> None:
        self.record = record
        self._limits = limits
        self._definition = definition
        self._plan = plan
        self._order = list(plan.order)
        self._referable = frozenset(self._order)
        self._clock = clock
        self._evaluate = evaluate

    @property
    def execution_id(self) -> str:
        return self.record.execution_id

    @property
    def plan(self) -> ExecutionPlan:
        """What the execution runs (its definition's, changed by ModifyExecution)."""
        return self._plan

    @property
    def definition(self) -> WorkflowDefinition:
        return self._definition

    def end(self, batch: WriteBatch, status: ExecutionStatus, error: ErrorInfo | None) -> None:
        self.set_status(status)
        self.record.error = error
        self.record.end_time = self._clock()
        details: dict[str, object] = {}
        if error is not None:
            details["error"] = {
                "type": error.type,
                "message": error.message,
                "task_id": error.task_id,
            }
        if status is ExecutionStatus.SUCCEEDED:
            details["outputs"] = self.record.outputs
        self.event(batch, _TERMINAL_EVENT[status], "", **details)

    def task_outputs(self) -> Mapping[str, object]:
        """The outputs of the workflow's succeeded tasks (for_each items are not referable:
        their outputs are their task's), read when a reference asks for one."""
        return SucceededOutputs(self.record.tasks, self._order, self._referable)

    def _task_failed(
        self, batch: WriteBatch, task: TaskRecord, error: ErrorInfo, timed_out: bool = False
    ) -> None:
        task.error = ErrorInfo(error.type, error.message, task.task_id)
        self.set_task(batch, task, TaskStatus.TIMED_OUT if timed_out else TaskStatus.FAILED)
        self.event(
            batch,
            EventType.TASK_TIMED_OUT if timed_out else EventType.TASK_FAILED,
            task.task_id,
            error={"type": error.type, "message": error.message},
        )
        if (
            self._definition.failure_mode is FailureMode.FAIL_FAST
            and self._plan.phases.get(task.task_id) is Phase.MAIN
        ):
            cause = ErrorInfo("Cancelled", f"fail_fast: task {task.task_id} failed")
            for other in self._plan.ids(Phase.MAIN):
                if not self.record.tasks[other].status.terminal:
                    self._cancel_task(batch, self.record.tasks[other], cause)

    def _cancel_task(self, batch: WriteBatch, task: TaskRecord, error: ErrorInfo) -> None:
        if task.status is TaskStatus.RUNNING and task.attempts:
            attempt = task.attempts[-1]
            if attempt.status is AttemptStatus.RUNNING:
                ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.CANCELLED)
                attempt.end_time, attempt.error = self._clock(), error
                batch.put_attempt(self.execution_id, task.task_id, attempt)
        task.error = ErrorInfo(error.type, error.message, task.task_id)
        self.set_task(batch, task, TaskStatus.CANCELLED)
        self.event(batch, EventType.TASK_CANCELLED, task.task_id, reason=error.message)

    def set_status(self, status: ExecutionStatus) -> None:
        EXECUTION_LIFECYCLE.move(self.record, status)

    def set_task(self, batch: WriteBatch, task: TaskRecord, status: TaskStatus) -> None:
        TASK_LIFECYCLE.move(task, status)
        batch.put_task(self.execution_id, task)

    def event(
        self, batch: WriteBatch, type_: EventType, task_id: str = "", **details: object
    ) -> None:
        self.record.last_sequence += 1
        batch.add_event(
            Event(
                self.execution_id,
                self.record.last_sequence,
                type_,
                self._clock(),
                task_id,
                sized_details(details),
            )
        )


class SucceededOutputs(Mapping[str, object]):
    """The outputs of the succeeded tasks among `referable`, looked up on demand: a task's
    input names a few of them, so copying them all for each task would cost O(tasks)."""

    def __init__(
        self, tasks: Mapping[str, TaskRecord], order: Sequence[str], referable: frozenset[str]
    ) -> None:
        self._tasks = tasks
        self._order = order
        self._referable = referable

    def __getitem__(self, task_id: str) -> object:
        task = self._tasks.get(task_id) if task_id in self._referable else None
        if task is None or task.status is not TaskStatus.SUCCEEDED:
            raise KeyError(task_id)
        return task.output

    def __iter__(self) -> Iterator[str]:
        return (t for t in self._order if self._tasks[t].status is TaskStatus.SUCCEEDED)

    def __len__(self) -> int:
        return sum(1 for _ in self)
