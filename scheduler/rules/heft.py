"""HEFT (Heterogeneous Earliest Finish Time) list scheduling for DAGs on heterogeneous machines.

Upward rank of an operation = its mean duration over its alternatives plus the largest upward
rank among its successors (communication cost taken as zero). Operations are placed in
decreasing rank, each on the machine giving the earliest finish, with insertion into idle gaps;
releases and cumulative resources are respected because placement goes through the serial SGS.
With positive durations the rank order is topological, so "highest-ranked eligible operation"
is exactly HEFT's global rank order; with zero durations eligibility keeps it safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.scheduling import ScheduledOperation, SchedulingProblem
from scheduler.rules.priorities import by_key
from scheduler.rules.sgs import Candidate, list_sgs, serial_sgs, tails, topological_order


def upward_ranks(problem: SchedulingProblem) -> list[float]:
    mean = [
        sum(a.duration for a in op.alternatives) / len(op.alternatives) for op in problem.operations
    ]
    return tails(problem, topological_order(problem), mean)


def heft(problem: SchedulingProblem, mode: str = "active") -> list[ScheduledOperation]:
    rank: Sequence[float] = upward_ranks(problem)
    if mode == "active":  # rank order ignores start times: the fast static-priority path
        return list_sgs(problem, [-r for r in rank])

    def key(c: Candidate) -> tuple[float, ...]:
        return (-rank[c.op], c.topo_index, c.end, c.machine)

    return serial_sgs(problem, by_key(key), mode)
