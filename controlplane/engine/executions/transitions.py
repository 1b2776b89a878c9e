"""What each change of an execution writes: moves the in-memory record through its lifecycle and
appends the rows and events to a batch. No I/O and no waiting; the runner decides when a change
happens and commits the batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controlplane.engine.executions.heartbeats import HeardBeat
from controlplane.engine.executions.outputs import output_problem, value_error
from controlplane.store import PrecedingWriteFailed, WriteBatch
from controlplane.workflow import ReferenceResolutionError, resolve
from models.backend import AttemptOutcome
from models.executions import (
    ATTEMPT_LIFECYCLE,
    EXECUTION_LIFECYCLE,
    TASK_LIFECYCLE,
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.values import shorten, sized_details
from models.workflows import TaskDefinition, WorkflowDefinition

_FAILED_TASK = (TaskStatus.FAILED, TaskStatus.TIMED_OUT)
_TERMINAL_EVENT = {
    ExecutionStatus.SUCCEEDED: EventType.EXECUTION_SUCCEEDED,
    ExecutionStatus.FAILED: EventType.EXECUTION_FAILED,
    ExecutionStatus.CANCELLED: EventType.EXECUTION_CANCELLED,
    ExecutionStatus.TIMED_OUT: EventType.EXECUTION_TIMED_OUT,
}
# The lifecycle lets only a running task fail: how a task that never reached a replica gets there.
_TO_RUNNING = {
    TaskStatus.PENDING: TaskStatus.SCHEDULED,
    TaskStatus.RETRYING: TaskStatus.SCHEDULED,
    TaskStatus.SCHEDULED: TaskStatus.RUNNING,
}
MAX_CAUSE_CHARS = 500


def engine_error(cause: BaseException, task_id: str = "") -> ErrorInfo:
    """The typed error of a change the engine could not record, naming the cause."""
    text = shorten(f"{type(cause).__name__}: {cause}", MAX_CAUSE_CHARS)
    return ErrorInfo("EngineError", f"the engine could not record a change: {text}", task_id)


class Transitions:
    def __init__(
        self,
        record: ExecutionRecord,
        definition: WorkflowDefinition,
        order: list[str],
        clock: Callable[[], float],
    ) -> None:
        self.record = record
        self._definition = definition
        self._order = order
        self._clock = clock

    @property
    def execution_id(self) -> str:
        return self.record.execution_id

    # -- starting ---------------------------------------------------------------------------

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
            to_start = self._requeue_in_flight(batch)
        return to_start + self.advance(batch)

    def _requeue_in_flight(self, batch: WriteBatch) -> list[str]:
        """Attempts that were running when the control plane stopped are lost: record that
        and schedule the task again."""
        to_start: list[str] = []
        for task_id in self._order:
            task = self.record.tasks[task_id]
            if task.status is TaskStatus.RUNNING:
                lost = ErrorInfo("ControlPlaneRestarted", "attempt lost in a restart")
                self.requeue(batch, task, lost, "resumed")
            if task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING):
                to_start.append(task_id)
        return to_start

    def requeue(self, batch: WriteBatch, task: TaskRecord, lost: ErrorInfo, reason: str) -> None:
        """The running attempt is lost (not charged to the retry policy); the task waits for
        dispatch again."""
        attempt = task.attempts[-1]
        ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.LOST)
        attempt.end_time = self._clock()
        attempt.error = lost
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self.event(batch, EventType.ATTEMPT_LOST, task.task_id, attempt=attempt.number)
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.event(batch, EventType.TASK_SCHEDULED, task.task_id, reason=reason)

    # -- scheduling -------------------------------------------------------------------------

    def advance(self, batch: WriteBatch) -> list[str]:
        """Schedules tasks whose dependencies succeeded, skips those behind a failure, and
        finishes the execution when nothing is left. Returns the tasks to start."""
        if self.record.status.terminal:
            return []
        ready: list[str] = []
        tasks = self.record.tasks
        for task_id in self._order:  # topological order: a skip propagates in one pass
            task = tasks[task_id]
            if task.status is not TaskStatus.PENDING:
                continue
            deps = [tasks[d].status for d in task.depends_on]
            if all(s is TaskStatus.SUCCEEDED for s in deps):
                self.set_task(batch, task, TaskStatus.SCHEDULED)
                self.event(batch, EventType.TASK_SCHEDULED, task_id)
                ready.append(task_id)
            elif any(s.terminal and s is not TaskStatus.SUCCEEDED for s in deps):
                self.set_task(batch, task, TaskStatus.SKIPPED)
                self.event(
                    batch,
                    EventType.TASK_SKIPPED,
                    task_id,
                    reason="an upstream task did not succeed",
                )
        if all(t.status.terminal for t in tasks.values()):
            self._complete(batch)
        return ready

    def _complete(self, batch: WriteBatch) -> None:
        failed = [
            self.record.tasks[t] for t in self._order if self.record.tasks[t].status in _FAILED_TASK
        ]
        if failed:
            first = failed[0]
            error = first.error or ErrorInfo("TaskFailed", f"task {first.task_id} failed")
            self.end(
                batch, ExecutionStatus.FAILED, ErrorInfo(error.type, error.message, first.task_id)
            )
            return
        outputs = self.task_outputs()
        try:
            resolved = resolve(self._definition.outputs, self.record.inputs, outputs, "outputs")
        except ReferenceResolutionError as exc:
            self.end(batch, ExecutionStatus.FAILED, ErrorInfo("OutputResolutionError", str(exc)))
            return
        if self._definition.outputs is None:
            resolved = {}
        resolved = resolved if isinstance(resolved, dict) else {"value": resolved}
        if (refused := value_error(resolved, "outputs", "InvalidOutputs")) is not None:
            self.end(batch, ExecutionStatus.FAILED, refused)
            return
        self.record.outputs = resolved
        self.end(batch, ExecutionStatus.SUCCEEDED, None)

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

    def task_outputs(self) -> dict[str, object]:
        return {
            tid: t.output
            for tid, t in self.record.tasks.items()
            if t.status is TaskStatus.SUCCEEDED
        }

    # -- one task ---------------------------------------------------------------------------

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
        if outcome.ok and (problem := output_problem(outcome.output)) is not None:
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

    # -- stopping and faults ----------------------------------------------------------------

    def stopped(self, batch: WriteBatch, status: ExecutionStatus, error: ErrorInfo) -> None:
        """Ends the execution: every unfinished task is cancelled (nothing if already ended)."""
        if self.record.status.terminal:
            return
        now = self._clock()
        for task_id in self._order:
            task = self.record.tasks[task_id]
            if task.status.terminal:
                continue
            if task.status is TaskStatus.RUNNING and task.attempts:
                attempt = task.attempts[-1]
                ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.CANCELLED)
                attempt.end_time, attempt.error = now, error
                batch.put_attempt(self.execution_id, task_id, attempt)
            self.set_task(batch, task, TaskStatus.CANCELLED)
            self.event(batch, EventType.TASK_CANCELLED, task_id, reason=error.message)
        self.end(batch, status, error)

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
        for task_id in self._order:
            cause = faults.get(task_id)
            task = self.record.tasks[task_id]
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
        ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.FAILED)
        attempt.end_time, attempt.error = self._clock(), error
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self.event(
            batch,
            EventType.ATTEMPT_FAILED,
            task.task_id,
            attempt=attempt.number,
            error={"type": error.type, "message": error.message},
        )
        self._task_failed(batch, task, error)

    # -- records ----------------------------------------------------------------------------

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
