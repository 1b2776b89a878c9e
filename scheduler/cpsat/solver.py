"""Solve and extract steps of the CP-SAT scheduler, and its registry entry `solve_cpsat`.

Flow: warm start -> `build_model` -> CP-SAT with the context's time limit, workers and seed,
a solution callback reporting every improvement to `ctx.report` -> extract a `Schedule`.

Status mapping: OPTIMAL -> SolveStatus.OPTIMAL (bound == objective), FEASIBLE -> FEASIBLE with
the solver's best bound, no solution but a warm start -> the warm start as HEURISTIC. When there
is no schedule at all (proven INFEASIBLE, MODEL_INVALID, or UNKNOWN at the time limit without a
warm start) `NoSolutionFound` is raised, carrying the status: the registry's feasibility check
is never handed a non-schedule.

Options read from `ctx.config.options`:
    hint: Schedule       a warm start (otherwise the best dispatching rule, when available)
    use_rules: bool      compute a warm start with `scheduler.rules.best_rule` (default True)
    cpsat_params: dict   raw CP-SAT `SatParameters` fields overriding the defaults below
    log: bool            log the CP-SAT search to stdout
    redundant_machine_cumulative: bool   for flexible problems, also bound the number of
                         operations running at once by the machine count (default False:
                         no gain measured on mk02/05/06/07/10 at 10 s)
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from ortools.sat.python import cp_model

from models.scheduling import (
    Objective,
    Schedule,
    ScheduledOperation,
    SchedulingProblem,
    SolverConfig,
    SolveStatus,
)
from scheduler.context import SolveContext
from scheduler.cpsat.model import CpsatModel, build_model
from scheduler.feasibility import check
from scheduler.objective import objective_value

SOLVER_NAME = "cpsat"
# Seconds kept back from the budget for extraction and the caller's feasibility check.
EXTRACTION_MARGIN_S = 0.05
MIN_SOLVE_S = 0.05
# The warm start from the dispatching rules may use this share of the budget, at most this long.
RULES_SHARE = 0.1
RULES_MAX_S = 2.0


def default_params(problem: SchedulingProblem) -> dict[str, Any]:
    """CP-SAT parameters chosen by measurement (2 workers, equal deterministic time):

    - makespan on machines only (job shop, FJSP): `linearization_level=0`. The LP relaxation
      of disjunctive makespan models is weak; without it propagation and LNS run faster.
      la29+la40 at 1.5 deterministic seconds: mean gap 1.90% vs 2.61% with the default level 1
      (`use_lns_only` 2.67%, and it proves no bound).
    - weighted objectives and cumulative resources keep the default LP, which helps bounds
      on weighted sums.
    """
    if problem.objective is Objective.MAKESPAN and not problem.resources:
        return {"linearization_level": 0}
    return {}


class NoSolutionFound(ValueError):
    """CP-SAT produced no schedule: the problem is infeasible or the limits were too tight."""

    def __init__(self, status: SolveStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class _ProgressCallback(cp_model.CpSolverSolutionCallback):
    """Reports each strictly better incumbent (in true objective units) to the context."""

    def __init__(self, ctx: SolveContext, scale: int, best: float | None) -> None:
        super().__init__()
        self._ctx = ctx
        self._scale = scale
        self._best = best
        self._lock = threading.Lock()
        self.solutions = 0

    def on_solution_callback(self) -> None:
        objective = self.objective_value / self._scale
        bound = self.best_objective_bound / self._scale
        with self._lock:
            self.solutions += 1
            if self._best is not None and objective >= self._best:
                return
            self._best = objective
        self._ctx.report(objective, bound)


def warm_start(problem: SchedulingProblem, ctx: SolveContext) -> tuple[Schedule | None, str]:
    """A feasible schedule to hint CP-SAT with, and where it came from ("" when none).

    `options["hint"]` wins; otherwise `scheduler.rules.best_rule` run on a small slice of the
    budget (`RULES_SHARE`, at most `RULES_MAX_S`), if that package imports and succeeds.
    Anything that is not a feasible schedule of `problem` is dropped.
    """
    given = ctx.config.options.get("hint")
    if isinstance(given, Schedule) and _is_feasible(problem, given):
        return given, "option"
    if not ctx.config.options.get("use_rules", True):
        return None, ""
    budget = min(RULES_MAX_S, RULES_SHARE * ctx.remaining())
    rules_options = {k: v for k, v in ctx.config.options.items() if k in ("rules", "modes", "mode")}
    rules_ctx = SolveContext(
        SolverConfig(budget, ctx.config.seed, 1, rules_options), None, ctx.clock
    )
    try:
        from scheduler.rules import best_rule

        result = best_rule(problem, rules_ctx)
    except Exception:  # the rules are optional here: CP-SAT works without a hint
        return None, ""
    if isinstance(result, Schedule) and _is_feasible(problem, result):
        rule = result.info.get("rule", result.solver)
        mode = result.info.get("mode")
        return result, f"rule:{rule}" + (f"/{mode}" if mode else "")
    return None, ""


def _is_feasible(problem: SchedulingProblem, schedule: Schedule) -> bool:
    try:
        return not check(problem, schedule, check_objective=False)
    except Exception:
        return False


def make_solver(problem: SchedulingProblem, ctx: SolveContext) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(MIN_SOLVE_S, ctx.remaining() - EXTRACTION_MARGIN_S)
    params.num_workers = max(1, int(ctx.config.workers))
    params.random_seed = int(ctx.config.seed)
    params.log_search_progress = bool(ctx.config.options.get("log", False))
    overrides = {**default_params(problem), **dict(ctx.config.options.get("cpsat_params", {}))}
    for key, value in overrides.items():
        setattr(params, key, value)
    return solver


def extract(built: CpsatModel, solver: cp_model.CpSolver) -> tuple[ScheduledOperation, ...]:
    placed = []
    for op, (start, option) in enumerate(zip(built.starts, built.choices, strict=True)):
        machine = option[0][0]
        for candidate, literal in option:
            if literal is None or solver.boolean_value(literal):
                machine = candidate
                break
        begin = int(solver.value(start))
        duration = built.problem.operations[op].duration_on(machine)
        placed.append(ScheduledOperation(op, machine, begin, begin + duration))
    return tuple(placed)


def solve_model(
    problem: SchedulingProblem,
    ctx: SolveContext,
    hint: Schedule | None = None,
    hint_source: str = "",
) -> Schedule:
    """Build, solve and extract; `hint` must be feasible for `problem`."""
    built = build_model(
        problem, hint, bool(ctx.config.options.get("redundant_machine_cumulative", False))
    )
    hint_value = objective_value(problem, hint.operations) if hint is not None else None
    if hint_value is not None:
        ctx.report(hint_value, None)
    solver = make_solver(problem, ctx)
    callback = _ProgressCallback(ctx, built.scale, hint_value)
    status = solver.solve(built.model, callback)
    status_name = solver.status_name(status)
    info: dict[str, Any] = {
        "cpsat_status": status_name,
        "wall_time_s": solver.wall_time,
        "num_conflicts": solver.num_conflicts,
        "num_branches": solver.num_branches,
        "num_workers": solver.parameters.num_workers,
        "horizon": built.horizon,
        "hint_used": built.hint_used,
        "hint_source": hint_source,
        "hint_objective": hint_value,
        "solutions": callback.solutions,
    }
    if built.scale != 1:
        info["objective_scale"] = built.scale
    if built.notes:
        info["notes"] = list(built.notes)

    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed = extract(built, solver)
        value = objective_value(problem, placed)
        if status == cp_model.OPTIMAL and built.weights_exact:
            result_status, bound = SolveStatus.OPTIMAL, value
        else:
            result_status = SolveStatus.FEASIBLE
            bound = min(value, solver.best_objective_bound / built.scale)
        schedule = Schedule(
            problem=problem.name,
            solver=SOLVER_NAME,
            operations=placed,
            objective_value=value,
            status=result_status,
            bound=bound,
            solve_seconds=ctx.elapsed(),
            info=info,
        )
        if hint is not None and hint_value is not None and hint_value < value:
            # Only possible with rounded weights: keep the better schedule.
            return _from_hint(problem, hint, hint_value, bound, info)
        info["bound"] = bound
        info["gap"] = schedule.gap
        return schedule

    if status == cp_model.INFEASIBLE:
        reason = _explain_infeasible(problem)
        raise NoSolutionFound(
            SolveStatus.INFEASIBLE, f"CP-SAT proved {problem.name!r} infeasible{reason}"
        )
    if status == cp_model.MODEL_INVALID:
        raise NoSolutionFound(
            SolveStatus.UNKNOWN, f"CP-SAT model invalid: {built.model.validate()}"
        )
    if hint is not None and hint_value is not None:
        bound = solver.best_objective_bound / built.scale
        return _from_hint(problem, hint, hint_value, min(bound, hint_value), info)
    raise NoSolutionFound(
        SolveStatus.UNKNOWN,
        f"CP-SAT found no schedule for {problem.name!r} within "
        f"{solver.parameters.max_time_in_seconds:.2f}s",
    )


def _from_hint(
    problem: SchedulingProblem,
    hint: Schedule,
    hint_value: float,
    bound: float | None,
    info: dict[str, Any],
) -> Schedule:
    info = {**info, "returned": "warm start (CP-SAT found no better schedule)", "bound": bound}
    schedule = Schedule(
        problem=problem.name,
        solver=SOLVER_NAME,
        operations=hint.operations,
        objective_value=hint_value,
        status=SolveStatus.HEURISTIC,
        bound=bound,
        info=info,
    )
    return replace(schedule, info={**info, "gap": schedule.gap})


def _explain_infeasible(problem: SchedulingProblem) -> str:
    capacity = {r.name: r.capacity for r in problem.resources}
    for op in problem.operations:
        for name, demand in op.demands.items():
            if name in capacity and demand > capacity[name] and op.min_duration > 0:
                return f": op {op.id} demands {demand} of {name!r}, capacity {capacity[name]}"
    return ""


def solve_cpsat(problem: SchedulingProblem, ctx: SolveContext) -> Schedule:
    """Registry entry `cpsat`: warm start, then CP-SAT within the context's budget."""
    hint, source = warm_start(problem, ctx)
    return solve_model(problem, ctx, hint, source)
