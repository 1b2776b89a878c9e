"""What each change of an execution writes: moves the in-memory record through its lifecycle and
appends the rows and events to a batch. No I/O and no waiting; the runner decides when a change
happens and commits the batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.engine.executions.changes import STOPS, Evaluate
from controlplane.engine.executions.heartbeats import HeardBeat
from controlplane.engine.executions.modifications import assign, set_value
from controlplane.engine.executions.outputs import output_problem
from controlplane.engine.executions.plan import ExecutionPlan, Phase
from controlplane.engine.executions.progress import Progress
from controlplane.store import PrecedingWriteFailed, WriteBatch
from controlplane.store.signals import StoredSignal, insert_statement
from controlplane.store.write_batch import delete_task_statement
from models.backend import AttemptOutcome
from models.executions import (
    ATTEMPT_LIFECYCLE,
    TASK_LIFECYCLE,
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    EventType,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.modifications import Operation, OperationKind
from models.values import shorten
from models.workflows import TaskDefinition, TaskKind, WorkflowDefinition

# The lifecycle lets only a running task fail: how a task that never reached a replica gets there.
_TO_RUNNING = {
    TaskStatus.PENDING: TaskStatus.SCHEDULED,
    TaskStatus.RETRYING: TaskStatus.SCHEDULED,
    TaskStatus.SCHEDULED: TaskStatus.RUNNING,
}
MAX_CAUSE_CHARS = 500
# Attempts of one task lost with their nodes before the next such loss counts as a failure
# (a node that keeps dying under a task is then the retry policy's business).
MAX_LOST_WITH_NODES = 3
# Tasks that wait without a replica: their attempt survives a restart.
WAITING = frozenset({TaskKind.SLEEP, TaskKind.SIGNAL, TaskKind.WORKFLOW})
__all__ = ["Evaluate", "Transitions", "engine_error"]


def _lost_with_nodes(task: TaskRecord) -> int:
    return sum(
        1
        for a in task.attempts
        if a.status is AttemptStatus.LOST and a.error is not None and a.error.type == "NodeLost"
    )


def waiting_for(spec: TaskDefinition) -> dict[str, object]:
    """What a task that waits without a replica waits for (its TASK_WAITING event)."""
    if spec.kind is TaskKind.SIGNAL:
        return {"signal": spec.wait_for_signal, "timeout_s": spec.timeout_s}
    if spec.kind is TaskKind.SLEEP:
        return {"sleep_s": spec.sleep_s}
    return {"workflow": spec.workflow, "revision": spec.workflow_revision}


def engine_error(cause: BaseException, task_id: str = "") -> ErrorInfo:
    """The typed error of a change the engine could not record, naming the cause."""
    text = shorten(f"{type(cause).__name__}: {cause}", MAX_CAUSE_CHARS)
    return ErrorInfo("EngineError", f"the engine could not record a change: {text}", task_id)


class Transitions(Progress):
    def launched(self, batch: WriteBatch) -> list[str]:
        """A new execution starts, or one recovered from the store resumes; returns the tasks
        to start."""
        to_start: list[str] = []
        if self.record.status is ExecutionStatus.PENDING:
            self.set_status(ExecutionStatus.RUNNING)
            self.record.start_time = self._clock()
            self.event(batch, EventType.EXECUTION_RUNNING)
        else:
            self.event(batch, EventType.EXECUTION_RESUMED)
            self.resume_fan_outs()
            to_start = self._requeue_in_flight(batch)
        return to_start + self.advance(batch)

    def _requeue_in_flight(self, batch: WriteBatch) -> list[str]:
        """Attempts that were running when the control plane stopped are lost: record that
        and schedule the task again."""
        to_start: list[str] = []
        for task_id, task in list(self.record.tasks.items()):
            spec = self._plan.task(task_id)
            if task.status is TaskStatus.RUNNING and (spec.for_each or spec.loop) is not None:
                continue  # its items or iterations are requeued themselves
            if task.status is TaskStatus.RUNNING and spec.kind in WAITING:
                to_start.append(task_id)  # a timer or a wait for a signal goes on as stored
                continue
            if task.status is TaskStatus.RUNNING:
                lost = ErrorInfo("ControlPlaneRestarted", "attempt lost in a restart")
                self.requeue(batch, task, lost, "resumed")
            if task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING):
                to_start.append(task_id)
        return to_start

    def requeue(self, batch: WriteBatch, task: TaskRecord, lost: ErrorInfo, reason: str) -> None:
        """The running attempt is lost (not charged to the retry policy); the task waits for
        dispatch again."""
        self._end_attempt(batch, task, task.attempts[-1], AttemptStatus.LOST, lost)
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.event(batch, EventType.TASK_SCHEDULED, task.task_id, reason=reason)

    def _end_attempt(
        self,
        batch: WriteBatch,
        task: TaskRecord,
        attempt: AttemptRecord,
        status: AttemptStatus,
        error: ErrorInfo,
    ) -> None:
        """Ends a running attempt LOST or FAILED with `error`, and says so in an event."""
        ATTEMPT_LIFECYCLE.move(attempt, status)
        attempt.end_time, attempt.error = self._clock(), error
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        event = EventType.ATTEMPT_LOST if status is AttemptStatus.LOST else EventType.ATTEMPT_FAILED
        self.event(
            batch,
            event,
            task.task_id,
            attempt=attempt.number,
            error={"type": error.type, "message": error.message},
        )

    def retry_scheduled(self, batch: WriteBatch, task: TaskRecord) -> None:
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.event(batch, EventType.TASK_SCHEDULED, task.task_id, attempt=len(task.attempts) + 1)

    def attempt_started(
        self, batch: WriteBatch, task: TaskRecord, replica: str, version: str, node: str | None
    ) -> AttemptRecord:
        attempt = AttemptRecord(
            number=len(task.attempts) + 1,
            status=AttemptStatus.RUNNING,
            replica=replica,
            agent_version=version,
            start_time=self._clock(),
        )
        task.attempts.append(attempt)
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self.set_task(batch, task, TaskStatus.RUNNING)
        self.event(
            batch,
            EventType.ATTEMPT_STARTED,
            task.task_id,
            attempt=attempt.number,
            replica=replica,
            agent_version=version,
            **({"node": node} if node else {}),
        )
        spec = self._plan.task(task.task_id)
        if spec.kind in WAITING:
            self.event(batch, EventType.TASK_WAITING, task.task_id, **waiting_for(spec))
        return attempt

    def heartbeat(
        self, batch: WriteBatch, task: TaskRecord, attempt: AttemptRecord, beat: HeardBeat | None
    ) -> None:
        """Records the running attempt's latest heartbeat on its task: when it was heard, and
        its new details with an ATTEMPT_HEARTBEAT event."""
        if beat is None or attempt.status is not AttemptStatus.RUNNING:
            return
        task.last_heartbeat_time = beat.time
        if beat.details is not None:
            task.last_heartbeat = beat.details
            self.event(
                batch,
                EventType.ATTEMPT_HEARTBEAT,
                task.task_id,
                attempt=attempt.number,
                details=beat.details,
            )
        batch.put_heartbeat(self.execution_id, task)

    def preempted(
        self,
        batch: WriteBatch,
        task: TaskRecord,
        attempt: AttemptRecord,
        reason: str,
        heartbeat: HeardBeat | None = None,
    ) -> None:
        """The attempt was stopped for another namespace: record why and requeue the task
        (not charged against its retry policy)."""
        if task.status.terminal or self.record.status.terminal:
            return
        self.heartbeat(batch, task, attempt, heartbeat)
        ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.PREEMPTED)
        attempt.end_time = self._clock()
        attempt.error = ErrorInfo("Preempted", reason)
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self.event(
            batch, EventType.ATTEMPT_PREEMPTED, task.task_id, attempt=attempt.number, reason=reason
        )
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.event(
            batch, EventType.TASK_SCHEDULED, task.task_id, reason="requeued after preemption"
        )

    def settled(
        self,
        batch: WriteBatch,
        task: TaskRecord,
        spec: TaskDefinition,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
        *,
        timed_out: bool,
        retryable: bool,
        heartbeat: HeardBeat | None = None,
    ) -> list[str]:
        """Records an attempt's outcome (after its latest unrecorded heartbeat) and what
        follows from it; returns the tasks to start."""
        if task.status.terminal or self.record.status.terminal:
            return []  # cancelled or timed out meanwhile; that path recorded the attempt
        if attempt.status is not AttemptStatus.RUNNING:
            return []  # ended meanwhile (lost with a change that was not recorded)
        self.heartbeat(batch, task, attempt, heartbeat)
        if (
            outcome.ok
            and (problem := output_problem(outcome.output, max_depth=self._limits.value_depth))
            is not None
        ):
            outcome, retryable = AttemptOutcome(ok=False, error=problem), False
        tid = task.task_id
        attempt.end_time = self._clock()
        duration = round(attempt.end_time - attempt.start_time, 6)
        if outcome.ok:
            ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.SUCCEEDED)
            task.output = outcome.output
            self.event(
                batch, EventType.ATTEMPT_SUCCEEDED, tid, attempt=attempt.number, duration_s=duration
            )
            self.set_task(batch, task, TaskStatus.SUCCEEDED)
            self.event(batch, EventType.TASK_SUCCEEDED, tid, output=outcome.output)
        elif outcome.node_lost and _lost_with_nodes(task) < MAX_LOST_WITH_NODES:
            # Not the attempt's doing: it runs again, on a node that is alive, uncharged.
            error = outcome.error or ErrorInfo("NodeLost", "the replica's node died")
            self.requeue(batch, task, error, "node lost")
            return self.advance(batch)
        else:
            error = outcome.error or ErrorInfo("Unknown", "attempt failed")
            ATTEMPT_LIFECYCLE.move(
                attempt, AttemptStatus.TIMED_OUT if timed_out else AttemptStatus.FAILED
            )
            attempt.error = error
            self.event(
                batch,
                EventType.ATTEMPT_TIMED_OUT if timed_out else EventType.ATTEMPT_FAILED,
                tid,
                attempt=attempt.number,
                error={"type": error.type, "message": error.message},
                replica_crashed=outcome.replica_crashed,
                duration_s=duration,
            )
            policy = spec.retry
            if (
                retryable
                and outcome.retryable
                and error.type not in policy.non_retryable_errors
                and task.charged_attempts() < policy.max_attempts
            ):
                self.set_task(batch, task, TaskStatus.RETRYING)
                delay = policy.delay_honouring(task.charged_attempts() + 1, outcome.retry_after_s)
                self.event(
                    batch,
                    EventType.TASK_RETRYING,
                    tid,
                    next_attempt=len(task.attempts) + 1,
                    delay_s=delay,
                )
            else:
                self._task_failed(batch, task, error, timed_out)
        batch.put_attempt(self.execution_id, tid, attempt)
        return self.advance(batch)

    def signal_received(self, batch: WriteBatch, signal: StoredSignal) -> None:
        batch.statements.append(insert_statement(signal))
        self.event(
            batch,
            EventType.SIGNAL_RECEIVED,
            name=signal.name,
            signal=signal.sequence,
            request_id=signal.request_id,
        )

    def paused(self, batch: WriteBatch, paused: bool, reason: str) -> None:
        if self.record.paused == paused or self.record.status.terminal:
            return
        self.record.paused = paused
        self.event(
            batch,
            EventType.EXECUTION_PAUSED if paused else EventType.EXECUTION_UNPAUSED,
            reason=reason,
        )

    def modified(
        self,
        batch: WriteBatch,
        operations: Sequence[Operation],
        definition: WorkflowDefinition,
        details: dict[str, Any],
    ) -> list[str]:
        """Applies a checked batch of operations: the execution's definition becomes
        `definition`, its records follow, and one event says what changed and why."""
        self._definition, self._plan = definition, ExecutionPlan.of(definition)
        self._order = list(self._plan.order)
        self._referable = frozenset(self._order)
        self.event(batch, EventType.EXECUTION_MODIFIED, **details)  # the cause before effects
        tasks = self.record.tasks
        for op in operations:
            if op.kind is OperationKind.ADD_TASK:
                spec = self._plan.task(op.task_id)
                tasks[op.task_id] = TaskRecord(op.task_id, spec.agent, depends_on=spec.depends_on)
                batch.put_task(self.execution_id, tasks[op.task_id])
            elif op.kind is OperationKind.REMOVE_TASK:
                del tasks[op.task_id]
                batch.statements.append(delete_task_statement(self.execution_id, op.task_id))
            elif op.kind is OperationKind.SKIP_TASK:
                reason = details.get("reason") or "skipped by an operator"
                self._skip(batch, tasks[op.task_id], ErrorInfo("SkippedByOperator", reason))
            elif op.kind is OperationKind.SET_VALUE:
                inputs, path = set_value(self.record.inputs, op.path)
                assign(inputs, path, op.value)
                self.record.inputs = inputs
            elif op.kind is OperationKind.UPDATE_TASK and op.has_input:
                tasks[op.task_id].depends_on = self._plan.task(op.task_id).depends_on
        return self.advance(batch)

    def stopped(self, batch: WriteBatch, status: ExecutionStatus, error: ErrorInfo) -> list[str]:
        """Cancelled or timed out: every unfinished task is cancelled and the execution ends
        (nothing if it already ended). With finally tasks still to run, they run first (the
        stop is kept as the execution's error); a second stop cancels them too. Returns the
        tasks to start."""
        if self.record.status.terminal:
            return []
        stopping = self.record.error is not None and self.record.error.type in STOPS
        finals = [
            t for t in self._plan.ids(Phase.FINALLY) if not self.record.tasks[t].status.terminal
        ]
        keep = set(finals) if finals and not stopping else set()
        for task_id, task in list(self.record.tasks.items()):
            if not task.status.terminal and task_id not in keep:
                self._cancel_task(batch, task, error)
        if not keep:
            self.end(batch, status, error)
            return []
        self.record.error = error
        return self.advance(batch)

    def recovered(self, batch: WriteBatch, faults: Mapping[str, BaseException]) -> list[str]:
        """After changes that could not be recorded (the record says again what the store
        holds): a task whose own change failed fails for good with an EngineError, a task whose
        change was only left unwritten behind it runs again, and a failed change of the whole
        execution ("" in `faults`: its start or its end) ends it FAILED. Returns the tasks to
        start."""
        whole = faults.get("")
        if whole is not None and not isinstance(whole, PrecedingWriteFailed):
            self.stopped(batch, ExecutionStatus.FAILED, engine_error(whole))
            return []
        to_start: list[str] = []
        for task_id, task in list(self.record.tasks.items()):
            cause = faults.get(task_id)
            if cause is None or task.status.terminal:
                continue
            if not isinstance(cause, PrecedingWriteFailed):
                self.failed_by_engine(batch, task, engine_error(cause, task_id))
                continue
            if task.status is TaskStatus.RUNNING:
                lost = ErrorInfo("ChangeNotRecorded", str(cause))
                self.requeue(batch, task, lost, "requeued after a change was not recorded")
            if task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING):
                to_start.append(task_id)
        return to_start + self.advance(batch)

    def failed_by_engine(self, batch: WriteBatch, task: TaskRecord, error: ErrorInfo) -> None:
        """Fails the task for good: its last attempt (or one that never reached a replica)
        fails with `error`, and no retry follows, since the same outcome would fail again."""
        attempt = task.attempts[-1] if task.status is TaskStatus.RUNNING else None
        if attempt is None:
            while task.status is not TaskStatus.RUNNING:
                TASK_LIFECYCLE.move(task, _TO_RUNNING[task.status])
            attempt = AttemptRecord(
                len(task.attempts) + 1, AttemptStatus.RUNNING, start_time=self._clock()
            )
            task.attempts.append(attempt)
        self._end_attempt(batch, task, attempt, AttemptStatus.FAILED, error)
        self._task_failed(batch, task, error)
