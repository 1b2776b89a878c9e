"""Objective values computed from a schedule alone (used by every solver and the checker)."""

from __future__ import annotations

from collections.abc import Sequence

from models.scheduling import Objective, ScheduledOperation, SchedulingProblem


def job_completions(problem: SchedulingProblem, placed: Sequence[ScheduledOperation]) -> list[int]:
    ends = [0] * len(problem.jobs)
    for item in placed:
        job = problem.operations[item.operation].job
        ends[job] = max(ends[job], item.end)
    return ends


def objective_value(problem: SchedulingProblem, placed: Sequence[ScheduledOperation]) -> float:
    if problem.objective is Objective.MAKESPAN:
        return float(max((p.end for p in placed), default=0))
    completions = job_completions(problem, placed)
    total = 0.0
    for job, completion in zip(problem.jobs, completions, strict=True):
        if problem.objective is Objective.TOTAL_WEIGHTED_COMPLETION:
            total += job.weight * completion
        else:
            due = job.due if job.due is not None else completion
            total += job.weight * max(0, completion - due)
    return total
