"""Rolling-horizon plans over live work: the ready and predicted tasks of a namespace as a
scheduling problem, and the plan read back as (rank, node) per task.

Machines are agent replica slots (a replica with max_concurrency k gives k machines, see
`replica_slots`), so a task's alternatives are the slots of its agent, each on the node its
replica runs on. Each execution is one job whose tasks keep their dependency edges (a DAG, not a
chain). Attempts already running (of any namespace: replicas are shared) are not operations:
each holds one slot of its agent on its node until its expected end, which becomes that slot's
ready time (`SchedulingProblem.machine_ready`), and a task waiting on a running task is
released at that task's expected end (`Operation.release`). Times are milliseconds from now.
The dispatcher then serves a namespace's queued tasks in planned start order and prefers the
planned node; the plan is recomputed every few seconds, so it only has to be good over the
near future.
"""

from __future__ import annotations

from collections.abc import Sequence
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

# Slots per replica at most: max_concurrency can be large (an I/O-bound agent serving dozens of
# calls), and every slot is a machine of the problem, so a cap keeps the instance small enough
# to solve within a plan interval. Beyond 8 parallel slots per replica the plan's start times
# are pessimistic for that agent; the dispatcher still runs as many attempts as it has room.
MAX_SLOTS_PER_REPLICA = 8
# Time left assumed for an attempt that is already past its expected duration: it should end
# any moment, and its slot is not free before it does.
OVERDUE_REMAINING_MS = 100


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


def replica_slots(agent: str, replica: str, node: str, max_concurrency: int) -> list[PlanSlot]:
    """The slots of one replica: one per attempt it serves at once, at most
    MAX_SLOTS_PER_REPLICA (at least 1)."""
    count = max(1, min(max_concurrency, MAX_SLOTS_PER_REPLICA))
    return [PlanSlot(agent, replica, node, k) for k in range(count)]


@dataclass(frozen=True)
class RunningAttempt:
    """An attempt running now: it holds one slot of a replica of `agent` on `node` ("" when
    not known) for `remaining_ms` more (see `time_left_ms`)."""

    execution_id: str
    task_id: str
    agent: str
    node: str
    remaining_ms: int

    @property
    def key(self) -> TaskKey:
        return (self.execution_id, self.task_id)


def time_left_ms(elapsed_s: float, expected_s: float) -> int:
    """Expected time left of an attempt that has run `elapsed_s` of an expected `expected_s`;
    an overdue attempt is expected to end OVERDUE_REMAINING_MS from now."""
    return max(OVERDUE_REMAINING_MS, round(1000 * (expected_s - elapsed_s)))


def slot_ready_times(
    slots: Sequence[PlanSlot], running: Sequence[RunningAttempt]
) -> tuple[int, ...]:
    """When each slot is free: every running attempt holds the slot of its agent on its node
    (any node of the agent when none matches) that is free soonest, from then for its
    remaining time. Longest first, so with no more attempts than slots each gets a slot of its
    own; attempts beyond the slots (waiting for a lease) queue on the slot free soonest."""
    ready = [0] * len(slots)
    by_agent: dict[str, list[int]] = {}
    for m, slot in enumerate(slots):
        by_agent.setdefault(slot.agent, []).append(m)
    ordered = sorted(running, key=lambda a: (-a.remaining_ms, a.execution_id, a.task_id))
    for attempt in ordered:
        mine = by_agent.get(attempt.agent, [])
        on_node = [m for m in mine if slots[m].node == attempt.node]
        options = on_node or mine
        if not options:
            continue  # an agent this plan does not use
        m = min(options, key=lambda m: (ready[m], m))
        ready[m] += max(0, attempt.remaining_ms)
    return tuple(ready)


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
    running: tuple[RunningAttempt, ...] = ()  # attempts holding slots (not operations)


def build_problem(
    name: str,
    tasks: Sequence[PlanTask],
    slots: Sequence[PlanSlot],
    running: Sequence[RunningAttempt] = (),
) -> LiveProblem | None:
    """The scheduling problem over `tasks` with `running` attempts holding their slots
    (None when nothing can be planned)."""
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
    running_end = {a.key: max(0, a.remaining_ms) for a in running}
    operations = tuple(
        Operation(
            id=i,
            job=job_of[i],
            alternatives=tuple(
                Alternative(m, max(1, task.duration_ms)) for m in machines_of[task.agent]
            ),
            kind=task.agent,
            # Not before the dependencies that are running now are expected to end.
            release=max(
                (running_end.get((task.execution_id, dep), 0) for dep in task.depends_on),
                default=0,
            ),
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
        machine_ready=slot_ready_times(slots, running),
    )
    return LiveProblem(problem, tuple(kept), tuple(slots), dropped, tuple(running))


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
