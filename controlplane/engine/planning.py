"""Plans on request: runs a scheduler from the library on a problem, off the event loop, with
a bounded number of solves at once (solvers are CPU-bound)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from controlplane.errors import FailedPrecondition, FieldViolation, InvalidArgument, invalid
from models.scheduling import Schedule, SchedulingProblem
from scheduler import registry
from scheduler.instances.json_io import problem_from_json

MAX_TIME_LIMIT_S = 300.0
MAX_PROBLEM_BYTES = 4 << 20

DESCRIPTIONS = {
    "fifo": "dispatching rule: earliest release, then earliest ready",
    "spt": "dispatching rule: shortest processing time",
    "lpt": "dispatching rule: longest processing time",
    "edf": "dispatching rule: earliest due date",
    "mwkr": "dispatching rule: most work remaining in the job",
    "mor": "dispatching rule: most operations remaining in the job",
    "wspt": "dispatching rule: weight over processing time (Smith's rule)",
    "rr": "round-robin placement over machines",
    "heft": "HEFT list scheduling for DAGs on heterogeneous machines",
    "cpsat": "OR-Tools CP-SAT interval model with a rule as warm start; proves optimality",
    "ga": "genetic algorithm with tabu search on critical blocks",
    "ml": "learned dispatching policy imitating CP-SAT (fast list scheduler)",
    "auto": "picks a scheduler from size, structure and time limit, and says why",
}


@dataclass(frozen=True)
class Plan:
    problem: SchedulingProblem
    schedule: Schedule


class Planner:
    def __init__(self, concurrent_solves: int = 1) -> None:
        self._slots = asyncio.Semaphore(concurrent_solves)

    def schedulers(self) -> list[tuple[str, str]]:
        return [(name, DESCRIPTIONS.get(name, "")) for name in registry.names()]

    async def plan(
        self, problem_json: str, scheduler: str, time_limit_s: float, seed: int, workers: int
    ) -> Plan:
        name = scheduler or "auto"
        if name not in registry.names():
            raise invalid("scheduler", f"unknown scheduler {name!r}; see ListSchedulers")
        if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
            raise invalid("time_limit", f"must be in (0, {MAX_TIME_LIMIT_S:.0f}] seconds")
        if not 1 <= workers <= 64:
            raise invalid("workers", "must be between 1 and 64")
        if len(problem_json.encode()) > MAX_PROBLEM_BYTES:
            raise invalid("problem_json", f"is larger than {MAX_PROBLEM_BYTES} bytes")
        try:
            problem = problem_from_json(problem_json)
        except (ValueError, KeyError, TypeError) as exc:
            detail = f"not a scheduling problem: {type(exc).__name__}: {exc}"
            raise InvalidArgument(detail, [FieldViolation("problem_json", detail)]) from exc
        if not problem.operations:
            raise invalid("problem_json", "has no operations")
        async with self._slots:
            try:
                schedule = await asyncio.to_thread(
                    registry.solve, problem, name, time_limit_s, seed, workers
                )
            except ValueError as exc:  # e.g. proven infeasible
                raise FailedPrecondition(
                    f"no schedule: {exc}", [FieldViolation("problem_json", str(exc))]
                ) from exc
        return Plan(problem, schedule)
