"""The one problem model every scheduler reads, and the schedule every scheduler returns.

Operations are grouped in jobs (processed in order when `Job.ordered`), may carry extra
precedence edges (a general DAG), and each has one or more alternatives: an eligible machine
(agent, node) and the duration there. That covers job shop, flexible job shop and heterogeneous
agents; optional demands on cumulative resources give RCPSP-style problems. Times are integers
(CP-SAT works on integers; scale seconds to milliseconds when needed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Objective(enum.Enum):
    MAKESPAN = "makespan"
    TOTAL_WEIGHTED_TARDINESS = "total_weighted_tardiness"
    TOTAL_WEIGHTED_COMPLETION = "total_weighted_completion"


class SolveStatus(enum.Enum):
    OPTIMAL = "OPTIMAL"  # proven optimal
    FEASIBLE = "FEASIBLE"  # feasible, optimality not proven (a bound may be given)
    HEURISTIC = "HEURISTIC"  # produced by a constructive or metaheuristic method
    INFEASIBLE = "INFEASIBLE"  # proven to have no schedule
    UNKNOWN = "UNKNOWN"  # no schedule found within the limits


@dataclass(frozen=True)
class Alternative:
    machine: int
    duration: int


@dataclass(frozen=True)
class Operation:
    id: int  # index in SchedulingProblem.operations
    job: int  # index in SchedulingProblem.jobs
    alternatives: tuple[Alternative, ...]
    # Units of each cumulative resource held while the operation runs.
    demands: dict[str, int] = field(default_factory=dict)
    kind: str = ""  # free label (e.g. "codegen"), a feature for learned models
    size: float = 0.0  # free size measure (e.g. input bytes), a feature for learned models
    # Earliest start on top of its job's release (see `SchedulingProblem.release_of`).
    release: int = 0

    def duration_on(self, machine: int) -> int:
        for alternative in self.alternatives:
            if alternative.machine == machine:
                return alternative.duration
        raise KeyError(f"operation {self.id} cannot run on machine {machine}")

    @property
    def min_duration(self) -> int:
        return min(a.duration for a in self.alternatives)


@dataclass(frozen=True)
class Job:
    id: int
    operations: tuple[int, ...]  # operation ids, in processing order when `ordered`
    name: str = ""
    release: int = 0
    due: int | None = None
    weight: float = 1.0
    ordered: bool = True


@dataclass(frozen=True)
class Resource:
    name: str
    capacity: int


@dataclass(frozen=True)
class SchedulingProblem:
    name: str
    num_machines: int
    jobs: tuple[Job, ...]
    operations: tuple[Operation, ...]
    # Extra (before, after) operation-id edges beyond the order inside jobs.
    precedences: tuple[tuple[int, int], ...] = ()
    resources: tuple[Resource, ...] = ()
    objective: Objective = Objective.MAKESPAN
    machine_names: tuple[str, ...] = ()
    # How the source file numbers machines (flexible job-shop files count from 1); machines
    # are always 0-based inside the model.
    machine_base: int = 0
    # Earliest start of any operation on each machine (the machine is busy until then);
    # empty, or shorter than num_machines, means 0 for the machines not listed.
    machine_ready: tuple[int, ...] = ()

    @property
    def num_operations(self) -> int:
        return len(self.operations)

    def predecessors(self) -> list[list[int]]:
        """Direct predecessors of every operation (job order plus explicit edges)."""
        preds: list[list[int]] = [[] for _ in self.operations]
        for job in self.jobs:
            if job.ordered:
                for before, after in zip(job.operations, job.operations[1:], strict=False):
                    preds[after].append(before)
        for before, after in self.precedences:
            if before not in preds[after]:
                preds[after].append(before)
        return preds

    def successors(self) -> list[list[int]]:
        succs: list[list[int]] = [[] for _ in self.operations]
        for op, preds in enumerate(self.predecessors()):
            for pred in preds:
                succs[pred].append(op)
        return succs

    def release_of(self, operation: int) -> int:
        """Earliest start of the operation ignoring machines: its job's and its own release."""
        op = self.operations[operation]
        return max(self.jobs[op.job].release, op.release)

    def ready_of(self, machine: int) -> int:
        """Earliest start of any operation on the machine."""
        return self.machine_ready[machine] if machine < len(self.machine_ready) else 0

    @property
    def machine_ready_times(self) -> list[int]:
        """`ready_of` for every machine."""
        return [self.ready_of(m) for m in range(self.num_machines)]

    @property
    def is_job_shop(self) -> bool:
        """Every operation has exactly one machine, jobs are chains, no extras."""
        return (
            all(len(op.alternatives) == 1 for op in self.operations)
            and not self.precedences
            and not self.resources
            and all(job.ordered for job in self.jobs)
        )


@dataclass(frozen=True)
class ScheduledOperation:
    operation: int
    machine: int
    start: int
    end: int


@dataclass(frozen=True)
class Schedule:
    """A full assignment: `operations[i]` is where and when operation i runs."""

    problem: str
    solver: str
    operations: tuple[ScheduledOperation, ...]
    objective_value: float
    status: SolveStatus
    # Best proven lower bound on the objective (for minimisation), when the solver has one.
    bound: float | None = None
    solve_seconds: float = 0.0
    # Free-form facts about the solve (why this solver, iterations, rule used, ...).
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def makespan(self) -> int:
        return max((s.end for s in self.operations), default=0)

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound (0 when optimal)."""
        if self.bound is None or self.objective_value == 0:
            return None
        return max(0.0, (self.objective_value - self.bound) / self.objective_value)


@dataclass(frozen=True)
class SolverConfig:
    """What every scheduler takes besides the problem: no clock or global state inside."""

    time_limit_s: float = 10.0
    seed: int = 0
    workers: int = 1
    # Scheduler-specific knobs (e.g. {"generations": 200} for the GA).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """An anytime solver's report of a new incumbent (or bound)."""

    elapsed_s: float
    objective: float
    bound: float | None = None


@dataclass(frozen=True)
class SchedulerInfo:
    """A scheduler ListSchedulers offers."""

    name: str
    description: str
    kind: str  # "batch" (plans a problem) or "placement" (places one task at a time)


@dataclass(frozen=True)
class PlannedOperation:
    """Where and when a plan runs one operation (`position`: its index within its job)."""

    operation: int
    job: int
    position: int
    machine: int
    start: int
    end: int
    # Set for a namespace plan: the task the operation stands for and its node.
    execution_id: str = ""
    task_id: str = ""
    node_id: str = ""


@dataclass(frozen=True)
class PlanResult:
    """A schedule as the Plan call answers it."""

    scheduler: str
    status: SolveStatus
    objective: float
    bound: float | None
    operations: list[PlannedOperation]
    solve_time_s: float
    info: dict[str, Any] = field(default_factory=dict)
