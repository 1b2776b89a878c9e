"""RetryExecution: an execution that ended FAILED, CANCELLED or TIMED_OUT runs again from where
it stopped, as Flyte's RecoverExecution and `argo retry` do.

The retry is a rewind of the stored records, not a step of their lifecycles: the lifecycle
tables keep saying that a finished execution or task never changes again, so no ordinary change
(a late attempt outcome, a bug) can revive one; only `rewind` does, from the statuses it names.
What it rewinds:

- every task that FAILED, was CANCELLED, TIMED_OUT or SKIPPED goes back to PENDING, its error
  and output cleared and its attempts kept: its next attempt is numbered after them (the history
  shows every run) and its retry policy counts only the attempts made from now on;
- a succeeded task whose compensation ran was undone, so it runs again too;
- every compensation and `finally` task runs again at the end, as in any run;
- every other succeeded task keeps its output and does not run again;
- the execution is RUNNING again, without end time, error or outputs, unpaused, its start time
  (from which the workflow's timeout counts) the retry's, with an EXECUTION_RETRIED event
  naming the tasks that run again.

The engine then resumes it like an execution found running after a restart."""

from __future__ import annotations

from typing import Any

from controlplane.engine.executions.plan import ExecutionPlan, Phase, compensation_id
from controlplane.store import WriteBatch
from controlplane.store.earlier_attempts import earlier_attempts_statement
from models.errors import FailedPrecondition, FieldViolation
from models.executions import (
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.workflows import TaskKind

RETRYABLE = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMED_OUT}
)
RERUN = frozenset(
    {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMED_OUT, TaskStatus.SKIPPED}
)
# Task ids the EXECUTION_RETRIED event lists (a for_each task may have thousands of items).
MAX_LISTED_TASKS = 100


def refusal(record: ExecutionRecord, running: bool) -> FailedPrecondition | None:
    """Why the execution cannot be retried now (None: it can); `running`: its runner is live
    (an execution whose end was just recorded is retried once its runner let go of it)."""
    if record.status in RETRYABLE and not running:
        return None
    if record.status in RETRYABLE:
        return FailedPrecondition(
            f"execution {record.execution_id} is still ending; retry it in a moment",
            [FieldViolation("execution_id", "execution is still ending")],
        )
    status = record.status.value
    return FailedPrecondition(
        f"cannot retry an execution that is {status}: only a FAILED, CANCELLED or TIMED_OUT "
        "one runs again",
        [FieldViolation("execution_id", f"execution is {status}")],
    )


def rerun_tasks(record: ExecutionRecord, plan: ExecutionPlan) -> list[str]:
    """The tasks a retry runs again, in the order the record holds them."""
    tasks = record.tasks
    return [
        task_id
        for task_id, task in tasks.items()
        if _runs_again(task, plan.phases.get(task_id, Phase.MAIN), tasks)
    ]


def _runs_again(task: TaskRecord, phase: Phase, tasks: dict[str, TaskRecord]) -> bool:
    if phase is not Phase.MAIN:
        return task.status.terminal  # compensations and finally tasks run at every end
    if task.status in RERUN:
        return True
    compensation = tasks.get(compensation_id(task.task_id))
    return task.status is TaskStatus.SUCCEEDED and bool(compensation and compensation.attempts)


def missing_agents(
    record: ExecutionRecord, plan: ExecutionPlan, task_ids: list[str], deployed: set[str]
) -> list[FieldViolation]:
    """The tasks to run again whose agent is not deployed (any more)."""
    problems = []
    for task_id in task_ids:
        spec = plan.definitions.get(task_id)
        agent = record.tasks[task_id].agent
        if spec is not None and spec.kind is not TaskKind.AGENT:
            continue
        if agent and agent not in deployed:
            problems.append(
                FieldViolation("execution_id", f"task {task_id} uses agent {agent!r}, not deployed")
            )
    return problems


def rewind(
    record: ExecutionRecord,
    task_ids: list[str],
    batch: WriteBatch,
    now: float,
    request_id: str,
    retry_number: int,
) -> None:
    """Rewinds `record` (a finished execution, see the module) so that `task_ids` run again,
    and adds its rows and the EXECUTION_RETRIED event to `batch`."""
    if record.status not in RETRYABLE:
        raise ValueError(f"a {record.status.value} execution is not rewound")
    eid = record.execution_id
    for task_id in task_ids:
        task = record.tasks[task_id]
        task.earlier_attempts = max((a.number for a in task.attempts), default=0)
        task.status = TaskStatus.PENDING  # a rewind, outside the task lifecycle (see above)
        task.output = None
        task.error = None
        batch.put_task(eid, task)
        batch.statements.append(earlier_attempts_statement(eid, task))
    details: dict[str, Any] = {
        "retry": retry_number,
        "previous_status": record.status.value,
        "tasks": task_ids[:MAX_LISTED_TASKS],
        "task_count": len(task_ids),
        "request_id": request_id,
    }
    if record.error is not None:
        error = record.error
        details["previous_error"] = {
            "type": error.type,
            "message": error.message,
            "task_id": error.task_id,
        }
    record.status = ExecutionStatus.RUNNING  # a rewind, outside the execution lifecycle
    record.error = None
    record.outputs = None
    record.end_time = None
    record.start_time = now
    record.paused = False
    record.last_sequence += 1
    batch.add_event(Event(eid, record.last_sequence, EventType.EXECUTION_RETRIED, now, "", details))
    batch.put_execution(record)
