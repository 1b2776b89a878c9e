"""The state machine of one execution.

Every change follows the same order: mutate the in-memory record and build its rows and events
(`Transitions`), commit them (group commit), then act (dispatch, cancel, notify watchers); only
an attempt's call goes out while its start commits (its outcome is written after it, in order).
Mutations happen on the event loop without awaiting in between, so they never interleave.

A change that cannot be recorded for any reason but a store outage (which the writer waits out)
is a fault: logged once with its traceback, later changes are held back, the record is brought
back to what the store holds, and the task whose change failed fails for good with an
`EngineError` (a failed change of the whole execution ends it FAILED). Nothing hangs and nothing
runs again in a loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from controlplane.engine.dispatch.grants import Grant, Rejected, TaskRequest
from controlplane.engine.executions.attempt_routing import agent_key, failed_on
from controlplane.engine.executions.children import ChildExecutions, run_child
from controlplane.engine.executions.commits import ExecutionWrites, nothing_to_commit
from controlplane.engine.executions.controls import ExecutionControls
from controlplane.engine.executions.deadline import Deadline
from controlplane.engine.executions.event_budget import EventBudget
from controlplane.engine.executions.fault_log import log_fault, stuck_because
from controlplane.engine.executions.heartbeats import AttemptBeats, HeartbeatLost, LiveHeartbeats
from controlplane.engine.executions.modifications import check
from controlplane.engine.executions.outputs import value_error
from controlplane.engine.executions.plan import ExecutionPlan
from controlplane.engine.executions.resync import adopt
from controlplane.engine.executions.runner_deps import RunnerDeps
from controlplane.engine.executions.transitions import Transitions
from controlplane.store import PrecedingWriteFailed, WriteBatch, is_outage
from controlplane.workflow import ReferenceResolutionError, resolve
from models.backend import AgentUnavailable, AttemptOutcome, AttemptRequest, NoUsableReplica
from models.errors import Internal
from models.executions import (
    AttemptRecord,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.modifications import Operation
from models.workflows import FailureMode, TaskDefinition, TaskKind, WorkflowDefinition
from scheduler.rolling import PlanTask

log = logging.getLogger(__name__)

T = TypeVar("T")
WAITS = frozenset({TaskKind.SLEEP, TaskKind.SIGNAL, TaskKind.WORKFLOW})
# Reconciliations whose own change was not recorded either, before the runner gives up.
MAX_FAILED_RECOVERIES = 2


class StepFailed(Exception):
    """A change was not recorded; its fault is logged and being reconciled with the store."""


class ExecutionRunner:
    def __init__(
        self,
        record: ExecutionRecord,
        definition: WorkflowDefinition,
        deps: RunnerDeps,
        on_finished: Callable[[ExecutionRunner], None],
        children: ChildExecutions,
    ) -> None:
        self.record = record
        self._deps = deps
        self._on_finished = on_finished
        plan = ExecutionPlan.of(definition)
        self._t = Transitions(record, definition, plan, deps.clock, deps.evaluate, deps.limits)
        self._writes = ExecutionWrites(deps.writer, record.execution_id, self._fault)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deadline = Deadline(deps.clock, self._stop)
        self._events = EventBudget(deps.limits.events_per_execution, self._stop)
        self._children = children
        # Tasks whose attempt is on a replica right now (what a graceful shutdown waits for).
        self._in_flight: set[str] = set()
        # Tasks waiting for a replica of their agent (task id -> agent), to say why they wait.
        self.leasing: dict[str, str] = {}
        # The wait an agent asked for before the next attempt of a task (HTTP Retry-After).
        self._retry_after: dict[str, float] = {}
        # Changes not recorded, by task ("" for the whole execution), until reconciled.
        self._faults: dict[str, BaseException] = {}
        self._recovery: asyncio.Task[None] | None = None
        # Why no change of the execution can be recorded at all (it stays as stored).
        self._stuck = ""
        self._beats = LiveHeartbeats(record.execution_id, deps.clock)
        self._ended = False
        # Signals, pauses and the tasks that wait for them.
        self.controls = ExecutionControls(
            record.execution_id, deps.clock, deps.signals, self._step, self._t
        )

    @property
    def execution_id(self) -> str:
        return self.record.execution_id

    # -- lifecycle ------------------------------------------------------------------------

    async def launch(self) -> None:
        """Starts a new execution, or resumes one recovered from the store."""
        try:
            to_start = await self._step("", self._t.launched)
        except StepFailed:
            return  # the reconciliation ends it
        if self.record.status.terminal:
            self._finished()
            return
        self._arm_deadline()
        for task_id in to_start:
            self._spawn(task_id)

    async def cancel(self, reason: str) -> None:
        await self._stop(ExecutionStatus.CANCELLED, ErrorInfo("Cancelled", reason or "cancelled"))
        if self._stuck:
            raise Internal(f"execution {self.execution_id} cannot be changed: {self._stuck}")

    async def shut_down(self, grace_s: float) -> None:
        """Stops local work without recording anything new: attempts in flight get `grace_s`
        to finish (their results are recorded), the rest is left as the store says, and the
        next start resumes from there."""
        self._deadline.cancel()
        self._events.cancel()
        self._beats.stop()
        for task_id, handle in self._tasks.items():
            if task_id not in self._in_flight:
                handle.cancel()
        busy = [self._tasks[t] for t in self._in_flight if t in self._tasks]
        if self._recovery is not None:
            busy.append(self._recovery)
        if busy:
            await asyncio.wait(busy, timeout=grace_s)
        if self._recovery is not None:
            self._recovery.cancel()
        for handle in self._tasks.values():
            handle.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    # -- one task -------------------------------------------------------------------------

    def _spawn(self, task_id: str) -> None:
        coro = self._run_task(task_id, self._t.plan.task(task_id))
        handle = asyncio.get_running_loop().create_task(coro, name=f"{self.execution_id}/{task_id}")
        self._tasks[task_id] = handle
        handle.add_done_callback(functools.partial(self._task_done, task_id))

    def _task_done(self, task_id: str, handle: asyncio.Task[None]) -> None:
        if self._tasks.get(task_id) is handle:
            del self._tasks[task_id]
        error = None if handle.cancelled() else handle.exception()
        if error is None or isinstance(error, StepFailed):
            return  # a failed change is already logged and being reconciled
        if is_outage(error):
            log.warning(
                "task %s/%s stopped while the store refuses writes; it resumes at the next start",
                self.execution_id,
                task_id,
            )
            return
        self._fault(task_id, error)  # a bug outside a change: the task fails, nothing hangs

    async def _run_task(self, task_id: str, spec: TaskDefinition) -> None:
        task = self.record.tasks[task_id]
        preempted: Grant | None = None
        while not (task.status.terminal or self.record.status.terminal or self._deps.drain.active):
            if task.status is TaskStatus.RETRYING:
                retry_after = self._retry_after.pop(task_id, None)
                await asyncio.sleep(
                    spec.retry.delay_honouring(task.charged_attempts() + 1, retry_after)
                )
                if self.record.status.terminal:
                    return
                await self._step(task_id, lambda batch: self._t.retry_scheduled(batch, task))
            if spec.kind in WAITS:
                await self._wait(task, spec)
                continue
            try:
                outputs = self._t.task_outputs()
                task_input = resolve(
                    spec.input, self.record.inputs, outputs, "input", self._t.scope_of(task_id)
                )
                refused = value_error(
                    task_input, "input", "InvalidInput", self._deps.limits.value_depth
                )
            except ReferenceResolutionError as exc:
                refused = ErrorInfo("ReferenceResolutionError", str(exc))
            if refused is not None:
                attempt = await self._begin_attempt(task, "", "")
                outcome = AttemptOutcome(ok=False, error=refused)
                await self._settle(task, spec, attempt, outcome, retryable=False)
                return
            await self._unpaused()
            if self.record.status.terminal or task.status.terminal:
                return
            preempted = await self._dispatched_attempt(task, spec, task_input, preempted)

    async def _wait(self, task: TaskRecord, spec: TaskDefinition) -> None:
        """One attempt of a task that waits without a replica (a timer, a signal, a child
        execution); the one stored as running goes on after a restart."""
        resumed = task.status is TaskStatus.RUNNING and bool(task.attempts)
        if spec.kind is TaskKind.WORKFLOW and not resumed:
            await self._unpaused()
            if task.status.terminal or self.record.status.terminal:
                return
        attempt = task.attempts[-1] if resumed else await self._begin_attempt(task, "", "")
        if spec.kind is not TaskKind.WORKFLOW:
            await self.controls.wait(task, spec, attempt, self._settle)
            return
        outputs = self._t.task_outputs()
        scope = self._t.scope_of(task.task_id)
        outcome = await run_child(self._children, self.record, spec, attempt, outputs, scope)
        await self._settle(task, spec, attempt, outcome)

    async def modify(self, operations: Sequence[Operation], agents: set[str], details: Any) -> None:
        """Checks a batch of operations against the execution as it is, then applies it."""
        definition = check(operations, self._t.definition, self.record, agents, self._deps.limits)
        to_start = await self._step(
            "", lambda batch: self._t.modified(batch, operations, definition, details)
        )
        for task_id in to_start:
            self._spawn(task_id)

    async def _unpaused(self) -> None:
        await self.controls.unpaused(self.record)

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
            agent=agent_key(self.record.namespace, spec.agent),
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
        beats: AttemptBeats | None = None
        routing_key = self._deps.routing_key(grant.request.agent, task_input)
        self.leasing[task.task_id] = grant.request.agent
        try:
            async with backend.lease(
                grant.request.agent,  # the agent of the execution's namespace
                grant.nodes,
                routing_key=routing_key,
                unusable_timeout_s=spec.timeout_s,
                avoid_version=failed_on(task),
            ) as lease:
                self.leasing.pop(task.task_id, None)
                if self.record.status.terminal or self._deps.drain.active or grant.preempted:
                    return None
                if self.record.paused:  # paused while it waited: the slot goes to others
                    return None
                self._in_flight.add(task.task_id)
                # The call goes out while the attempt's start commits: the writer keeps the
                # execution's changes in order, so its outcome is never stored before it.
                attempt, started = await self._submitted(
                    task.task_id,
                    lambda batch: self._t.attempt_started(
                        batch, task, lease.replica, lease.agent_version, grant.node
                    ),
                )
                timeout = spec.timeout_s
                request = AttemptRequest(
                    self.execution_id,
                    task.task_id,
                    attempt.number,
                    task_input,
                    task.last_heartbeat,
                    deadline=None if timeout is None else attempt.start_time + timeout,
                )
                beats = self._beats.start(
                    task.task_id,
                    attempt.number,
                    spec.heartbeat_timeout_s,
                    lambda heard: self._record_heartbeat(task, attempt, heard),
                )
                invocation = asyncio.ensure_future(backend.invoke(lease, request, beats.heard))
                grant.on_preempt(invocation.cancel)
                try:
                    outcome = await asyncio.wait_for(beats.awaiting(invocation), spec.timeout_s)
                    timed_out = False
                    await started()
                except TimeoutError:
                    timed_out = True
                    outcome = AttemptOutcome(
                        ok=False,
                        error=ErrorInfo("AttemptTimeout", f"attempt exceeded {spec.timeout_s}s"),
                    )
                except HeartbeatLost as exc:
                    timed_out = True
                    outcome = AttemptOutcome(ok=False, error=ErrorInfo(exc.error_type, str(exc)))
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if not grant.preempted or (current is not None and current.cancelling()):
                        raise
                    self._in_flight.discard(task.task_id)
                    heard = beats
                    await started()
                    await self._step(
                        task.task_id,
                        lambda batch: self._t.preempted(
                            batch, task, attempt, grant.preempted, heard.take()
                        ),
                    )
                    return None
                finally:
                    grant.on_preempt(None)
                    self._beats.end(task.task_id)  # later heartbeats are not heard
        except AgentUnavailable as exc:
            attempt = await self._begin_attempt(task, "", "")
            outcome, timed_out = (
                AttemptOutcome(ok=False, error=ErrorInfo("AgentUnavailable", str(exc))),
                False,
            )
        except NoUsableReplica as exc:
            # The task's timeout ran out while every replica was unusable: a timed-out attempt.
            attempt = await self._begin_attempt(task, "", "")
            outcome, timed_out = (
                AttemptOutcome(ok=False, error=ErrorInfo("NoUsableReplica", str(exc))),
                True,
            )
        finally:
            self.leasing.pop(task.task_id, None)
        if outcome.retry_after_s is not None:
            self._retry_after[task.task_id] = outcome.retry_after_s
        await self._settle(task, spec, attempt, outcome, timed_out=timed_out, beats=beats)
        return outcome.duration_s if outcome.ok else None

    async def _record_heartbeat(
        self, task: TaskRecord, attempt: AttemptRecord, beats: AttemptBeats
    ) -> bool:
        """Records the attempt's latest heartbeat; False when that change was not recorded."""
        try:
            await self._step(
                task.task_id, lambda batch: self._t.heartbeat(batch, task, attempt, beats.take())
            )
        except StepFailed:
            return False
        except Exception as exc:
            if not is_outage(exc):
                raise
        return True

    def heard_heartbeats(self) -> dict[str, tuple[float, dict[str, Any] | None]]:
        """The latest heartbeat heard of each attempt in flight, by task (see LiveHeartbeats)."""
        return self._beats.heard()

    async def _begin_attempt(
        self, task: TaskRecord, replica: str, version: str, node: str | None = None
    ) -> AttemptRecord:
        return await self._step(
            task.task_id,
            lambda batch: self._t.attempt_started(batch, task, replica, version, node),
        )

    async def _settle(
        self,
        task: TaskRecord,
        spec: TaskDefinition,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
        *,
        timed_out: bool = False,
        retryable: bool = True,
        beats: AttemptBeats | None = None,
        also: Callable[[WriteBatch], None] | None = None,
    ) -> None:
        """Records the attempt's outcome (`also` adds rows to the same transaction)."""
        self._in_flight.discard(task.task_id)

        def build(batch: WriteBatch) -> list[str]:
            if also is not None and not (task.status.terminal or self.record.status.terminal):
                also(batch)
            return self._t.settled(
                batch,
                task,
                spec,
                attempt,
                outcome,
                timed_out=timed_out,
                retryable=retryable,
                heartbeat=None if beats is None else beats.take(),
            )

        ready = await self._step(task.task_id, build)
        if self.record.status.terminal:
            self._finished()
        for task_id in ready:
            self._spawn(task_id)

    # -- changes and faults ---------------------------------------------------------------

    async def _step(self, task_id: str, build: Callable[[WriteBatch], T]) -> T:
        """One change of the task (`task_id`, "" for the whole execution): built in memory,
        then committed. Waits first while earlier faults are reconciled with the store, so a
        change is never built on one the store does not hold; raises StepFailed when this one
        is not recorded."""
        result, committed = await self._submitted(task_id, build)
        await committed()
        return result

    async def _submitted(
        self, task_id: str, build: Callable[[WriteBatch], T]
    ) -> tuple[T, Callable[[], Awaitable[None]]]:
        """`_step` up to the submission of its write: returns the change's result and what to
        await for its commit (which raises StepFailed when it is not recorded)."""
        await self._reconciled()
        batch = WriteBatch()
        try:
            result = build(batch)
            if batch:
                batch.put_execution(self.record, self._writes.inputs_text(self.record))
        except Exception as exc:
            self._fault(task_id, exc)
            raise StepFailed(task_id) from exc
        if not batch:
            return result, nothing_to_commit
        done = self._writes.submit(task_id, batch)
        # Watchers hear of the change as soon as it is durable, whoever awaits it and when.
        done.add_done_callback(functools.partial(self._committed, self.record.last_sequence))

        async def committed() -> None:
            try:
                await asyncio.shield(done)
            except Exception as exc:
                if is_outage(exc):
                    raise  # shutting down while the store refuses writes: left as stored
                raise StepFailed(task_id) from exc  # reported by the write itself
            if self._t.definition.failure_mode is FailureMode.FAIL_FAST:
                self._reap()  # from the task that made the change, which it spares

        return result, committed

    def _committed(self, last: int, done: asyncio.Future[None]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        self._deps.hub.published(self.execution_id, last)
        self._events.spent(last)

    def _fault(self, task_id: str, error: BaseException) -> None:
        """A change not recorded (logged here, once): the task fails, or runs again when its
        change was only held back behind another's failure."""
        log_fault(self.execution_id, task_id, error)
        known = self._faults.get(task_id)
        if known is None or isinstance(known, PrecedingWriteFailed):
            self._faults[task_id] = error
        self._in_flight.discard(task_id)
        self._start_recovery()

    def _start_recovery(self) -> None:
        if self._recovery is None and not self._stuck:
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _reconciled(self) -> None:
        while not self._stuck:
            if self._writes.broken:
                self._start_recovery()  # a write failed; its own report is on the way
            if self._recovery is None:
                return
            await asyncio.shield(self._recovery)
        raise StepFailed(self._stuck)

    async def _recover(self) -> None:
        """Brings the record back to what the store holds, then records what the faults lead
        to. When that change is not recorded either, the next round ends the execution; when
        nothing can be recorded, the execution stays as stored and resumes at the next start."""
        failed_rounds = 0
        try:
            while self._faults or self._writes.broken:
                await self._writes.settled()
                stored = self._deps.load(self.execution_id)
                if stored is None:
                    raise LookupError(f"execution {self.execution_id} is not in the store")
                adopt(self.record, stored)
                self._t.resynced()
                faults, self._faults = self._faults, {}
                self._writes.mend()
                if failed_rounds >= MAX_FAILED_RECOVERIES:
                    self._give_up(faults)
                    return
                batch = WriteBatch()
                try:
                    to_start = self._t.recovered(batch, faults)
                    if batch:
                        batch.put_execution(self.record)
                except Exception as exc:
                    failed_rounds += 1
                    self._fault("", exc)
                    continue
                if batch:
                    try:
                        await asyncio.shield(self._writes.submit("", batch))
                    except Exception as exc:
                        if is_outage(exc):
                            return  # shutting down: left as stored
                        failed_rounds += 1
                        continue  # reported by the write itself
                    self._deps.hub.published(self.execution_id, self.record.last_sequence)
                for task_id in to_start:
                    self._spawn(task_id)  # their changes wait for the end of this reconciliation
        except Exception as exc:
            log.exception("%s: reconciling with the store failed", self.execution_id)
            self._give_up({"": exc})
            return
        finally:
            self._recovery = None
        if self.record.status.terminal:
            self._cancel_tasks()
            self._finished()

    def _give_up(self, faults: dict[str, BaseException]) -> None:
        self._stuck = stuck_because(self.record, faults)
        self._cancel_tasks()

    # -- stopping -------------------------------------------------------------------------

    def _arm_deadline(self) -> None:
        timeout = self._t.definition.timeout_s
        if timeout is not None and self.record.start_time is not None:
            self._deadline.arm(self.record.start_time + timeout, timeout)

    async def _stop(self, status: ExecutionStatus, error: ErrorInfo) -> None:
        while True:
            try:
                # After a failed change the record says what the store holds only once reconciled.
                await self._reconciled()
            except StepFailed:
                return  # nothing can be recorded: left as stored
            if self.record.status.terminal:
                return
            try:
                to_start = await self._step("", lambda batch: self._t.stopped(batch, status, error))
            except StepFailed:
                continue  # it ended FAILED, or was held back behind another fault: try again
            if self.record.status.terminal:
                self._cancel_tasks()  # cancels the Ray calls on the replicas
                self._finished()
            else:  # its finally tasks run first
                self._reap()
                for task_id in to_start:
                    self._spawn(task_id)
            return

    def _cancel_tasks(self) -> None:
        for handle in list(self._tasks.values()):
            handle.cancel()

    def _reap(self) -> None:
        """Cancels the coroutines of tasks that a change ended meanwhile (fail_fast, a stop
        that lets finally tasks run), and with them their calls on the replicas."""
        current = asyncio.current_task()
        for task_id, handle in list(self._tasks.items()):
            if handle is not current and self.record.tasks[task_id].status.terminal:
                handle.cancel()

    def _finished(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._deadline.disarm()
        self._deps.dispatcher.forget_execution(self.execution_id)
        self._on_finished(self)

    def plan_tasks(self) -> list[PlanTask]:
        """Tasks that are neither finished nor running (see ExecutionPlan.lookahead)."""
        return self._t.plan.lookahead(self.record)
