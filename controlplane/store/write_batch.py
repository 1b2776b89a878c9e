"""Rows to write in one transaction, serialised on the caller's thread so that the writer
thread never touches live (mutable) records."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from controlplane.store.codec import dump, dump_error
from controlplane.store.heartbeats import heartbeat_row
from controlplane.store.namespaced_keys import request_key
from models.executions import AttemptRecord, Event, ExecutionRecord, TaskRecord
from models.namespaces import qualified_name


@dataclass
class WriteBatch:
    executions: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    attempts: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    heartbeats: list[tuple[Any, ...]] = field(default_factory=list)
    # Rows of smaller tables (signals), as statements applied after the rest, in order.
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.executions
            or self.tasks
            or self.attempts
            or self.events
            or self.heartbeats
            or self.statements
        )

    def extend(self, other: WriteBatch) -> None:
        self.executions += other.executions
        self.tasks += other.tasks
        self.attempts += other.attempts
        self.events += other.events
        self.heartbeats += other.heartbeats
        self.statements += other.statements

    def put_execution(self, ex: ExecutionRecord, inputs_text: str | None = None) -> None:
        """`inputs_text`: the inputs' encoding when the caller holds it already (they never
        change after the start; a large input is not encoded again at every change)."""
        self.executions.append(
            (
                ex.execution_id,
                qualified_name(ex.namespace, ex.workflow),
                ex.revision,
                ex.status.value,
                dump(ex.inputs) if inputs_text is None else inputs_text,
                None if ex.outputs is None else dump(ex.outputs),
                dump_error(ex.error),
                request_key(ex.namespace, ex.request_id) if ex.request_id else None,
                ex.create_time,
                ex.start_time,
                ex.end_time,
                ex.last_sequence,
                ex.namespace,
                int(ex.paused),
                ex.parent_execution_id,
            )
        )

    def put_task(self, execution_id: str, task: TaskRecord) -> None:
        self.tasks.append(
            (
                execution_id,
                task.task_id,
                task.agent,
                task.status.value,
                dump(task.output),
                dump_error(task.error),
                _dependencies_text(task.depends_on),
            )
        )

    def put_heartbeat(self, execution_id: str, task: TaskRecord) -> None:
        """The task's last heartbeat (details and time) as its record holds it now."""
        self.heartbeats.append(heartbeat_row(execution_id, task))

    def put_attempt(self, execution_id: str, task_id: str, attempt: AttemptRecord) -> None:
        self.attempts.append(
            (
                execution_id,
                task_id,
                attempt.number,
                attempt.status.value,
                attempt.replica,
                attempt.agent_version,
                attempt.start_time,
                attempt.end_time,
                dump_error(attempt.error),
            )
        )

    def add_event(self, event: Event) -> None:
        self.events.append(
            (
                event.execution_id,
                event.sequence,
                event.type.value,
                event.task_id,
                event.time,
                dump(event.details),
            )
        )


def delete_task_statement(execution_id: str, task_id: str) -> tuple[str, tuple[Any, ...]]:
    """Removes a task that never started (ModifyExecution): its row and nothing else."""
    return "DELETE FROM tasks WHERE execution_id=? AND task_id=?", (execution_id, task_id)


@functools.lru_cache(maxsize=4096)
def _dependencies_text(depends_on: tuple[str, ...]) -> str:
    """A task's dependencies never change: encoded once per distinct tuple, not per change."""
    return dump(list(depends_on))
