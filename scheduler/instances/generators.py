"""Seeded random instances for tests and training that must not depend on shared data."""

from __future__ import annotations

import numpy as np

from models.scheduling import Alternative, Job, Objective, Operation, Resource, SchedulingProblem
from scheduler.instances.duration_laws import DurationLaw


def random_jobshop(
    n_jobs: int,
    n_machines: int,
    seed: int,
    low: int = 1,
    high: int = 99,
    name: str = "",
    durations: str = "uniform",
) -> SchedulingProblem:
    """Taillard-style: every job visits each machine once in a random order, durations in
    [low, high] drawn from the law `durations` (see `duration_laws`; uniform by default)."""
    rng = np.random.default_rng(seed)
    law = DurationLaw(durations, seed, low, high, n_jobs, n_machines)
    jobs: list[Job] = []
    operations: list[Operation] = []
    for j in range(n_jobs):
        order = rng.permutation(n_machines)
        times = law.replace(rng.integers(low, high + 1, size=n_machines), j, order)
        ids = []
        for machine, duration in zip(order, times, strict=True):
            ids.append(len(operations))
            operations.append(
                Operation(len(operations), j, (Alternative(int(machine), int(duration)),))
            )
        jobs.append(Job(j, tuple(ids), name=f"J{j}"))
    return SchedulingProblem(
        name or f"js-{n_jobs}x{n_machines}-s{seed}", n_machines, tuple(jobs), tuple(operations)
    )


def random_fjsp(
    n_jobs: int,
    n_machines: int,
    seed: int,
    ops_per_job: int | None = None,
    max_alternatives: int = 3,
    low: int = 1,
    high: int = 20,
    name: str = "",
    durations: str = "uniform",
) -> SchedulingProblem:
    """Brandimarte-style: each operation may run on 1..max_alternatives random machines, each
    with its own duration in [low, high] drawn from the law `durations` (see `duration_laws`)."""
    rng = np.random.default_rng(seed)
    law = DurationLaw(durations, seed, low, high, n_jobs, n_machines)
    n_ops = ops_per_job or n_machines
    jobs: list[Job] = []
    operations: list[Operation] = []
    for j in range(n_jobs):
        ids = []
        for _ in range(n_ops):
            k = int(rng.integers(1, min(max_alternatives, n_machines) + 1))
            machines = sorted(int(m) for m in rng.choice(n_machines, size=k, replace=False))
            uniform = [int(rng.integers(low, high + 1)) for _ in machines]
            times = [int(t) for t in law.replace(uniform, j, machines)]
            alternatives = tuple(Alternative(m, t) for m, t in zip(machines, times, strict=True))
            ids.append(len(operations))
            operations.append(Operation(len(operations), j, alternatives))
        jobs.append(Job(j, tuple(ids), name=f"J{j}"))
    return SchedulingProblem(
        name or f"fjsp-{n_jobs}x{n_machines}-s{seed}", n_machines, tuple(jobs), tuple(operations)
    )


def random_dag(
    n_operations: int,
    n_machines: int,
    seed: int,
    edge_probability: float = 0.15,
    resources: dict[str, int] | None = None,
    heterogeneous: bool = True,
    objective: Objective = Objective.MAKESPAN,
    name: str = "",
) -> SchedulingProblem:
    """A random precedence DAG (edges only from lower to higher ids, so acyclic), every
    operation its own job, eligible on a random subset of machines with machine-dependent
    durations, and optional demands on cumulative resources (e.g. {"cpu": 8, "gpu": 2}).
    Jobs get release times, due dates and weights so every objective is meaningful."""
    rng = np.random.default_rng(seed)
    resources = resources or {}
    operations, jobs = [], []
    precedences = []
    for i in range(n_operations):
        base = int(rng.integers(2, 20))
        k = int(rng.integers(1, n_machines + 1)) if heterogeneous else n_machines
        machines = sorted(int(m) for m in rng.choice(n_machines, size=k, replace=False))
        alternatives = tuple(
            Alternative(m, max(1, round(base * (rng.uniform(0.5, 1.5) if heterogeneous else 1.0))))
            for m in machines
        )
        demands = {
            name_: int(rng.integers(1, max(1, capacity // 2) + 1))
            for name_, capacity in resources.items()
            if rng.random() < 0.7
        }
        operations.append(
            Operation(i, i, alternatives, demands=demands, kind=f"k{base % 4}", size=float(base))
        )
        for j in range(i):
            if rng.random() < edge_probability / max(1.0, (i - j) / 3):
                precedences.append((j, i))
        release = int(rng.integers(0, 10))
        jobs.append(
            Job(
                i,
                (i,),
                name=f"op{i}",
                release=release,
                due=release + int(rng.integers(20, 120)),
                weight=float(rng.integers(1, 5)),
            )
        )
    return SchedulingProblem(
        name or f"dag-{n_operations}-s{seed}",
        n_machines,
        tuple(jobs),
        tuple(operations),
        precedences=tuple(precedences),
        resources=tuple(Resource(k, v) for k, v in resources.items()),
        objective=objective,
    )
