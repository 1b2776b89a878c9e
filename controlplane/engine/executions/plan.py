"""What one execution runs, in which phase and order: the workflow's tasks, then (when it
failed) the compensations of its succeeded tasks in reverse order of completion, then its
`finally` tasks whatever the outcome."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from controlplane.engine.executions.fan_out import item_spec, parse_item_id
from controlplane.engine.executions.loops import iteration_spec, parse_iteration_id
from controlplane.workflow import topological_order
from models.executions import ExecutionRecord, TaskRecord, TaskStatus
from models.workflows import RetryPolicy, TaskDefinition, TaskKind, WorkflowDefinition
from scheduler.rolling import PlanTask

COMPENSATION_SUFFIX = ":compensate"


class Phase(enum.Enum):
    MAIN = "main"
    COMPENSATION = "compensation"
    FINALLY = "finally"


def compensation_id(task_id: str) -> str:
    return task_id + COMPENSATION_SUFFIX


@dataclass(frozen=True)
class ExecutionPlan:
    definitions: dict[str, TaskDefinition]
    phases: dict[str, Phase]
    order: tuple[str, ...]  # main tasks topologically, then compensations, then finally tasks

    @classmethod
    def of(cls, definition: WorkflowDefinition) -> ExecutionPlan:
        definitions: dict[str, TaskDefinition] = {}
        phases: dict[str, Phase] = {}
        main = topological_order(definition)
        by_id = {task.id: task for task in definition.tasks}
        for task_id in main:
            definitions[task_id] = by_id[task_id]
            phases[task_id] = Phase.MAIN
        compensations = []
        for task_id in main:
            compensate = definitions[task_id].compensate
            if compensate is not None:
                cid = compensation_id(task_id)
                # A compensation is an agent task of its own; it runs only after its task
                # succeeded, so it may reference that task's output.
                definitions[cid] = TaskDefinition(
                    id=cid,
                    agent=compensate.agent,
                    input=compensate.input,
                    depends_on=(),
                    retry=RetryPolicy(),
                )
                phases[cid] = Phase.COMPENSATION
                compensations.append(cid)
        finals = _finally_order(definition.finally_tasks)
        for spec in finals:
            definitions[spec.id] = spec
            phases[spec.id] = Phase.FINALLY
        order = (*main, *compensations, *(spec.id for spec in finals))
        return cls(definitions, phases, order)

    def task(self, task_id: str) -> TaskDefinition:
        """A task of the workflow, or an item task of a for_each (`parent[index]`)."""
        spec = self.definitions.get(task_id)
        if spec is not None:
            return spec
        item = parse_item_id(task_id)
        if item is not None and item[0] in self.definitions:
            return item_spec(self.definitions[item[0]], item[1])
        iteration = parse_iteration_id(task_id)
        if iteration is not None and iteration[0] in self.definitions:
            return iteration_spec(self.definitions[iteration[0]], iteration[1])
        raise KeyError(task_id)

    def ids(self, phase: Phase) -> list[str]:
        return [t for t in self.order if self.phases[t] is phase]

    def new_records(self) -> Iterable[TaskRecord]:
        """The task records of a new execution, every phase's, all PENDING."""
        for task_id in self.order:
            spec = self.definitions[task_id]
            yield TaskRecord(task_id, spec.agent, depends_on=spec.depends_on)

    def lookahead(self, record: ExecutionRecord) -> list[PlanTask]:
        """Agent tasks that are neither finished nor running, with their unfinished
        dependencies (what a batch plan looks at: ready ones and those predicted to follow)."""
        out = []
        tasks = record.tasks
        for task_id in self.order:
            task = tasks[task_id]
            spec = self.definitions[task_id]
            if task.status.terminal or task.status is TaskStatus.RUNNING:
                continue
            if spec.kind is not TaskKind.AGENT:
                continue
            out.append(
                PlanTask(
                    record.execution_id,
                    task_id,
                    spec.agent,
                    duration_ms=0,
                    depends_on=tuple(d for d in task.depends_on if not tasks[d].status.terminal),
                    ready=task.status in (TaskStatus.SCHEDULED, TaskStatus.RETRYING),
                    weight=1.0 + max(0, spec.priority),
                )
            )
        return out

    def compensated(self, record: ExecutionRecord) -> list[str]:
        """The compensations to run, in reverse order of their tasks' completion."""
        done = [
            (_ended_at(record.tasks[t]), t)
            for t in self.ids(Phase.MAIN)
            if record.tasks[t].status is TaskStatus.SUCCEEDED
            and compensation_id(t) in self.definitions
        ]
        return [compensation_id(t) for _, t in sorted(done, reverse=True)]


def _ended_at(task: TaskRecord) -> float:
    ends = [a.end_time for a in task.attempts if a.end_time is not None]
    return max(ends, default=0.0)


def _finally_order(tasks: tuple[TaskDefinition, ...]) -> list[TaskDefinition]:
    """Finally tasks in an order where each comes after those it depends on (among them)."""
    ids = {t.id for t in tasks}
    placed: set[str] = set()
    ordered: list[TaskDefinition] = []
    pending = list(tasks)
    while pending:
        progress = False
        for spec in list(pending):
            if all(d in placed or d not in ids for d in spec.depends_on):
                ordered.append(spec)
                placed.add(spec.id)
                pending.remove(spec)
                progress = True
        if not progress:  # the validator refuses cycles; keep definition order regardless
            ordered.extend(pending)
            break
    return ordered
