"""The state machine of one execution.

Every change follows the same order: mutate the in-memory record, commit the rows and events
(group commit), then act (dispatch, cancel, notify watchers). Mutations happen on the event
loop without awaiting in between, so they never interleave half-way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.dispatch.grants import Grant, Rejected, TaskRequest
from controlplane.engine.executions.event_hub import EventHub
from controlplane.engine.executions.outputs import output_problem, value_error
from controlplane.ports import AgentBackend
from controlplane.store import StoreWriter, WriteBatch
from controlplane.workflow import ReferenceResolutionError, resolve, topological_order
from models.backend import AgentUnavailable, AttemptOutcome, AttemptRequest
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
from models.values import sized_details
from models.workflows import TaskDefinition, WorkflowDefinition
from scheduler.rolling import PlanTask

log = logging.getLogger(__name__)

_FAILED_TASK = (TaskStatus.FAILED, TaskStatus.TIMED_OUT)
_TERMINAL_EVENT = {
    ExecutionStatus.SUCCEEDED: EventType.EXECUTION_SUCCEEDED,
    ExecutionStatus.FAILED: EventType.EXECUTION_FAILED,
    ExecutionStatus.CANCELLED: EventType.EXECUTION_CANCELLED,
    ExecutionStatus.TIMED_OUT: EventType.EXECUTION_TIMED_OUT,
}


@dataclass
class Drain:
    """Set at shutdown: attempts in flight finish and are recorded, nothing new starts."""

    active: bool = False


@dataclass(frozen=True)
class RunnerDeps:
    writer: StoreWriter
    backend: AgentBackend
    hub: EventHub
    clock: Callable[[], float]
    dispatcher: Dispatcher
    drain: Drain = field(default_factory=lambda: Drain())


class ExecutionRunner:
    def __init__(
        self,
        record: ExecutionRecord,
        definition: WorkflowDefinition,
        deps: RunnerDeps,
        on_finished: Callable[[ExecutionRunner], None],
    ) -> None:
        self.record = record
        self._definition = definition
        self._deps = deps
        self._on_finished = on_finished
        self._order = topological_order(definition)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._deadline_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        # Tasks whose attempt is on a replica right now (what a graceful shutdown waits for).
        self._in_flight: set[str] = set()

    @property
    def execution_id(self) -> str:
        return self.record.execution_id

    # -- lifecycle ------------------------------------------------------------------------

    async def launch(self) -> None:
        """Starts a new execution, or resumes one recovered from the store."""
        batch = WriteBatch()
        now = self._deps.clock()
        to_start: list[str] = []
        if self.record.status is ExecutionStatus.PENDING:
            self._set_status(ExecutionStatus.RUNNING)
            self.record.start_time = now
            self._event(batch, EventType.EXECUTION_RUNNING)
        else:
            self._event(batch, EventType.EXECUTION_RESUMED)
            to_start = self._requeue_in_flight(batch, now)
        to_start += self._advance(batch)
        await self._commit(batch)
        if self.record.status.terminal:
            self._finished()
            return
        self._arm_deadline()
        for task_id in to_start:
            self._spawn(task_id)

    async def cancel(self, reason: str) -> None:
        await self._stop(ExecutionStatus.CANCELLED, ErrorInfo("Cancelled", reason or "cancelled"))

    async def shut_down(self, grace_s: float) -> None:
        """Stops local work without recording anything new: attempts in flight get `grace_s`
        to finish (their results are recorded), the rest is left as the store says, and the
        next start resumes from there."""
        for timer in (self._deadline_timer, self._deadline_task):
            if timer is not None:
                timer.cancel()
        for task_id, handle in self._tasks.items():
            if task_id not in self._in_flight:
                handle.cancel()
        busy = [self._tasks[t] for t in self._in_flight if t in self._tasks]
        if busy:
            await asyncio.wait(busy, timeout=grace_s)
        for handle in self._tasks.values():
            handle.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _requeue_in_flight(self, batch: WriteBatch, now: float) -> list[str]:
        """Attempts that were running when the control plane stopped are lost: record that
        and schedule the task again."""
        to_start: list[str] = []
        for task_id in self._order:
            task = self.record.tasks[task_id]
            if task.status is TaskStatus.RUNNING:
                attempt = task.attempts[-1]
                ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.LOST)
                attempt.end_time = now
                attempt.error = ErrorInfo("ControlPlaneRestarted", "attempt lost in a restart")
                batch.put_attempt(self.execution_id, task_id, attempt)
                self._event(batch, EventType.ATTEMPT_LOST, task_id, attempt=attempt.number)
                self._set_task(batch, task, TaskStatus.SCHEDULED)
                self._event(batch, EventType.TASK_SCHEDULED, task_id, reason="resumed")
            if task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING):
                to_start.append(task_id)
        return to_start

    # -- scheduling -----------------------------------------------------------------------

    def _advance(self, batch: WriteBatch) -> list[str]:
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
                self._set_task(batch, task, TaskStatus.SCHEDULED)
                self._event(batch, EventType.TASK_SCHEDULED, task_id)
                ready.append(task_id)
            elif any(s.terminal and s is not TaskStatus.SUCCEEDED for s in deps):
                self._set_task(batch, task, TaskStatus.SKIPPED)
                self._event(
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
            self._end(
                batch, ExecutionStatus.FAILED, ErrorInfo(error.type, error.message, first.task_id)
            )
            return
        outputs = self._task_outputs()
        try:
            resolved = resolve(self._definition.outputs, self.record.inputs, outputs, "outputs")
        except ReferenceResolutionError as exc:
            self._end(batch, ExecutionStatus.FAILED, ErrorInfo("OutputResolutionError", str(exc)))
            return
        if self._definition.outputs is None:
            resolved = {}
        resolved = resolved if isinstance(resolved, dict) else {"value": resolved}
        if (refused := value_error(resolved, "outputs", "InvalidOutputs")) is not None:
            self._end(batch, ExecutionStatus.FAILED, refused)
            return
        self.record.outputs = resolved
        self._end(batch, ExecutionStatus.SUCCEEDED, None)

    def _end(self, batch: WriteBatch, status: ExecutionStatus, error: ErrorInfo | None) -> None:
        self._set_status(status)
        self.record.error = error
        self.record.end_time = self._deps.clock()
        details: dict[str, object] = {}
        if error is not None:
            details["error"] = {
                "type": error.type,
                "message": error.message,
                "task_id": error.task_id,
            }
        if status is ExecutionStatus.SUCCEEDED:
            details["outputs"] = self.record.outputs
        self._event(batch, _TERMINAL_EVENT[status], "", **details)

    def _task_outputs(self) -> dict[str, object]:
        return {
            tid: t.output
            for tid, t in self.record.tasks.items()
            if t.status is TaskStatus.SUCCEEDED
        }

    # -- one task -------------------------------------------------------------------------

    def _spawn(self, task_id: str) -> None:
        coro = self._run_task(task_id, self._definition.task(task_id))
        handle = asyncio.get_running_loop().create_task(coro, name=f"{self.execution_id}/{task_id}")
        self._tasks[task_id] = handle
        handle.add_done_callback(functools.partial(self._task_done, task_id))

    def _task_done(self, task_id: str, handle: asyncio.Task[None]) -> None:
        if self._tasks.get(task_id) is handle:
            del self._tasks[task_id]
        error = None if handle.cancelled() else handle.exception()
        if error is not None:
            # Logged even when the execution already ended in memory: its last write may be the
            # one that failed, and a silent failure there is what leaves work hanging.
            log.error(
                "task %s/%s crashed in the engine", self.execution_id, task_id, exc_info=error
            )
        if error is not None and not self.record.status.terminal:
            # A bug, or the store refusing a write: fail the execution rather than leave it hanging.
            failure = ErrorInfo("InternalError", f"{type(error).__name__}: {error}", task_id)
            self._stopping = asyncio.get_running_loop().create_task(
                self._stop(ExecutionStatus.FAILED, failure)
            )

    async def _run_task(self, task_id: str, spec: TaskDefinition) -> None:
        task = self.record.tasks[task_id]
        preempted: Grant | None = None
        while not (task.status.terminal or self.record.status.terminal or self._deps.drain.active):
            if task.status is TaskStatus.RETRYING:
                await asyncio.sleep(spec.retry.delay_before(task.charged_attempts() + 1))
                if self.record.status.terminal:
                    return
                batch = WriteBatch()
                self._set_task(batch, task, TaskStatus.SCHEDULED)
                self._event(
                    batch, EventType.TASK_SCHEDULED, task_id, attempt=len(task.attempts) + 1
                )
                await self._commit(batch)
            try:
                task_input = resolve(spec.input, self.record.inputs, self._task_outputs(), "input")
                refused = value_error(task_input, "input", "InvalidInput")
            except ReferenceResolutionError as exc:
                refused = ErrorInfo("ReferenceResolutionError", str(exc))
            if refused is not None:
                attempt = await self._begin_attempt(task, "", "")
                outcome = AttemptOutcome(ok=False, error=refused)
                await self._settle(task, spec, attempt, outcome, retryable=False)
                return
            preempted = await self._dispatched_attempt(task, spec, task_input, preempted)

    async def _dispatched_attempt(
        self, task: TaskRecord, spec: TaskDefinition, task_input: object, previous: Grant | None
    ) -> Grant | None:
        """Waits for the dispatcher, runs one attempt on the granted node, gives the capacity
        back. Returns the grant when the attempt was preempted (the task is requeued)."""
        dispatcher = self._deps.dispatcher
        request = TaskRequest(
            execution_id=self.execution_id,
            task_id=task.task_id,
            attempt=len(task.attempts) + 1,
            namespace=self.record.namespace,
            agent=spec.agent,
            demand=spec.resources,
            placement=spec.placement,
            priority=spec.priority,
        )
        try:
            grant = await dispatcher.acquire(request, previous)
        except Rejected as exc:
            attempt = await self._begin_attempt(task, "", "")
            outcome = AttemptOutcome(ok=False, error=ErrorInfo("ResourceExhausted", str(exc)))
            await self._settle(task, spec, attempt, outcome, retryable=False)
            return None
        duration: float | None = None
        try:
            duration = await self._attempt(task, spec, task_input, grant)
        finally:
            dispatcher.release(grant, duration)
        return grant if grant.preempted else None

    async def _attempt(
        self, task: TaskRecord, spec: TaskDefinition, task_input: object, grant: Grant
    ) -> float | None:
        """One attempt under `grant`; returns its duration when it ran to an outcome."""
        backend = self._deps.backend
        try:
            async with backend.lease(spec.agent, grant.nodes) as lease:
                if self.record.status.terminal or self._deps.drain.active or grant.preempted:
                    return None
                self._in_flight.add(task.task_id)
                attempt = await self._begin_attempt(
                    task, lease.replica, lease.agent_version, grant.node
                )
                request = AttemptRequest(
                    self.execution_id, task.task_id, attempt.number, task_input
                )
                invocation = asyncio.ensure_future(backend.invoke(lease, request))
                grant.on_preempt(invocation.cancel)
                try:
                    outcome = await asyncio.wait_for(invocation, spec.timeout_s)
                    timed_out = False
                except TimeoutError:
                    timed_out = True
                    outcome = AttemptOutcome(
                        ok=False,
                        error=ErrorInfo("AttemptTimeout", f"attempt exceeded {spec.timeout_s}s"),
                    )
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if not grant.preempted or (current is not None and current.cancelling()):
                        raise
                    await self._preempted(task, attempt, grant.preempted)
                    return None
                finally:
                    grant.on_preempt(None)
        except AgentUnavailable as exc:
            attempt = await self._begin_attempt(task, "", "")
            outcome, timed_out = (
                AttemptOutcome(ok=False, error=ErrorInfo("AgentUnavailable", str(exc))),
                False,
            )
        await self._settle(task, spec, attempt, outcome, timed_out=timed_out)
        return outcome.duration_s if outcome.ok else None

    async def _preempted(self, task: TaskRecord, attempt: AttemptRecord, reason: str) -> None:
        """The attempt was stopped for another namespace: record why and requeue the task
        (not charged against its retry policy)."""
        self._in_flight.discard(task.task_id)
        if task.status.terminal or self.record.status.terminal:
            return
        batch = WriteBatch()
        ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.PREEMPTED)
        attempt.end_time = self._deps.clock()
        attempt.error = ErrorInfo("Preempted", reason)
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self._event(
            batch, EventType.ATTEMPT_PREEMPTED, task.task_id, attempt=attempt.number, reason=reason
        )
        self._set_task(batch, task, TaskStatus.SCHEDULED)
        self._event(
            batch, EventType.TASK_SCHEDULED, task.task_id, reason="requeued after preemption"
        )
        await self._commit(batch)

    async def _begin_attempt(
        self, task: TaskRecord, replica: str, version: str, node: str | None = None
    ) -> AttemptRecord:
        batch = WriteBatch()
        attempt = AttemptRecord(
            number=len(task.attempts) + 1,
            status=AttemptStatus.RUNNING,
            replica=replica,
            agent_version=version,
            start_time=self._deps.clock(),
        )
        task.attempts.append(attempt)
        batch.put_attempt(self.execution_id, task.task_id, attempt)
        self._set_task(batch, task, TaskStatus.RUNNING)
        self._event(
            batch,
            EventType.ATTEMPT_STARTED,
            task.task_id,
            attempt=attempt.number,
            replica=replica,
            agent_version=version,
            **({"node": node} if node else {}),
        )
        await self._commit(batch)
        return attempt

    async def _settle(
        self,
        task: TaskRecord,
        spec: TaskDefinition,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
        *,
        timed_out: bool = False,
        retryable: bool = True,
    ) -> None:
        self._in_flight.discard(task.task_id)
        if task.status.terminal or self.record.status.terminal:
            return  # cancelled or timed out meanwhile; that path recorded the attempt
        if outcome.ok and (problem := output_problem(outcome.output)) is not None:
            outcome, retryable = AttemptOutcome(ok=False, error=problem), False
        batch = WriteBatch()
        tid = task.task_id
        attempt.end_time = self._deps.clock()
        duration = round(attempt.end_time - attempt.start_time, 6)
        if outcome.ok:
            ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.SUCCEEDED)
            task.output = outcome.output
            self._event(
                batch, EventType.ATTEMPT_SUCCEEDED, tid, attempt=attempt.number, duration_s=duration
            )
            self._set_task(batch, task, TaskStatus.SUCCEEDED)
            self._event(batch, EventType.TASK_SUCCEEDED, tid, output=outcome.output)
        else:
            error = outcome.error or ErrorInfo("Unknown", "attempt failed")
            ATTEMPT_LIFECYCLE.move(
                attempt, AttemptStatus.TIMED_OUT if timed_out else AttemptStatus.FAILED
            )
            attempt.error = error
            self._event(
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
                and error.type not in policy.non_retryable_errors
                and task.charged_attempts() < policy.max_attempts
            ):
                self._set_task(batch, task, TaskStatus.RETRYING)
                delay = policy.delay_before(task.charged_attempts() + 1)
                self._event(
                    batch,
                    EventType.TASK_RETRYING,
                    tid,
                    next_attempt=len(task.attempts) + 1,
                    delay_s=delay,
                )
            else:
                task.error = ErrorInfo(error.type, error.message, tid)
                final = TaskStatus.TIMED_OUT if timed_out else TaskStatus.FAILED
                self._set_task(batch, task, final)
                self._event(
                    batch,
                    EventType.TASK_TIMED_OUT if timed_out else EventType.TASK_FAILED,
                    tid,
                    error={"type": error.type, "message": error.message},
                )
        batch.put_attempt(self.execution_id, tid, attempt)
        ready = self._advance(batch)
        await self._commit(batch)
        if self.record.status.terminal:
            self._finished()
        for task_id in ready:
            self._spawn(task_id)

    # -- stopping -------------------------------------------------------------------------

    def _arm_deadline(self) -> None:
        timeout = self._definition.timeout_s
        if timeout is None or self.record.start_time is None:
            return
        remaining = self.record.start_time + timeout - self._deps.clock()
        loop = asyncio.get_running_loop()
        self._deadline_timer = loop.call_later(max(remaining, 0.0), self._on_deadline, timeout)

    def _on_deadline(self, timeout: float) -> None:
        self._deadline_task = asyncio.get_running_loop().create_task(
            self._deadline_reached(timeout)
        )

    async def _deadline_reached(self, timeout: float) -> None:
        await self._stop(
            ExecutionStatus.TIMED_OUT,
            ErrorInfo("WorkflowTimeout", f"execution exceeded {timeout}s"),
        )

    async def _stop(self, status: ExecutionStatus, error: ErrorInfo) -> None:
        if self.record.status.terminal:
            return
        batch = WriteBatch()
        now = self._deps.clock()
        for task_id in self._order:
            task = self.record.tasks[task_id]
            if task.status.terminal:
                continue
            if task.status is TaskStatus.RUNNING and task.attempts:
                attempt = task.attempts[-1]
                ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.CANCELLED)
                attempt.end_time, attempt.error = now, error
                batch.put_attempt(self.execution_id, task_id, attempt)
            self._set_task(batch, task, TaskStatus.CANCELLED)
            self._event(batch, EventType.TASK_CANCELLED, task_id, reason=error.message)
        self._end(batch, status, error)
        running = list(self._tasks.values())
        await self._commit(batch)
        for handle in running:
            handle.cancel()  # cancels the Ray call on the replica
        self._finished()

    def _finished(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deps.dispatcher.forget_execution(self.execution_id)
        self._on_finished(self)

    def plan_tasks(self) -> list[PlanTask]:
        """Tasks that are neither finished nor running, with their unfinished dependencies
        (what a batch plan looks at: ready ones and those predicted to follow)."""
        out = []
        tasks = self.record.tasks
        for task_id in self._order:
            task = tasks[task_id]
            if task.status.terminal or task.status is TaskStatus.RUNNING:
                continue
            spec = self._definition.task(task_id)
            out.append(
                PlanTask(
                    self.execution_id,
                    task_id,
                    spec.agent,
                    duration_ms=0,
                    depends_on=tuple(d for d in task.depends_on if not tasks[d].status.terminal),
                    ready=task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING),
                    weight=1.0 + max(0, spec.priority),
                )
            )
        return out

    # -- helpers --------------------------------------------------------------------------

    def _set_status(self, status: ExecutionStatus) -> None:
        EXECUTION_LIFECYCLE.move(self.record, status)

    def _set_task(self, batch: WriteBatch, task: TaskRecord, status: TaskStatus) -> None:
        TASK_LIFECYCLE.move(task, status)
        batch.put_task(self.execution_id, task)

    def _event(
        self, batch: WriteBatch, type_: EventType, task_id: str = "", **details: object
    ) -> None:
        self.record.last_sequence += 1
        batch.add_event(
            Event(
                self.execution_id,
                self.record.last_sequence,
                type_,
                self._deps.clock(),
                task_id,
                sized_details(details),
            )
        )

    async def _commit(self, batch: WriteBatch) -> None:
        batch.put_execution(self.record)
        last = self.record.last_sequence
        await self._deps.writer.commit(batch)
        self._deps.hub.published(self.execution_id, last)
