"""Plans on request: runs a scheduler from the library on a problem, or on a namespace's live
work exactly as the dispatcher would (optionally adopting the plan now), off the event loop,
with a bounded number of solves at once (solvers are CPU-bound)."""

from __future__ import annotations

import asyncio

from controlplane.engine.planning.rolling import RollingPlanner
from models.errors import FailedPrecondition, FieldViolation, InvalidArgument, invalid
from models.queueing import NamespacePolicy
from models.scheduling import (
    PlannedOperation,
    PlanResult,
    Schedule,
    SchedulerInfo,
    SchedulingProblem,
)
from scheduler import registry
from scheduler.instances.json_io import problem_from_json
from scheduler.placement.catalog import ONLINE
from scheduler.rolling import LiveProblem

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

PLACEMENT_DESCRIPTIONS = {
    "first-fit": "placement: the first node in order with room",
    "best-fit": "placement: the node left with the least room (packs, keeps big holes)",
    "worst-fit": "placement: the node left with the most room (spreads load)",
    "dot-product": "placement: the node whose free resources align best with the demand",
    "fgd": "placement: least growth of GPU fragmentation for the recent workload mix",
}


def scheduler_violations(policy: NamespacePolicy, prefix: str = "quota") -> list[FieldViolation]:
    """Problems with a namespace's placement policy and batch scheduler names."""
    out = []
    if policy.placement_policy not in ONLINE:
        out.append(
            FieldViolation(
                f"{prefix}.placement_policy",
                f"unknown placement policy {policy.placement_policy!r}; known: "
                + ", ".join(ONLINE),
            )
        )
    if policy.batch_scheduler and policy.batch_scheduler not in registry.names():
        out.append(
            FieldViolation(
                f"{prefix}.batch_scheduler",
                f"unknown scheduler {policy.batch_scheduler!r}; see ListSchedulers",
            )
        )
    if not 0.1 <= policy.plan_interval_s <= 3600:
        out.append(FieldViolation(f"{prefix}.plan_interval", "must be between 0.1 s and 1 h"))
    return out


def plan_result(
    problem: SchedulingProblem, schedule: Schedule, live: LiveProblem | None = None
) -> PlanResult:
    """The schedule as the API reports it; with `live` (a namespace plan), each operation
    names the task it stands for and the node of its machine."""
    position = {o: i for job in problem.jobs for i, o in enumerate(job.operations)}
    operations = []
    for s in schedule.operations:
        task = live.tasks[s.operation] if live is not None else None
        operations.append(
            PlannedOperation(
                operation=s.operation,
                job=problem.operations[s.operation].job,
                position=position[s.operation],
                machine=s.machine,
                start=s.start,
                end=s.end,
                execution_id=task.execution_id if task is not None else "",
                task_id=task.task_id if task is not None else "",
                node_id=live.slots[s.machine].node if live is not None else "",
            )
        )
    return PlanResult(
        scheduler=schedule.solver,
        status=schedule.status,
        objective=schedule.objective_value,
        bound=schedule.bound,
        operations=operations,
        solve_time_s=schedule.solve_seconds,
        info=dict(schedule.info),
    )


class Planner:
    def __init__(self, rolling: RollingPlanner, concurrent_solves: int = 1) -> None:
        self._rolling = rolling
        self._slots = asyncio.Semaphore(concurrent_solves)

    def schedulers(self) -> list[SchedulerInfo]:
        """Batch schedulers, then online placement policies."""
        batch = [SchedulerInfo(n, DESCRIPTIONS.get(n, ""), "batch") for n in registry.names()]
        online = [SchedulerInfo(n, PLACEMENT_DESCRIPTIONS.get(n, ""), "placement") for n in ONLINE]
        return batch + online

    async def plan_namespace(
        self, namespace: str, scheduler: str, time_limit_s: float, adopt: bool
    ) -> PlanResult:
        """The plan the dispatcher would follow for the namespace's live work now."""
        if scheduler and scheduler not in registry.names():
            raise invalid("scheduler", f"unknown scheduler {scheduler!r}; see ListSchedulers")
        if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
            raise invalid("time_limit", f"must be in (0, {MAX_TIME_LIMIT_S:.0f}] seconds")
        async with self._slots:
            live_plan = await self._rolling.plan(namespace, scheduler, time_limit_s)
        if live_plan is None:
            raise FailedPrecondition(
                f"namespace {namespace!r} has no queued or predicted tasks to plan",
                [FieldViolation("namespace", "nothing to plan")],
            )
        if adopt:
            self._rolling.adopt(namespace, live_plan)
        return plan_result(live_plan.live.problem, live_plan.schedule, live_plan.live)

    async def plan(
        self, problem_json: str, scheduler: str, time_limit_s: float, seed: int, workers: int
    ) -> PlanResult:
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
        return plan_result(problem, schedule)
