"""`auto`: picks a scheduler from the problem's size and structure and the time limit, and says
why in `Schedule.info["auto"]`.

The thresholds come from the benchmark runs reported in the README: CP-SAT with a rule as warm
start wins whenever it has a second or more per few hundred operations; below that budget a
constructive method is the only thing that finishes, and the learned policy beats the classic
rules there when its model is available.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.scheduling import Objective, Schedule, SchedulingProblem
from scheduler.context import SolveContext

# Operations CP-SAT handles well per second of budget on two workers.
CPSAT_OPS_PER_SECOND = 300
TINY_BUDGET_S = 0.5


@dataclass(frozen=True)
class Choice:
    scheduler: str
    reason: str


def choose(problem: SchedulingProblem, time_limit_s: float, ml_available: bool) -> Choice:
    n = problem.num_operations
    flexible = any(len(op.alternatives) > 1 for op in problem.operations)
    dag = bool(problem.precedences) or not all(job.ordered for job in problem.jobs)
    if n <= 40:
        return Choice("cpsat", f"{n} operations: small enough for CP-SAT to prove optimality")
    if time_limit_s < TINY_BUDGET_S:
        if dag and flexible and not problem.resources:
            why = "HEFT suits a DAG on heterogeneous machines"
            return Choice("heft", f"{time_limit_s}s is too short to search; {why}")
        if ml_available and problem.objective is Objective.MAKESPAN and not problem.resources:
            why = "the learned dispatching policy is the best constructive method"
            return Choice("ml", f"{time_limit_s}s is too short to search; {why}")
        return Choice(
            "mwkr" if problem.objective is Objective.MAKESPAN else "wspt",
            f"{time_limit_s}s is too short to search; a dispatching rule suited to the objective",
        )
    if n <= CPSAT_OPS_PER_SECOND * time_limit_s:
        return Choice(
            "cpsat", f"{n} operations within {time_limit_s}s: CP-SAT with a rule as warm start"
        )
    why = "the GA with local search scales further"
    return Choice("ga", f"{n} operations exceed what CP-SAT covers in {time_limit_s}s; {why}")


def solve_auto(problem: SchedulingProblem, ctx: SolveContext) -> Schedule:
    from scheduler.ml.model_store import default_model_available
    from scheduler.registry import get

    choice = choose(problem, ctx.config.time_limit_s, default_model_available())
    schedule = get(choice.scheduler)(problem, ctx)
    info = {**schedule.info, "auto": {"scheduler": choice.scheduler, "reason": choice.reason}}
    return replace(schedule, solver=f"auto:{choice.scheduler}", info=info)
