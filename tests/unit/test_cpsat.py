"""CP-SAT scheduler: feasibility, optimality against brute force, status/bound, determinism,
progress, warm starts and the infeasible case."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from models.scheduling import (
    Alternative,
    Job,
    Objective,
    Operation,
    Progress,
    Schedule,
    ScheduledOperation,
    SchedulingProblem,
    SolveStatus,
)
from scheduler import registry
from scheduler.context import SolveContext
from scheduler.cpsat import NoSolutionFound, build_model
from scheduler.cpsat.model import weight_scale
from scheduler.feasibility import assert_feasible
from scheduler.instances import random_dag, random_fjsp, random_jobshop
from scheduler.objective import objective_value

OBJECTIVES = list(Objective)


def _with_objective(problem: SchedulingProblem, objective: Objective) -> SchedulingProblem:
    """Give every job a due date and a non-unit weight so each objective is meaningful."""
    jobs = tuple(
        replace(
            job,
            due=job.due if job.due is not None else 40 + 15 * job.id,
            weight=job.weight if job.weight != 1.0 else 1.0 + (job.id % 3) * 0.5,
        )
        for job in problem.jobs
    )
    return replace(problem, jobs=jobs, objective=objective)


def _solve(
    problem: SchedulingProblem,
    time_limit_s: float = 5.0,
    workers: int = 1,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Schedule:
    """Through the registry (so the feasibility checker runs), without the rules' warm start
    unless asked: these tests exercise CP-SAT itself."""
    return registry.solve(
        problem,
        "cpsat",
        time_limit_s=time_limit_s,
        seed=seed,
        workers=workers,
        options={"use_rules": False, **(options or {})},
        on_progress=on_progress,
    )


def _serial(problem: SchedulingProblem) -> Schedule:
    """Every operation alone, in id order, on its first alternative: always feasible when edges
    go from lower to higher ids and each demand fits its capacity."""
    placed, time = [], 0
    for op in problem.operations:
        time = max(time, problem.release_of(op.id))
        alt = op.alternatives[0]
        placed.append(ScheduledOperation(op.id, alt.machine, time, time + alt.duration))
        time += alt.duration
    value = objective_value(problem, placed)
    return Schedule(problem.name, "serial", tuple(placed), value, SolveStatus.HEURISTIC)


# --- feasibility on generated instances, every objective ---------------------------------


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.value)
@pytest.mark.parametrize(
    "make",
    [
        lambda: random_jobshop(5, 4, seed=1, high=30),
        lambda: random_fjsp(5, 4, seed=2, ops_per_job=3),
        lambda: random_dag(10, 3, seed=3, resources={"cpu": 6, "gpu": 2}),
    ],
    ids=["jobshop", "fjsp", "dag-resources"],
)
def test_feasible_on_generated_instances(make, objective: Objective) -> None:
    problem = _with_objective(make(), objective)
    schedule = _solve(problem, time_limit_s=5.0, workers=2)
    assert_feasible(problem, schedule)  # registry.solve checks too; be explicit
    assert schedule.solver == "cpsat"
    assert schedule.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert schedule.bound is not None and schedule.bound <= schedule.objective_value + 1e-9
    assert schedule.info["cpsat_status"] in ("OPTIMAL", "FEASIBLE")


# --- optimality against brute force ------------------------------------------------------


def _jobshop(routes: list[list[tuple[int, int]]]) -> SchedulingProblem:
    jobs: list[Job] = []
    ops: list[Operation] = []
    for j, route in enumerate(routes):
        ids = []
        for machine, duration in route:
            ids.append(len(ops))
            ops.append(Operation(len(ops), j, (Alternative(machine, duration),)))
        jobs.append(Job(j, tuple(ids)))
    machines = 1 + max(m for route in routes for m, _ in route)
    return SchedulingProblem("tiny-js", machines, tuple(jobs), tuple(ops))


def _brute_force_makespan(routes: list[list[tuple[int, int]]]) -> int:
    """Every semi-active schedule is the append-decoding of some job-repetition sequence."""
    tokens = [j for j, route in enumerate(routes) for _ in route]
    best = None
    for sequence in set(itertools.permutations(tokens)):
        next_op = [0] * len(routes)
        job_ready = [0] * len(routes)
        machine_ready: dict[int, int] = {}
        for j in sequence:
            machine, duration = routes[j][next_op[j]]
            start = max(job_ready[j], machine_ready.get(machine, 0))
            job_ready[j] = machine_ready[machine] = start + duration
            next_op[j] += 1
        makespan = max(job_ready)
        best = makespan if best is None else min(best, makespan)
    assert best is not None
    return best


@pytest.mark.parametrize(
    "routes",
    [
        [[(0, 3), (1, 2), (2, 2)], [(0, 2), (2, 1), (1, 4)], [(1, 4), (2, 3), (0, 1)]],
        [[(0, 5), (1, 1)], [(1, 4), (0, 2)], [(0, 1), (1, 3)]],
        [[(2, 2), (0, 6), (1, 1)], [(1, 3), (2, 3), (0, 2)], [(0, 4), (1, 2), (2, 5)]],
    ],
)
def test_optimal_makespan_matches_brute_force(routes) -> None:
    problem = _jobshop(routes)
    schedule = _solve(problem, time_limit_s=5.0, workers=1)
    assert schedule.objective_value == _brute_force_makespan(routes)
    assert schedule.status is SolveStatus.OPTIMAL
    assert schedule.bound == schedule.objective_value
    assert schedule.gap == 0.0


def _single_machine(
    durations: list[int], weights: list[float], releases: list[int], dues: list[int]
) -> SchedulingProblem:
    jobs = tuple(
        Job(j, (j,), release=r, due=d, weight=w)
        for j, (w, r, d) in enumerate(zip(weights, releases, dues, strict=True))
    )
    ops = tuple(Operation(j, j, (Alternative(0, p),)) for j, p in enumerate(durations))
    return SchedulingProblem("tiny-1m", 1, jobs, ops)


def _brute_force_single_machine(problem: SchedulingProblem) -> float:
    best = float("inf")
    for order in itertools.permutations(range(len(problem.jobs))):
        time, placed = 0, {}
        for j in order:
            time = max(time, problem.jobs[j].release)
            duration = problem.operations[j].alternatives[0].duration
            placed[j] = ScheduledOperation(j, 0, time, time + duration)
            time += duration
        best = min(best, objective_value(problem, [placed[j] for j in sorted(placed)]))
    return best


@pytest.mark.parametrize(
    "objective", [Objective.TOTAL_WEIGHTED_COMPLETION, Objective.TOTAL_WEIGHTED_TARDINESS]
)
def test_single_machine_weighted_objectives_match_brute_force(objective: Objective) -> None:
    base = _single_machine(
        durations=[4, 2, 6, 3, 5],
        weights=[1.5, 3.0, 2.25, 1.0, 4.0],
        releases=[0, 3, 0, 5, 2],
        dues=[6, 8, 12, 9, 10],
    )
    problem = replace(base, objective=objective)
    schedule = _solve(problem, time_limit_s=5.0, workers=1)
    assert schedule.objective_value == pytest.approx(_brute_force_single_machine(problem))
    assert schedule.status is SolveStatus.OPTIMAL
    assert schedule.bound == schedule.objective_value
    assert schedule.info["objective_scale"] == 100


def test_weight_scale() -> None:
    assert weight_scale([1.0, 2.0]) == (1, True)
    assert weight_scale([1.5, 2.25]) == (100, True)
    assert weight_scale([1 / 3])[1] is False


# --- against the dispatching rules -------------------------------------------------------


def test_not_worse_than_any_dispatching_rule() -> None:
    pytest.importorskip("scheduler.rules")
    problem = random_jobshop(6, 4, seed=7, high=40)
    cpsat = registry.solve(problem, "cpsat", time_limit_s=5.0, workers=2)
    assert cpsat.info["hint_used"] and cpsat.info["hint_source"].startswith("rule")
    for rule in registry.RULES:
        try:
            heuristic = registry.solve(problem, rule, time_limit_s=2.0)
        except (ImportError, AttributeError):
            continue  # that rule is not written yet
        assert cpsat.objective_value <= heuristic.objective_value, rule


# --- warm start, determinism, progress ---------------------------------------------------


def test_hint_option_is_used_and_bounds_the_result() -> None:
    problem = random_dag(12, 3, seed=5, resources={"cpu": 6})
    hint = _serial(problem)
    assert_feasible(problem, hint)
    schedule = _solve(problem, time_limit_s=5.0, options={"hint": hint})
    assert schedule.info["hint_used"] is True
    assert schedule.info["hint_source"] == "option"
    assert schedule.objective_value <= hint.objective_value


def test_infeasible_hint_is_ignored() -> None:
    problem = random_jobshop(4, 3, seed=2)
    bogus = replace(_serial(problem), operations=_serial(problem).operations[:-1])
    schedule = _solve(problem, time_limit_s=5.0, options={"hint": bogus})
    assert schedule.info["hint_used"] is False


def test_hint_bounds_makespan_horizon() -> None:
    problem = random_jobshop(4, 3, seed=4)
    hint = _serial(problem)
    built = build_model(problem, hint)
    assert built.horizon == hint.makespan
    assert built.hint_objective == hint.makespan


def test_deterministic_with_one_worker_and_fixed_seed() -> None:
    problem = random_jobshop(8, 6, seed=11)
    # A deterministic (not wall-clock) limit, so both runs stop at the same point.
    options = {"cpsat_params": {"max_deterministic_time": 0.3}}
    first = _solve(problem, time_limit_s=20.0, workers=1, seed=5, options=options)
    second = _solve(problem, time_limit_s=20.0, workers=1, seed=5, options=options)
    assert first.operations == second.operations
    assert first.objective_value == second.objective_value


def test_progress_callback_reports_improvements() -> None:
    problem = random_jobshop(6, 5, seed=3)
    hint = _serial(problem)
    seen: list[Progress] = []
    schedule = _solve(
        problem, time_limit_s=5.0, workers=1, options={"hint": hint}, on_progress=seen.append
    )
    assert seen, "no progress reported"
    assert seen[0].objective == hint.objective_value  # the warm start comes first
    objectives = [p.objective for p in seen]
    assert objectives == sorted(objectives, reverse=True)
    assert len(set(objectives)) == len(objectives)  # strictly improving
    assert objectives[-1] == schedule.objective_value
    assert all(p.bound is None or p.bound <= p.objective for p in seen)


def test_heuristic_status_when_cpsat_finds_nothing_better() -> None:
    problem = random_jobshop(10, 10, seed=1)
    hint = _serial(problem)
    # No search at all: CP-SAT stops before any solution, so the hint comes back.
    options = {
        "hint": hint,
        "cpsat_params": {
            "max_number_of_conflicts": 0,
            "num_workers": 1,
            "stop_after_presolve": True,
        },
    }
    schedule = _solve(problem, time_limit_s=5.0, options=options)
    assert schedule.status is SolveStatus.HEURISTIC
    assert schedule.operations == hint.operations
    assert "warm start" in schedule.info["returned"]


# --- infeasible ---------------------------------------------------------------------------


def test_demand_above_capacity_raises_no_solution_found() -> None:
    problem = random_dag(8, 2, seed=9, resources={"cpu": 4})
    ops = list(problem.operations)
    ops[3] = replace(ops[3], demands={"cpu": 5})
    problem = replace(problem, operations=tuple(ops))
    with pytest.raises(NoSolutionFound) as raised:
        _solve(problem, time_limit_s=5.0)
    assert raised.value.status is SolveStatus.INFEASIBLE
    assert "op 3 demands 5" in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_precedence_cycle_is_infeasible() -> None:
    problem = replace(random_dag(4, 2, seed=1), precedences=((0, 1), (1, 0)))
    with pytest.raises(NoSolutionFound) as raised:
        _solve(problem, time_limit_s=5.0)
    assert raised.value.status is SolveStatus.INFEASIBLE


def test_solver_context_direct_call() -> None:
    from scheduler.cpsat import solve_cpsat

    problem = random_fjsp(3, 3, seed=1, ops_per_job=2)
    ctx = SolveContext()
    schedule = solve_cpsat(problem, ctx)
    assert_feasible(problem, schedule)


def test_default_params_and_reported_info() -> None:
    from scheduler.cpsat.solver import default_params

    jobshop = random_jobshop(5, 4, seed=2)
    assert default_params(jobshop) == {"linearization_level": 0}
    weighted = _with_objective(jobshop, Objective.TOTAL_WEIGHTED_TARDINESS)
    assert default_params(weighted) == {}
    schedule = _solve(jobshop, time_limit_s=5.0)
    for key in ("cpsat_status", "bound", "gap", "wall_time_s", "num_conflicts", "num_branches"):
        assert key in schedule.info, key
    assert schedule.info["hint_used"] is False
