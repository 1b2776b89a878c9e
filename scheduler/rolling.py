"""Rolling-horizon plans over live work: the ready and predicted tasks of a namespace as a
scheduling problem, and the plan read back as (rank, node) per task.

Machines are agent replica slots (a replica with max_concurrency k gives k machines), so a
task's alternatives are the slots of its agent, each on the node its replica runs on. Each
execution is one job whose tasks keep their dependency edges (a DAG, not a chain). The
dispatcher then serves a namespace's queued tasks in planned start order and prefers the
planned node; the plan is recomputed every few seconds, so it only has to be good over the
near future.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    Schedule,
    SchedulingProblem,
)

TaskKey = tuple[str, str]  # (execution id, task id)


@dataclass(frozen=True)
class PlanTask:
    """A task to plan: ready now (queued) or predicted (waits on tasks that are not done)."""

    execution_id: str
    task_id: str
    agent: str
    duration_ms: int
    depends_on: tuple[str, ...] = ()  # ids of unfinished tasks of the same execution
    ready: bool = False
    weight: float = 1.0

    @property
    def key(self) -> TaskKey:
        return (self.execution_id, self.task_id)


@dataclass(frozen=True)
class PlanSlot:
    """One machine: a concurrency slot of one replica of `agent` on `node`."""

    agent: str
    replica: str
    node: str
    slot: int = 0

    @property
    def name(self) -> str:
        return f"{self.replica}#{self.slot}@{self.node}"


@dataclass(frozen=True)
class PlannedTask:
    execution_id: str
    task_id: str
    start: int
    end: int
    node: str
    machine: int


@dataclass(frozen=True)
class LiveProblem:
    """The problem and how its operations map back to tasks and its machines to slots."""

    problem: SchedulingProblem
    tasks: tuple[PlanTask, ...]  # operation i is tasks[i]
    slots: tuple[PlanSlot, ...]  # machine m is slots[m]
    dropped: tuple[TaskKey, ...] = ()  # tasks whose agent has no replica (not planned)


def build_problem(
    name: str, tasks: Sequence[PlanTask], slots: Sequence[PlanSlot]
) -> LiveProblem | None:
    """The scheduling problem over `tasks` (None when nothing can be planned)."""
    machines_of: dict[str, list[int]] = {}
    for m, slot in enumerate(slots):
        machines_of.setdefault(slot.agent, []).append(m)
    kept = [t for t in tasks if machines_of.get(t.agent)]
    kept_keys = {t.key for t in kept}
    dropped = tuple(t.key for t in tasks if t.key not in kept_keys)
    if not kept:
        return None
    by_execution: dict[str, list[int]] = {}
    for i, task in enumerate(kept):
        by_execution.setdefault(task.execution_id, []).append(i)
    index = {t.key: i for i, t in enumerate(kept)}
    job_of: dict[int, int] = {}
    jobs = []
    for j, (execution_id, ops) in enumerate(sorted(by_execution.items())):
        weight = max(kept[i].weight for i in ops)
        jobs.append(Job(j, tuple(ops), name=execution_id, weight=weight, ordered=False))
        for op in ops:
            job_of[op] = j
    operations = tuple(
        Operation(
            id=i,
            job=job_of[i],
            alternatives=tuple(
                Alternative(m, max(1, task.duration_ms)) for m in machines_of[task.agent]
            ),
            kind=task.agent,
        )
        for i, task in enumerate(kept)
    )
    precedences = tuple(
        (index[(task.execution_id, dep)], i)
        for i, task in enumerate(kept)
        for dep in task.depends_on
        if (task.execution_id, dep) in index
    )
    problem = SchedulingProblem(
        name=name,
        num_machines=len(slots),
        jobs=tuple(jobs),
        operations=operations,
        precedences=precedences,
        objective=Objective.MAKESPAN,
        machine_names=tuple(s.name for s in slots),
    )
    return LiveProblem(problem, tuple(kept), tuple(slots), dropped)


def read_plan(live: LiveProblem, schedule: Schedule) -> dict[TaskKey, PlannedTask]:
    """The planned start, end and node of every planned task."""
    out: dict[TaskKey, PlannedTask] = {}
    for op in schedule.operations:
        task = live.tasks[op.operation]
        out[task.key] = PlannedTask(
            task.execution_id,
            task.task_id,
            op.start,
            op.end,
            live.slots[op.machine].node,
            op.machine,
        )
    return out


def expected_duration_ms(history: Mapping[str, float], agent: str, default_s: float) -> int:
    """Mean observed attempt duration of `agent` in milliseconds (or the default)."""
    return max(1, round(1000 * history.get(agent, default_s)))
