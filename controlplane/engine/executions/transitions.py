"""What each change of an execution writes: moves the in-memory record through its lifecycle and
appends the rows and events to a batch. No I/O and no waiting; the runner decides when a change
happens and commits the batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from controlplane.engine.executions.heartbeats import HeardBeat
from controlplane.engine.executions.outputs import output_problem, value_error
from controlplane.engine.executions.plan import ExecutionPlan, Phase
from controlplane.engine.executions.triggers import condition_false, not_triggered
from controlplane.store import PrecedingWriteFailed, WriteBatch
from controlplane.store.signals import StoredSignal, insert_statement
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
from models.workflows import FailureMode, TaskDefinition, TaskKind, WorkflowDefinition

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


# A condition: its CEL text and the activation -> its value (raises when it cannot be evaluated).
Evaluate = Callable[[str, Mapping[str, Any]], bool]
# Errors a stop leaves on a running execution while its finally tasks run: what it ends as.
STOPS = {"Cancelled": ExecutionStatus.CANCELLED, "WorkflowTimeout": ExecutionStatus.TIMED_OUT}
# Tasks that wait without a replica: their attempt survives a restart.
WAITING = frozenset({TaskKind.SLEEP, TaskKind.SIGNAL, TaskKind.WORKFLOW})


class Transitions:
    def __init__(
        self,
        record: ExecutionRecord,
        definition: WorkflowDefinition,
        plan: ExecutionPlan,
        clock: Callable[[], float],
        evaluate: Evaluate,
    ) -> None:
        self.record = record
        self._definition = definition
        self._plan = plan
        self._order = list(plan.order)
        self._clock = clock
        self._evaluate = evaluate

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
            if task.status is TaskStatus.RUNNING and self._plan.task(task_id).kind in WAITING:
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
        """Schedules the tasks whose dependencies ended and whose trigger rule and condition
        hold, skips the others, then (the workflow's tasks all ended) runs the compensations
        of a failed execution and the finally tasks, and ends it. Returns the tasks to start."""
        if self.record.status.terminal:
            return []
        ready = self._schedule(batch, Phase.MAIN)
        if not self._ended(Phase.MAIN):
            return ready
        status, error, outputs = self._outcome()
        compensating = self._compensate(batch, status)
        if compensating is not None:
            return ready + compensating
        ready += self._schedule(batch, Phase.FINALLY, status)
        if not self._ended(Phase.FINALLY):
            return ready
        failed_finally = self._first_failed(Phase.FINALLY)
        if status is ExecutionStatus.SUCCEEDED and failed_finally is not None:
            status, error = ExecutionStatus.FAILED, failed_finally
        if status is ExecutionStatus.SUCCEEDED:
            self.record.outputs = outputs
        self.end(batch, status, error)
        return ready

    def _ended(self, phase: Phase) -> bool:
        return all(self.record.tasks[t].status.terminal for t in self._plan.ids(phase))

    def _schedule(
        self, batch: WriteBatch, phase: Phase, status: ExecutionStatus | None = None
    ) -> list[str]:
        ready: list[str] = []
        tasks = self.record.tasks
        for task_id in self._plan.ids(phase):  # topological: a skip propagates in one pass
            task = tasks[task_id]
            if task.status is not TaskStatus.PENDING:
                continue
            spec = self._plan.task(task_id)
            # Finally tasks wait only for the finally tasks they depend on.
            deps = [d for d in spec.depends_on if self._plan.phases.get(d) is phase]
            if not all(tasks[d].status.terminal for d in deps):
                continue
            reason = not_triggered(spec.trigger, [tasks[d].status for d in deps])
            if reason is None and spec.when:
                try:
                    holds = self._evaluate(spec.when, self._activation(status))
                except Exception as exc:
                    self._fail_unstarted(batch, task, ErrorInfo("ConditionError", str(exc)))
                    continue
                if not holds:
                    reason = condition_false(spec.when)
            if reason is not None:
                self._skip(batch, task, reason)
                continue
            self.set_task(batch, task, TaskStatus.SCHEDULED)
            self.event(batch, EventType.TASK_SCHEDULED, task_id)
            ready.append(task_id)
        return ready

    def _activation(self, status: ExecutionStatus | None) -> dict[str, Any]:
        """What a condition sees: the inputs, every task's status and output, and in the
        finally phase what the execution ends as."""
        activation: dict[str, Any] = {
            "inputs": self.record.inputs,
            "tasks": {
                tid: {"status": t.status.value, "output": t.output}
                for tid, t in self.record.tasks.items()
            },
        }
        if status is not None:
            activation["execution"] = {"status": status.value}
        return activation

    def _skip(self, batch: WriteBatch, task: TaskRecord, reason: ErrorInfo) -> None:
        task.error = ErrorInfo(reason.type, reason.message, task.task_id)
        self.set_task(batch, task, TaskStatus.SKIPPED)
        self.event(
            batch, EventType.TASK_SKIPPED, task.task_id, reason=reason.message, cause=reason.type
        )

    def _fail_unstarted(self, batch: WriteBatch, task: TaskRecord, error: ErrorInfo) -> None:
        """A task that cannot start (its condition fails to evaluate) fails without attempts."""
        self._task_failed(batch, task, error)

    def _outcome(self) -> tuple[ExecutionStatus, ErrorInfo | None, dict[str, Any] | None]:
        """What the execution ends as once its workflow tasks ended (before compensations and
        finally tasks), with its resolved outputs when it succeeded."""
        stop = self.record.error
        if stop is not None and stop.type in STOPS:
            return STOPS[stop.type], stop, None
        failed = self._first_failed(Phase.MAIN)
        if failed is not None:
            return ExecutionStatus.FAILED, failed, None
        outputs = self.task_outputs()
        try:
            resolved = resolve(self._definition.outputs, self.record.inputs, outputs, "outputs")
        except ReferenceResolutionError as exc:
            return ExecutionStatus.FAILED, ErrorInfo("OutputResolutionError", str(exc)), None
        if self._definition.outputs is None:
            resolved = {}
        resolved = resolved if isinstance(resolved, dict) else {"value": resolved}
        if (refused := value_error(resolved, "outputs", "InvalidOutputs")) is not None:
            return ExecutionStatus.FAILED, refused, None
        return ExecutionStatus.SUCCEEDED, None, resolved

    def _first_failed(self, phase: Phase) -> ErrorInfo | None:
        for task_id in self._plan.ids(phase):
            task = self.record.tasks[task_id]
            if task.status in _FAILED_TASK:
                error = task.error or ErrorInfo("TaskFailed", f"task {task_id} failed")
                return ErrorInfo(error.type, error.message, task_id)
        return None

    def _compensate(self, batch: WriteBatch, status: ExecutionStatus) -> list[str] | None:
        """Runs the compensations of a failed execution one at a time, the last completed
        task's first; skips them otherwise. None once none is left to run."""
        tasks = self.record.tasks
        due = self._plan.compensated(self.record) if status is ExecutionStatus.FAILED else []
        for cid in self._plan.ids(Phase.COMPENSATION):
            if cid not in due and tasks[cid].status is TaskStatus.PENDING:
                why = "the execution did not fail" if not due else "its task did not succeed"
                self._skip(batch, tasks[cid], ErrorInfo("NotCompensated", why))
        for cid in due:
            task = tasks[cid]
            if task.status is TaskStatus.PENDING:
                self.set_task(batch, task, TaskStatus.SCHEDULED)
                self.event(batch, EventType.TASK_SCHEDULED, cid, reason="compensating")
                return [cid]
            if not task.status.terminal:
                return []
        return None

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
        if (
            self._definition.failure_mode is FailureMode.FAIL_FAST
            and self._plan.phases.get(task.task_id) is Phase.MAIN
        ):
            cause = ErrorInfo("Cancelled", f"fail_fast: task {task.task_id} failed")
            for other in self._plan.ids(Phase.MAIN):
                if not self.record.tasks[other].status.terminal:
                    self._cancel_task(batch, self.record.tasks[other], cause)

    # -- signals and pauses -----------------------------------------------------------------

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

    # -- stopping and faults ----------------------------------------------------------------

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
        for task_id in self._order:
            task = self.record.tasks[task_id]
            if not task.status.terminal and task_id not in keep:
                self._cancel_task(batch, task, error)
        if not keep:
            self.end(batch, status, error)
            return []
        self.record.error = error
        return self.advance(batch)

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
