"""Decoding a chromosome into an active schedule.

Operations are taken in sequence order (repaired into a topological order when the problem
has extra precedence edges) and each is inserted at the earliest start on its assigned machine
that is not before its release, its predecessors' ends and the machine's ready time and fits
into an idle gap (`active` decoding). With cumulative resources, the start is also pushed
until the resource profile has room for the whole duration.

This loop dominates the GA's runtime, so it is a tight pure-Python loop over plain lists.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right, insort
from dataclasses import dataclass

import numpy as np

from models.scheduling import Objective
from scheduler.ga.encoding import Compiled, operation_order


@dataclass
class Decoded:
    starts: list[int]
    machines: list[int]
    durations: list[int]
    objective: float


def repair_order(cp: Compiled, order: list[int]) -> list[int]:
    """Topological order that follows `order` as a priority (earliest position first)."""
    position = [0] * cp.n_ops
    for i, o in enumerate(order):
        position[o] = i
    indeg = [len(p) for p in cp.preds]
    heap = [(position[o], o) for o in range(cp.n_ops) if indeg[o] == 0]
    heapq.heapify(heap)
    out = []
    succs = cp.succs
    while heap:
        _, o = heapq.heappop(heap)
        out.append(o)
        for s in succs[o]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(heap, (position[s], s))
    return out


def objective_of(cp: Compiled, ends: list[int]) -> float:
    if cp.objective is Objective.MAKESPAN:
        return float(max(ends, default=0))
    total = 0.0
    for j, ops in enumerate(cp.job_ops):
        completion = max((ends[o] for o in ops), default=0)
        if cp.objective is Objective.TOTAL_WEIGHTED_COMPLETION:
            total += cp.job_weight[j] * completion
        else:
            due = cp.job_due[j]
            if due is not None and completion > due:
                total += cp.job_weight[j] * (completion - due)
    return total


def decode(cp: Compiled, seq: np.ndarray, assign: np.ndarray, greedy: bool = False) -> Decoded:
    """Active schedule of a chromosome. With `greedy` (and no cumulative resources), each
    flexible operation instead goes to the alternative that completes it earliest, and the
    choice is written back into `assign` (in place)."""
    order = operation_order(cp, seq)
    if cp.needs_repair:
        order = repair_order(cp, order)
    assign_list = assign.tolist()
    if cp.has_resources:
        return _decode_resources(cp, order, assign_list)
    if greedy and cp.flexible.size:
        decoded = _decode_greedy(cp, order, assign_list)
        assign[:] = assign_list
        return decoded
    return _decode_plain(cp, order, assign_list)


def _decode_greedy(cp: Compiled, order: list[int], assign: list[int]) -> Decoded:
    n = cp.n_ops
    starts = [0] * n
    ends = [0] * n
    machines = [0] * n
    durations = [0] * n
    m_starts: list[list[int]] = [[] for _ in range(cp.n_machines)]
    m_ends: list[list[int]] = [[] for _ in range(cp.n_machines)]
    for o in order:
        est = cp.release[o]
        for p in cp.preds[o]:
            if ends[p] > est:
                est = ends[p]
        best_a, best_t, best_end = 0, 0, -1
        for a, (m, d) in enumerate(zip(cp.alt_machines[o], cp.alt_durations[o], strict=True)):
            t = _machine_fit(m_starts[m], m_ends[m], max(est, cp.machine_ready[m]), d)
            if best_end < 0 or t + d < best_end:
                best_a, best_t, best_end = a, t, t + d
        assign[o] = best_a
        m = cp.alt_machines[o][best_a]
        d = cp.alt_durations[o][best_a]
        if d > 0:
            ms, me = m_starts[m], m_ends[m]
            i = bisect_right(me, best_t)
            ms.insert(i, best_t)
            me.insert(i, best_end)
        starts[o] = best_t
        ends[o] = best_end
        machines[o] = m
        durations[o] = d
    return Decoded(starts, machines, durations, objective_of(cp, ends))


def _decode_plain(cp: Compiled, order: list[int], assign: list[int]) -> Decoded:
    n = cp.n_ops
    starts = [0] * n
    ends = [0] * n
    machines = [0] * n
    durations = [0] * n
    # Per machine: sorted starts and ends of the (non-overlapping) busy intervals.
    m_starts: list[list[int]] = [[] for _ in range(cp.n_machines)]
    m_ends: list[list[int]] = [[] for _ in range(cp.n_machines)]
    alt_machines = cp.alt_machines
    alt_durations = cp.alt_durations
    preds = cp.preds
    release = cp.release
    machine_ready = cp.machine_ready
    for o in order:
        a = assign[o]
        m = alt_machines[o][a]
        d = alt_durations[o][a]
        est = release[o]
        if machine_ready[m] > est:
            est = machine_ready[m]
        for p in preds[o]:
            e = ends[p]
            if e > est:
                est = e
        ms = m_starts[m]
        me = m_ends[m]
        k = len(ms)
        i = bisect_right(me, est)
        t = est
        while i < k:
            # gap before interval i: [prev_end, ms[i])
            if i > 0 and me[i - 1] > t:
                t = me[i - 1]
            if t + d <= ms[i]:
                break
            i += 1
        else:
            if k and me[k - 1] > t:
                t = me[k - 1]
        if d > 0:
            ms.insert(i, t)
            me.insert(i, t + d)
        starts[o] = t
        ends[o] = t + d
        machines[o] = m
        durations[o] = d
    return Decoded(starts, machines, durations, objective_of(cp, ends))


def _decode_resources(cp: Compiled, order: list[int], assign: list[int]) -> Decoded:
    n = cp.n_ops
    starts = [0] * n
    ends = [0] * n
    machines = [0] * n
    durations = [0] * n
    m_starts: list[list[int]] = [[] for _ in range(cp.n_machines)]
    m_ends: list[list[int]] = [[] for _ in range(cp.n_machines)]
    # Per resource: the busy intervals (start, end, units), kept sorted by start.
    held: list[list[tuple[int, int, int]]] = [[] for _ in cp.capacities]
    capacities = cp.capacities
    for o in order:
        a = assign[o]
        m = cp.alt_machines[o][a]
        d = cp.alt_durations[o][a]
        est = max(cp.release[o], cp.machine_ready[m])
        for p in cp.preds[o]:
            est = max(est, ends[p])
        t = est
        while True:
            t = _machine_fit(m_starts[m], m_ends[m], t, d)
            t2 = t
            for r, units in cp.demands[o]:
                t2 = max(t2, _resource_fit(held[r], capacities[r], units, t2, d))
            if t2 == t:
                break
            t = t2
        if d > 0:
            ms, me = m_starts[m], m_ends[m]
            i = bisect_right(me, t)
            ms.insert(i, t)
            me.insert(i, t + d)
            for r, units in cp.demands[o]:
                insort(held[r], (t, t + d, units))
        starts[o] = t
        ends[o] = t + d
        machines[o] = m
        durations[o] = d
    return Decoded(starts, machines, durations, objective_of(cp, ends))


def _machine_fit(ms: list[int], me: list[int], est: int, d: int) -> int:
    """Earliest t >= est such that [t, t + d) is idle on the machine."""
    k = len(ms)
    i = bisect_right(me, est)
    t = est
    while i < k:
        if i > 0 and me[i - 1] > t:
            t = me[i - 1]
        if t + d <= ms[i]:
            return t
        i += 1
    if k and me[k - 1] > t:
        t = me[k - 1]
    return t


def _resource_fit(
    held: list[tuple[int, int, int]], capacity: int, units: int, est: int, d: int
) -> int:
    """Earliest t >= est at which `units` more fit under `capacity` during [t, t + d)."""
    if units > capacity:
        raise ValueError(f"demand {units} exceeds capacity {capacity}")
    t = est
    if d == 0:
        return t
    while True:
        # Usage is piecewise constant; check it at t and at every start inside (t, t + d).
        points = [t] + [s for s, _, _ in held if t < s < t + d]
        blocked_until = None
        for x in points:
            usage = sum(u for s, e, u in held if s <= x < e)
            if usage + units > capacity:
                # Move past the earliest end among intervals active at x.
                blocked_until = min(e for s, e, _ in held if s <= x < e)
                break
        if blocked_until is None:
            return t
        t = blocked_until
