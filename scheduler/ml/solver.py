"""The `ml` scheduler: the greedy dispatch policy learned offline (or one given by path), run
as a serial SGS with its best run kept."""

from __future__ import annotations

from models.scheduling import Schedule, SchedulingProblem
from scheduler.context import SolveContext
from scheduler.ml import model_store
from scheduler.ml.policy_solver import solve_with_policy


def solve_ml(problem: SchedulingProblem, ctx: SolveContext) -> Schedule:
    path = ctx.config.options.get("model_path")
    policy = model_store.load_policy(path) if path else model_store.default_policy()
    schedule = solve_with_policy(problem, ctx, policy.policies)
    info = {**schedule.info, "model": policy.metadata.get("name", "")}
    return Schedule(
        problem=schedule.problem,
        solver=schedule.solver,
        operations=schedule.operations,
        objective_value=schedule.objective_value,
        status=schedule.status,
        info=info,
    )
