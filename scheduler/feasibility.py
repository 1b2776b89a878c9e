"""Independent feasibility checker: every schedule from every scheduler goes through it.

It shares no code with the solvers (beyond the problem model), so a bug in a solver's own
bookkeeping cannot hide here.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from models.scheduling import Schedule, ScheduledOperation, SchedulingProblem
from scheduler.objective import objective_value


@dataclass(frozen=True)
class Violation:
    # coverage | alternative | duration | release | machine_ready | precedence | overlap |
    # capacity | objective
    kind: str
    message: str


class InfeasibleSchedule(AssertionError):
    def __init__(self, violations: list[Violation]) -> None:
        shown = "; ".join(v.message for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        super().__init__(f"{len(violations)} violations: {shown}{more}")
        self.violations = violations


def check(
    problem: SchedulingProblem, schedule: Schedule, check_objective: bool = True
) -> list[Violation]:
    out: list[Violation] = []
    placed = schedule.operations
    if len(placed) != problem.num_operations or any(p.operation != i for i, p in enumerate(placed)):
        out.append(Violation("coverage", "schedule must list every operation once, in id order"))
        return out
    for item, op in zip(placed, problem.operations, strict=True):
        eligible = {a.machine: a.duration for a in op.alternatives}
        if item.machine not in eligible:
            out.append(
                Violation("alternative", f"op {op.id} on machine {item.machine}, not eligible")
            )
            continue
        if item.end - item.start != eligible[item.machine]:
            out.append(
                Violation(
                    "duration",
                    f"op {op.id} lasts {item.end - item.start}, expected {eligible[item.machine]}",
                )
            )
        if item.start < problem.release_of(op.id):
            out.append(Violation("release", f"op {op.id} starts {item.start} before its release"))
        if item.start < problem.ready_of(item.machine):
            ready = problem.ready_of(item.machine)
            message = (
                f"op {op.id} starts {item.start} before machine {item.machine} is free at {ready}"
            )
            out.append(Violation("machine_ready", message))
        if item.start < 0:
            out.append(Violation("release", f"op {op.id} starts at negative time {item.start}"))
    for after, preds in enumerate(problem.predecessors()):
        for before in preds:
            if placed[after].start < placed[before].end:
                starts, ends = placed[after].start, placed[before].end
                message = f"op {after} starts {starts} before op {before} ends {ends}"
                out.append(Violation("precedence", message))
    out += _overlaps(placed)
    out += _capacity(problem, schedule)
    if check_objective:
        actual = objective_value(problem, placed)
        if abs(actual - schedule.objective_value) > 1e-6 * max(1.0, abs(actual)):
            out.append(
                Violation("objective", f"reported {schedule.objective_value}, actual {actual}")
            )
    return out


def _overlaps(placed: Sequence[ScheduledOperation]) -> list[Violation]:
    by_machine: dict[int, list[ScheduledOperation]] = defaultdict(list)
    for item in placed:
        if item.end > item.start:
            by_machine[item.machine].append(item)
    out = []
    for machine, items in by_machine.items():
        items.sort(key=lambda p: (p.start, p.end))
        for first, second in itertools.pairwise(items):
            if second.start < first.end:
                pair = f"ops {first.operation} and {second.operation}"
                out.append(Violation("overlap", f"{pair} overlap on machine {machine}"))
    return out


def _capacity(problem: SchedulingProblem, schedule: Schedule) -> list[Violation]:
    out = []
    for resource in problem.resources:
        deltas: dict[int, int] = defaultdict(int)
        for item, op in zip(schedule.operations, problem.operations, strict=True):
            demand = op.demands.get(resource.name, 0)
            if demand and item.end > item.start:
                deltas[item.start] += demand
                deltas[item.end] -= demand
        level = 0
        for time in sorted(deltas):  # ends sort with starts at the same time: release first
            level += deltas[time]
            if level > resource.capacity:
                out.append(
                    Violation(
                        "capacity", f"{resource.name} at t={time}: {level} > {resource.capacity}"
                    )
                )
                break
    return out


def assert_feasible(problem: SchedulingProblem, schedule: Schedule) -> None:
    violations = check(problem, schedule)
    if violations:
        raise InfeasibleSchedule(violations)
