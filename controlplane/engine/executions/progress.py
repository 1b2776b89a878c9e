"""How an execution progresses: which tasks run once their dependencies ended (trigger
rules, conditions), the for_each fan-outs, then the compensations of a failed execution, the
finally tasks, and its end."""

from __future__ import annotations

from typing import Any

from controlplane.engine.executions.changes import FAILED_TASK, STOPS, ExecutionChanges
from controlplane.engine.executions.outputs import value_error
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


class Progress(ExecutionChanges):
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

    def scope_of(self, task_id: str) -> dict[str, Any]:
        """The scoped roots a task's input may reference besides inputs and tasks: in a
        finally task, what the execution ends as."""
        if self._plan.phases.get(task_id) is Phase.FINALLY:
            return {"execution": {"status": self._outcome()[0].value}}
        return {}

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
