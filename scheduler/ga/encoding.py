"""Chromosome encoding for the genetic algorithm.

A chromosome is two integer vectors of length `n_ops`:

- `seq`: an operation-based permutation *with repetition* of job ids. The k-th occurrence of
  job j stands for the k-th operation of j. For job shop / FJSP every such sequence is
  feasible; for general DAGs (extra precedence edges, one-operation jobs) the position in the
  sequence is a priority and the decoder repairs it into a topological order.
- `assign`: the index of the chosen alternative (machine) for every operation; always 0 for
  operations with a single alternative.

`Compiled` flattens a `SchedulingProblem` into plain lists once, so the hot loops never touch
the frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.scheduling import Objective, SchedulingProblem


@dataclass(frozen=True)
class Compiled:
    n_ops: int
    n_jobs: int
    n_machines: int
    op_job: list[int]
    job_ops: list[list[int]]
    alt_machines: list[list[int]]
    alt_durations: list[list[int]]
    n_alts: np.ndarray  # int64 (n_ops,)
    flexible: np.ndarray  # ids of operations with more than one alternative
    preds: list[list[int]]
    succs: list[list[int]]
    release: list[int]  # per operation (`SchedulingProblem.release_of`)
    needs_repair: bool  # extra precedence edges: sequences must be repaired topologically
    # Re-encoding a schedule by start times keeps every operation's identity (all jobs with
    # several operations are ordered chains), so local search results can be written back.
    exact_reencode: bool
    demands: list[list[tuple[int, int]]]  # per operation: (resource index, units)
    capacities: list[int]
    base_seq: np.ndarray  # the multiset of job ids, sorted
    objective: Objective
    job_weight: list[float]
    job_due: list[int | None]
    # Per machine: no operation starts on it before this (`SchedulingProblem.machine_ready`).
    machine_ready: list[int]

    @property
    def has_resources(self) -> bool:
        return bool(self.capacities)


def compile_problem(problem: SchedulingProblem) -> Compiled:
    n_ops = problem.num_operations
    op_job = [op.job for op in problem.operations]
    job_ops = [list(job.operations) for job in problem.jobs]
    alt_machines = [[a.machine for a in op.alternatives] for op in problem.operations]
    alt_durations = [[a.duration for a in op.alternatives] for op in problem.operations]
    n_alts = np.array([len(a) for a in alt_machines], dtype=np.int64)
    preds = problem.predecessors()
    succs: list[list[int]] = [[] for _ in range(n_ops)]
    for op, ps in enumerate(preds):
        for p in ps:
            succs[p].append(op)
    release = [problem.release_of(o) for o in range(n_ops)]
    resource_index = {r.name: i for i, r in enumerate(problem.resources)}
    demands = [
        [
            (resource_index[name], units)
            for name, units in op.demands.items()
            if units > 0 and name in resource_index
        ]
        for op in problem.operations
    ]
    base_seq = np.repeat(
        np.arange(len(problem.jobs), dtype=np.int64),
        [len(ops) for ops in job_ops],
    )
    return Compiled(
        n_ops=n_ops,
        n_jobs=len(problem.jobs),
        n_machines=problem.num_machines,
        op_job=op_job,
        job_ops=job_ops,
        alt_machines=alt_machines,
        alt_durations=alt_durations,
        n_alts=n_alts,
        flexible=np.flatnonzero(n_alts > 1),
        preds=preds,
        succs=succs,
        release=release,
        needs_repair=bool(problem.precedences),
        exact_reencode=all(job.ordered or len(job.operations) <= 1 for job in problem.jobs),
        demands=demands,
        capacities=[r.capacity for r in problem.resources],
        base_seq=base_seq,
        objective=problem.objective,
        job_weight=[j.weight for j in problem.jobs],
        job_due=[j.due for j in problem.jobs],
        machine_ready=problem.machine_ready_times,
    )


def random_population(
    cp: Compiled, size: int, rng: np.random.Generator, greedy_share: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """`size` random sequences; machine genes random, or the shortest alternative for a
    `greedy_share` of the individuals."""
    seqs = np.empty((size, cp.n_ops), dtype=np.int64)
    for i in range(size):
        seqs[i] = rng.permutation(cp.base_seq)
    assigns = np.zeros((size, cp.n_ops), dtype=np.int64)
    if cp.flexible.size:
        shortest = np.array([int(np.argmin(d)) for d in cp.alt_durations], dtype=np.int64)
        draws = rng.random((size, cp.n_ops))
        randoms = np.floor(draws * cp.n_alts[None, :]).astype(np.int64)
        greedy = rng.random(size) < greedy_share
        assigns[:] = np.where(greedy[:, None], shortest[None, :], randoms)
    return seqs, assigns


def operation_order(cp: Compiled, seq: np.ndarray | list[int]) -> list[int]:
    """Operation ids in sequence order (k-th occurrence of job j -> j's k-th operation)."""
    counters = [0] * cp.n_jobs
    job_ops = cp.job_ops
    order = []
    for j in seq.tolist() if isinstance(seq, np.ndarray) else seq:
        k = counters[j]
        counters[j] = k + 1
        order.append(job_ops[j][k])
    return order


def encode_order(cp: Compiled, starts: list[int]) -> np.ndarray:
    """Re-encodes a schedule as a sequence: operations sorted by start time, ties broken so
    that predecessors come first (topological rank). Decoding the result never yields a later
    start for any operation than `starts` (for the same machine genes)."""
    rank = topological_rank(cp)
    order = sorted(range(cp.n_ops), key=lambda o: (starts[o], rank[o]))
    # Within a job the k-th occurrence must be its k-th operation: emit job ids, and for
    # unordered jobs this also re-labels which operation is "k-th" consistently below.
    return np.array([cp.op_job[o] for o in order], dtype=np.int64)


def topological_rank(cp: Compiled) -> list[int]:
    indeg = [len(p) for p in cp.preds]
    stack = [o for o in range(cp.n_ops) if indeg[o] == 0]
    stack.reverse()
    rank = [0] * cp.n_ops
    r = 0
    while stack:
        o = stack.pop()
        rank[o] = r
        r += 1
        for s in cp.succs[o]:
            indeg[s] -= 1
            if indeg[s] == 0:
                stack.append(s)
    return rank
