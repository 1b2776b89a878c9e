"""Executions, tasks, attempts and events, with their lifecycle transition tables."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from models.lifecycle import Lifecycle


class ExecutionStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_EXECUTION


class TaskStatus(enum.Enum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_TASK


class AttemptStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    LOST = "LOST"  # control plane stopped mid-attempt: retried, not charged to the policy
    PREEMPTED = "PREEMPTED"  # stopped for a higher-priority namespace: requeued, not charged


_UNCHARGED = {AttemptStatus.LOST, AttemptStatus.PREEMPTED}

_TERMINAL_EXECUTION = {
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
    ExecutionStatus.TIMED_OUT,
}
_TERMINAL_TASK = {
    TaskStatus.SUCCEEDED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.SKIPPED,
    TaskStatus.TIMED_OUT,
}

EXECUTION_LIFECYCLE = Lifecycle(
    "execution",
    ExecutionStatus,
    {
        ExecutionStatus.PENDING: frozenset(
            {
                ExecutionStatus.RUNNING,
                ExecutionStatus.CANCELLED,
                ExecutionStatus.FAILED,
                ExecutionStatus.TIMED_OUT,
            }
        ),
        ExecutionStatus.RUNNING: frozenset(_TERMINAL_EXECUTION),
        **{status: frozenset() for status in _TERMINAL_EXECUTION},
    },
)

_TASK_ENDS = frozenset({TaskStatus.CANCELLED, TaskStatus.SKIPPED})
TASK_LIFECYCLE = Lifecycle(
    "task",
    TaskStatus,
    {
        # FAILED: it could not start (its condition failed to evaluate).
        TaskStatus.PENDING: _TASK_ENDS | {TaskStatus.SCHEDULED, TaskStatus.FAILED},
        TaskStatus.SCHEDULED: _TASK_ENDS | {TaskStatus.RUNNING},
        TaskStatus.RUNNING: _TASK_ENDS
        | {
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.TIMED_OUT,
            TaskStatus.RETRYING,
            TaskStatus.SCHEDULED,  # attempt lost with the control plane, or preempted
        },
        TaskStatus.RETRYING: _TASK_ENDS | {TaskStatus.SCHEDULED},
        **{status: frozenset() for status in _TERMINAL_TASK},
    },
)

# An attempt starts RUNNING and ends once; a new try of the task is a new attempt.
ATTEMPT_LIFECYCLE = Lifecycle(
    "attempt",
    AttemptStatus,
    {
        AttemptStatus.RUNNING: frozenset(set(AttemptStatus) - {AttemptStatus.RUNNING}),
        **{status: frozenset() for status in AttemptStatus if status is not AttemptStatus.RUNNING},
    },
)


@dataclass
class ErrorInfo:
    type: str
    message: str
    task_id: str = ""


@dataclass
class AttemptRecord:
    number: int
    status: AttemptStatus
    replica: str = ""
    agent_version: str = ""
    start_time: float = 0.0
    end_time: float | None = None
    error: ErrorInfo | None = None


@dataclass
class TaskRecord:
    task_id: str
    agent: str
    status: TaskStatus = TaskStatus.PENDING
    attempts: list[AttemptRecord] = field(default_factory=list)
    output: Any = None
    error: ErrorInfo | None = None
    depends_on: tuple[str, ...] = ()
    # Why the task waits in the dispatcher queue right now ("" when it is not queued): a live
    # observation the engine adds when an execution is read, never stored.
    waiting_reason: str = ""
    # Set by a response that left the output out for its size: the size of its JSON encoding.
    output_omitted: int | None = None
    # Earlier attempts a response left out (it shows the latest ones).
    omitted_attempts: int = 0
    # The details of the task's last heartbeat (from any attempt; None before the first), and
    # when the control plane heard its last heartbeat (seconds since the epoch).
    last_heartbeat: dict[str, Any] | None = None
    last_heartbeat_time: float | None = None
    # What a read shows instead of the tasks a task runs as (never stored). A for_each task:
    # how many items it has (None: not a for_each, or its list not resolved yet) and how many
    # succeeded, failed (or timed out) and are scheduled or running. A loop task: how many
    # iterations it started. A workflow task: its latest attempt's child execution.
    items_total: int | None = None
    items_succeeded: int = 0
    items_failed: int = 0
    items_running: int = 0
    iterations: int = 0
    child_execution_id: str = ""
    # Attempts made before the execution's last retry (RetryExecution): they stay in the
    # history, and the task's retry policy counts only the attempts after them.
    earlier_attempts: int = 0

    def charged_attempts(self) -> int:
        """Attempts of the current run that count against the retry policy (lost and
        preempted ones do not, nor those of runs before a retry of the execution)."""
        return sum(
            1
            for a in self.attempts
            if a.number > self.earlier_attempts and a.status not in _UNCHARGED
        )


@dataclass
class ExecutionRecord:
    execution_id: str
    workflow: str
    revision: int
    status: ExecutionStatus
    inputs: dict[str, Any]
    create_time: float
    request_id: str = ""
    outputs: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    start_time: float | None = None
    end_time: float | None = None
    # Sequence number of the last stored event.
    last_sequence: int = 0
    # Tenancy boundary: quotas, fair share and admission are per namespace.
    namespace: str = "default"
    # Set by a response that left a value out for its size: the size of its JSON encoding.
    inputs_omitted: int | None = None
    outputs_omitted: int | None = None
    # While paused no new attempt starts (those running finish).
    paused: bool = False
    # The execution whose `workflow:` task started this one ("" for none).
    parent_execution_id: str = ""


class ValuePart(enum.Enum):
    """One value of an execution that can be read on its own, whatever its size."""

    INPUTS = "INPUTS"
    OUTPUTS = "OUTPUTS"
    TASK_OUTPUT = "TASK_OUTPUT"


class EventType(enum.Enum):
    EXECUTION_STARTED = "EXECUTION_STARTED"
    EXECUTION_RUNNING = "EXECUTION_RUNNING"
    EXECUTION_SUCCEEDED = "EXECUTION_SUCCEEDED"
    EXECUTION_FAILED = "EXECUTION_FAILED"
    EXECUTION_CANCELLED = "EXECUTION_CANCELLED"
    EXECUTION_TIMED_OUT = "EXECUTION_TIMED_OUT"
    EXECUTION_RESUMED = "EXECUTION_RESUMED"
    EXECUTION_QUEUED = "EXECUTION_QUEUED"
    TASK_SCHEDULED = "TASK_SCHEDULED"
    ATTEMPT_STARTED = "ATTEMPT_STARTED"
    ATTEMPT_SUCCEEDED = "ATTEMPT_SUCCEEDED"
    ATTEMPT_FAILED = "ATTEMPT_FAILED"
    ATTEMPT_TIMED_OUT = "ATTEMPT_TIMED_OUT"
    ATTEMPT_LOST = "ATTEMPT_LOST"
    ATTEMPT_PREEMPTED = "ATTEMPT_PREEMPTED"
    ATTEMPT_HEARTBEAT = "ATTEMPT_HEARTBEAT"
    TASK_RETRYING = "TASK_RETRYING"
    TASK_SUCCEEDED = "TASK_SUCCEEDED"
    TASK_FAILED = "TASK_FAILED"
    TASK_TIMED_OUT = "TASK_TIMED_OUT"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_SKIPPED = "TASK_SKIPPED"
    TASK_WAITING = "TASK_WAITING"  # for a signal, a timer or a child execution
    SIGNAL_RECEIVED = "SIGNAL_RECEIVED"
    EXECUTION_PAUSED = "EXECUTION_PAUSED"
    EXECUTION_UNPAUSED = "EXECUTION_UNPAUSED"
    EXECUTION_MODIFIED = "EXECUTION_MODIFIED"
    # A finished execution runs again from its unfinished tasks (RetryExecution).
    EXECUTION_RETRIED = "EXECUTION_RETRIED"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL_EVENTS


_TERMINAL_EVENTS = {
    EventType.EXECUTION_SUCCEEDED,
    EventType.EXECUTION_FAILED,
    EventType.EXECUTION_CANCELLED,
    EventType.EXECUTION_TIMED_OUT,
}


@dataclass(frozen=True)
class Event:
    execution_id: str
    sequence: int
    type: EventType
    time: float
    task_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)
