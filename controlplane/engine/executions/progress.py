"""How an execution progresses: which tasks run once their dependencies ended (trigger
rules, conditions), the for_each fan-outs, then the compensations of a failed execution, the
finally tasks, and its end."""

from __future__ import annotations

from typing import Any

from controlplane.engine.executions.changes import FAILED_TASK, STOPS, ExecutionChanges
from controlplane.engine.executions.fan_out import (
    FanOutState,
    collected,
    item_id,
    parse_item_id,
    rebuilt,
    too_many_failures,
)
from controlplane.engine.executions.loops import (
    iteration_id,
    last_iteration,
    loop_scope,
    parse_iteration_id,
    until_activation,
)
from controlplane.engine.executions.outputs import value_error
from controlplane.engine.executions.phase_cursor import PhaseCursor
from controlplane.engine.executions.plan import Phase
from controlplane.engine.executions.triggers import condition_false, not_triggered
from controlplane.store import WriteBatch
from controlplane.workflow import ReferenceResolutionError, resolve
from models.executions import (
    ErrorInfo,
    EventType,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.limits import setting
from models.workflows import ForEachSpec, TaskDefinition

# Items of one for_each scheduled at once when it sets no max_concurrency: the dispatcher
# queues them anyway; this bounds the coroutines and records in flight.
DEFAULT_ITEM_CONCURRENCY = 1000


class Progress(ExecutionChanges):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fan_outs: dict[str, FanOutState] = {}
        self._dirty: set[str] = set()  # for_each tasks whose items changed since the last look
        self._looping: set[str] = set()  # loop tasks whose latest iteration ended
        self._cursor = PhaseCursor()

    def advance(self, batch: WriteBatch) -> list[str]:
        """Schedules the tasks whose dependencies ended and whose trigger rule and condition
        hold, skips the others, then (the workflow's tasks all ended) runs the compensations
        of a failed execution and the finally tasks, and ends it. Returns the tasks to start."""
        if self.record.status.terminal:
            return []
        ready: list[str] = []
        while True:  # a for_each or loop that ends lets its dependants run
            ready += self._fan_outs_progress(batch)
            ready += self._loops_progress(batch)
            ready += self._schedule(batch, Phase.MAIN)
            if not self._dirty and not self._looping:
                break
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

    def scope_of(self, task_id: str) -> dict[str, Any]:
        """The scoped roots a task's input may reference besides inputs and tasks: a for_each
        item's `item` and `index`; in a finally task, what the execution ends as."""
        if self._plan.phases.get(task_id) is Phase.FINALLY:
            return {"execution": {"status": self._outcome()[0].value}}
        item = parse_item_id(task_id)
        if item is not None and item[0] in self._fan_outs:
            return {"item": self._fan_outs[item[0]].items[item[1]], "index": item[1]}
        iteration = parse_iteration_id(task_id)
        if iteration is not None:
            return {"loop": loop_scope(iteration[0], iteration[1], self.record.tasks)}
        return {}

    # -- for_each ---------------------------------------------------------------------------

    def set_task(self, batch: WriteBatch, task: TaskRecord, status: TaskStatus) -> None:
        before = task.status
        super().set_task(batch, task, status)
        if status.terminal and (item := parse_item_id(task.task_id)) is not None:
            state = self._fan_outs.get(item[0])
            if state is not None:
                state.account(status, was_scheduled=before is not TaskStatus.PENDING)
                self._dirty.add(item[0])
        if status.terminal and (iteration := parse_iteration_id(task.task_id)) is not None:
            self._looping.add(iteration[0])

    def _expand(
        self, batch: WriteBatch, task: TaskRecord, spec: TaskDefinition, each: ForEachSpec
    ) -> list[str]:
        """Stores one PENDING item task per element of the list and schedules the first."""
        try:
            items = resolve(each.items, self.record.inputs, self.task_outputs(), "for_each")
        except ReferenceResolutionError as exc:
            self._fail_unstarted(batch, task, ErrorInfo("ReferenceResolutionError", str(exc)))
            return []
        limit = self._limits.for_each_items
        if not isinstance(items, list) or len(items) > limit:
            bound = setting("for_each_items", limit)
            what = f"{len(items):,} items" if isinstance(items, list) else type(items).__name__
            error = ErrorInfo("InvalidItems", f"for_each needs a list within {bound}: {what}")
            self._fail_unstarted(batch, task, error)
            return []
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.set_task(batch, task, TaskStatus.RUNNING)
        self.event(batch, EventType.TASK_SCHEDULED, task.task_id, items=len(items))
        for index in range(len(items)):
            if item_id(task.task_id, index) in self.record.tasks:
                continue  # a retry re-runs only the items that did not succeed
            item = TaskRecord(item_id(task.task_id, index), spec.agent)
            self.record.tasks[item.task_id] = item
            batch.put_task(self.execution_id, item)
        self._fan_outs[task.task_id] = rebuilt(task, self.record.tasks, items)
        self._dirty.add(task.task_id)
        return []

    def resume_fan_outs(self) -> None:
        """After a restart: the counters of every for_each task that was running."""
        for task_id in self._order:
            task, spec = self.record.tasks[task_id], self._plan.task(task_id)
            if spec.for_each is None or task.status is not TaskStatus.RUNNING:
                continue
            try:
                items = resolve(spec.for_each.items, self.record.inputs, self.task_outputs())
            except ReferenceResolutionError:
                items = []
            self._fan_outs[task_id] = rebuilt(task, self.record.tasks, items)
            self._dirty.add(task_id)

    def _fan_outs_progress(self, batch: WriteBatch) -> list[str]:
        ready: list[str] = []
        while self._dirty:
            parent_id = self._dirty.pop()
            ready += self._fan_out_progress(batch, parent_id)
        return ready

    def _fan_out_progress(self, batch: WriteBatch, parent_id: str) -> list[str]:
        """Ends a for_each task whose items all ended (or failed beyond its allowance), else
        schedules more of its items."""
        state, parent = self._fan_outs[parent_id], self.record.tasks[parent_id]
        each = self._plan.task(parent_id).for_each
        assert each is not None
        failure = None if state.ended_early else too_many_failures(each, state)
        if parent.status.terminal or failure is not None:
            state.ended_early = True
            cause = failure or ErrorInfo("Cancelled", f"task {parent_id} ended")
            for index in range(state.total):
                item = self.record.tasks[item_id(parent_id, index)]
                if not item.status.terminal:
                    self._cancel_task(batch, item, ErrorInfo("Cancelled", cause.message))
            if failure is not None and not parent.status.terminal:
                self._task_failed(batch, parent, failure)
            return []
        if state.ended == state.total:
            parent.output = collected(parent_id, self.record.tasks, state.total)
            self.set_task(batch, parent, TaskStatus.SUCCEEDED)
            self.event(batch, EventType.TASK_SUCCEEDED, parent_id, output=parent.output)
            return []
        limit = each.max_concurrency or DEFAULT_ITEM_CONCURRENCY
        ready: list[str] = []
        while state.running < limit and state.next_index < state.total:
            item = self.record.tasks[item_id(parent_id, state.next_index)]
            state.next_index += 1
            if item.status is not TaskStatus.PENDING:
                continue  # scheduled before a restart
            super().set_task(batch, item, TaskStatus.SCHEDULED)
            self.event(batch, EventType.TASK_SCHEDULED, item.task_id)
            state.running += 1
            ready.append(item.task_id)
        return ready

    def _ended(self, phase: Phase) -> bool:
        return self._cursor.ended(self._plan, phase, self.record.tasks)

    def resynced(self) -> None:
        """The record was brought back to what the store holds: tasks may be pending again."""
        self._cursor.reset()

    def _schedule(
        self, batch: WriteBatch, phase: Phase, status: ExecutionStatus | None = None
    ) -> list[str]:
        ready: list[str] = []
        tasks = self.record.tasks
        candidates = self._cursor.unscheduled(self._plan, phase)
        for task_id in candidates:  # topological: a skip propagates in one pass
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
            if spec.for_each is not None:
                ready += self._expand(batch, task, spec, spec.for_each)
                continue
            if spec.loop is not None:
                ready += self._start_loop(batch, task)
                continue
            self.set_task(batch, task, TaskStatus.SCHEDULED)
            self.event(batch, EventType.TASK_SCHEDULED, task_id)
            ready.append(task_id)
        self._cursor.looked_at(phase, candidates, tasks)
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
        if (
            refused := value_error(resolved, "outputs", "InvalidOutputs", self._limits.value_depth)
        ) is not None:
            return ExecutionStatus.FAILED, refused, None
        return ExecutionStatus.SUCCEEDED, None, resolved

    def _first_failed(self, phase: Phase) -> ErrorInfo | None:
        for task_id in self._plan.ids(phase):
            task = self.record.tasks[task_id]
            if task.status in FAILED_TASK:
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

    # -- loops ------------------------------------------------------------------------------

    def _start_loop(self, batch: WriteBatch, task: TaskRecord) -> list[str]:
        """A loop task starts at its first iteration, or after a retry at its latest one
        (set back to PENDING when it failed; its earlier iterations keep their outputs)."""
        n = last_iteration(task.task_id, self.record.tasks)
        if n == 0:
            return self._iterate(batch, task, 1)
        self.set_task(batch, task, TaskStatus.SCHEDULED)
        self.set_task(batch, task, TaskStatus.RUNNING)
        latest = self.record.tasks[iteration_id(task.task_id, n)]
        if latest.status is TaskStatus.PENDING:
            super().set_task(batch, latest, TaskStatus.SCHEDULED)
            self.event(batch, EventType.TASK_SCHEDULED, latest.task_id, iteration=n)
            return [latest.task_id]
        self._looping.add(task.task_id)
        return []

    def _iterate(self, batch: WriteBatch, task: TaskRecord, n: int) -> list[str]:
        """Stores and schedules iteration `n` of a loop task (the first moves it to RUNNING)."""
        if n == 1:
            self.set_task(batch, task, TaskStatus.SCHEDULED)
            self.set_task(batch, task, TaskStatus.RUNNING)
        spec = self._plan.task(task.task_id)
        iteration = TaskRecord(iteration_id(task.task_id, n), spec.agent)
        self.record.tasks[iteration.task_id] = iteration
        super().set_task(batch, iteration, TaskStatus.SCHEDULED)
        self.event(batch, EventType.TASK_SCHEDULED, iteration.task_id, iteration=n)
        return [iteration.task_id]

    def _loops_progress(self, batch: WriteBatch) -> list[str]:
        ready: list[str] = []
        while self._looping:
            ready += self._loop_progress(batch, self._looping.pop())
        return ready

    def _loop_progress(self, batch: WriteBatch, parent_id: str) -> list[str]:
        """After an iteration ended: the loop ends (until holds, the limit, a failure) or the
        next iteration starts."""
        parent, spec = self.record.tasks[parent_id], self._plan.task(parent_id)
        loop = spec.loop
        assert loop is not None
        n = last_iteration(parent_id, self.record.tasks)
        latest = self.record.tasks[iteration_id(parent_id, n)]
        if parent.status.terminal or not latest.status.terminal:
            return []
        if latest.status is not TaskStatus.SUCCEEDED:
            error = latest.error or ErrorInfo("IterationFailed", f"iteration {n} failed")
            self._task_failed(
                batch, parent, ErrorInfo(error.type, f"iteration {n}: {error.message}")
            )
            return []
        previous = self.record.tasks.get(iteration_id(parent_id, n - 1))
        activation = until_activation(
            self.record.inputs,
            self._activation(None)["tasks"],
            latest.output,
            n,
            None if previous is None else previous.output,
        )
        try:
            done = self._evaluate(loop.until, activation)
        except Exception as exc:
            self._task_failed(batch, parent, ErrorInfo("ConditionError", str(exc)))
            return []
        if done:
            parent.output = latest.output
            self.set_task(batch, parent, TaskStatus.SUCCEEDED)
            self.event(
                batch, EventType.TASK_SUCCEEDED, parent_id, output=latest.output, iterations=n
            )
            return []
        if n >= loop.max_iterations:
            limit = f"until was still false after {n} iterations ({loop.until})"
            self._task_failed(batch, parent, ErrorInfo("LoopLimitExceeded", limit))
            return []
        return self._iterate(batch, parent, n + 1)
