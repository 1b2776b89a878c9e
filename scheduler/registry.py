"""Scheduler registry: `solve(problem, name, ...)` runs a scheduler by name and checks the
result with the independent feasibility checker before returning it.

Entries are imported lazily, so asking for a dispatching rule never loads OR-Tools or sklearn.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from models.scheduling import Schedule, SchedulingProblem, SolverConfig
from scheduler.context import ProgressCallback, SolveContext
from scheduler.feasibility import assert_feasible

Solver = Callable[[SchedulingProblem, SolveContext], Schedule]

# name -> "module:function"; each function is a Solver.
ENTRIES: dict[str, str] = {
    "fifo": "scheduler.rules.solvers:solve_fifo",
    "spt": "scheduler.rules.solvers:solve_spt",
    "lpt": "scheduler.rules.solvers:solve_lpt",
    "edf": "scheduler.rules.solvers:solve_edf",
    "mwkr": "scheduler.rules.solvers:solve_mwkr",
    "mor": "scheduler.rules.solvers:solve_mor",
    "wspt": "scheduler.rules.solvers:solve_wspt",
    "rr": "scheduler.rules.solvers:solve_rr",
    "heft": "scheduler.rules.solvers:solve_heft",
    "cpsat": "scheduler.cpsat.solver:solve_cpsat",
    "ga": "scheduler.ga.solver:solve_ga",
    "ml": "scheduler.ml.solver:solve_ml",
    "auto": "scheduler.auto:solve_auto",
}
RULES = ("fifo", "spt", "lpt", "edf", "mwkr", "mor", "wspt", "rr", "heft")


class UnknownScheduler(ValueError):
    pass


def names() -> list[str]:
    return list(ENTRIES)


def get(name: str) -> Solver:
    try:
        module_name, function = ENTRIES[name].split(":")
    except KeyError:
        raise UnknownScheduler(
            f"unknown scheduler {name!r}; choose from {', '.join(ENTRIES)}"
        ) from None
    solver: Solver = getattr(importlib.import_module(module_name), function)
    return solver


def solve(
    problem: SchedulingProblem,
    name: str = "auto",
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int = 1,
    options: dict[str, Any] | None = None,
    on_progress: ProgressCallback | None = None,
    clock: Callable[[], float] | None = None,
) -> Schedule:
    config = SolverConfig(
        time_limit_s=time_limit_s, seed=seed, workers=workers, options=options or {}
    )
    context = (
        SolveContext(config, on_progress)
        if clock is None
        else SolveContext(config, on_progress, clock)
    )
    schedule = get(name)(problem, context)
    assert_feasible(problem, schedule)
    return replace(schedule, solve_seconds=context.elapsed())
