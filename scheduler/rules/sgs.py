"""Serial schedule-generation scheme (SGS) over the general scheduling model.

One step: every *eligible* operation (all predecessors placed) gets a machine and its earliest
feasible start; a `choose` callback picks one candidate; the operation is placed there. The
earliest start respects predecessor ends, the job's and the operation's release, the machine's
ready time and timeline (insertion into idle gaps, so the schedules are active) and every
cumulative-resource profile over the whole duration. Dispatching rules, HEFT and learned
policies (`scheduler/ml/`) all drive this one loop:

    def choose(state: SgsState, candidates: Sequence[Candidate]) -> int: ...
    placed = serial_sgs(problem, choose, mode="active")

Modes restrict which candidates `choose` sees:
  - "active": every eligible operation (each placed at its earliest start, with insertion);
  - "non_delay": only those that can start at the earliest start among eligible operations;
  - "gt": Giffler-Thompson conflict set: the candidate with the earliest completion c* fixes a
    machine m*; only candidates on m* that can start before c* are offered.

Bookkeeping is incremental: an operation's earliest start is recomputed only when its machine's
timeline, a resource it uses, or its job changed since the last step.
"""

from __future__ import annotations

import heapq
import math
import operator
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from models.scheduling import ScheduledOperation, SchedulingProblem

MODES = ("active", "non_delay", "gt")


class Candidate(NamedTuple):
    """One way to place one eligible operation now. All fields are numbers, so
    `numpy.asarray(candidates, dtype=float)` is a ready feature matrix (columns in field order,
    see `Candidate._fields`)."""

    op: int
    job: int
    machine: int  # chosen machine (earliest completion, or each alternative when expanded)
    start: int  # earliest feasible start on that machine
    end: int  # start + duration
    duration: int  # duration on that machine
    ready: int  # max(release, predecessor ends): earliest start ignoring machines/resources
    release: int  # job release
    due: float  # job due date, math.inf when the job has none
    weight: float  # job weight
    job_remaining_work: int  # sum of min durations of the job's unplaced ops (this one included)
    job_remaining_ops: int  # number of the job's unplaced ops (this one included)
    tail: int  # longest path of min durations from this op to the end (this one included)
    min_duration: int  # shortest duration over the op's alternatives
    mean_duration: float  # mean duration over the op's alternatives
    n_alternatives: int  # number of eligible machines of the op
    topo_index: int  # position of the op in a fixed topological order (stable tie-breaker)


Choose = Callable[["SgsState", Sequence[Candidate]], int]
# C-level field getters for the per-step minima (a lambda per candidate costs more).
_START_OF = operator.itemgetter(3)
_GT_KEY = operator.itemgetter(4, 5, 2, 0)  # (end, duration, machine, op)
assert Candidate._fields[3] == "start" and Candidate._fields[4:6] == ("end", "duration")


@dataclass
class SgsState:
    """The partial schedule as `choose` sees it. Mutated in place between steps: copy what
    you need to keep."""

    problem: SchedulingProblem
    time: int = 0  # earliest start among the candidates offered at this step
    makespan: int = 0  # latest end placed so far
    step: int = 0  # operations placed so far
    placed: list[ScheduledOperation | None] = field(default_factory=list)
    # Latest end on each machine (its ready time while nothing is placed on it).
    machine_available: list[int] = field(default_factory=list)
    machine_busy: list[int] = field(default_factory=list)  # placed work on each machine
    job_remaining_work: list[int] = field(default_factory=list)
    job_remaining_ops: list[int] = field(default_factory=list)
    job_end: list[int] = field(default_factory=list)  # latest end placed in each job

    @property
    def num_operations(self) -> int:
        return len(self.placed)


class _Timeline:
    """Busy intervals of one machine, sorted and disjoint, after its ready time `floor`."""

    __slots__ = ("ends", "floor", "starts")

    def __init__(self, floor: int = 0) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.floor = floor

    def earliest(self, ready: int, duration: int) -> int:
        if ready < self.floor:
            ready = self.floor
        ends = self.ends
        if duration == 0 or not ends or ready >= ends[-1]:
            return ready
        starts = self.starts
        t = ready
        for i in range(bisect_right(ends, ready), len(ends)):
            if t + duration <= starts[i]:
                return t
            if ends[i] > t:
                t = ends[i]
        return t

    def add(self, start: int, end: int) -> None:
        if end > start:
            i = bisect_left(self.starts, start)
            self.starts.insert(i, start)
            self.ends.insert(i, end)


class _Profile:
    """Usage of one cumulative resource as a step function: `levels[k]` on
    [times[k], times[k+1]); the last level (to infinity) is always 0."""

    __slots__ = ("capacity", "levels", "times")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.times: list[int] = [0]
        self.levels: list[int] = [0]

    def earliest(self, t: int, duration: int, demand: int) -> int:
        if duration == 0 or demand == 0:
            return t
        room = self.capacity - demand
        times, levels = self.times, self.levels
        k = bisect_right(times, t) - 1
        n = len(times)
        while True:
            j = k
            while j < n and times[j] < t + duration and levels[j] <= room:
                j += 1
            if j == n or times[j] >= t + duration:
                return t
            j += 1  # segment j-1 overflows: restart where the level first fits again
            while levels[j] > room:
                j += 1
            t, k = times[j], j

    def _breakpoint(self, x: int) -> int:
        i = bisect_left(self.times, x)
        if i == len(self.times) or self.times[i] != x:
            self.times.insert(i, x)
            self.levels.insert(i, self.levels[i - 1])
        return i

    def add(self, start: int, end: int, demand: int) -> None:
        if end > start and demand:
            first = self._breakpoint(start)
            last = self._breakpoint(end)
            for k in range(first, last):
                self.levels[k] += demand


def topological_order(
    problem: SchedulingProblem, preds: list[list[int]] | None = None
) -> list[int]:
    """Kahn's order with the lowest id first among ready operations; raises on a cycle."""
    preds = problem.predecessors() if preds is None else preds
    n = problem.num_operations
    succs: list[list[int]] = [[] for _ in range(n)]
    missing = [len(p) for p in preds]
    for op, ps in enumerate(preds):
        for p in ps:
            succs[p].append(op)
    heap = [op for op in range(n) if missing[op] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        op = heapq.heappop(heap)
        order.append(op)
        for s in succs[op]:
            missing[s] -= 1
            if missing[s] == 0:
                heapq.heappush(heap, s)
    if len(order) != n:
        raise ValueError(f"{problem.name}: precedence graph has a cycle")
    return order


def tails(
    problem: SchedulingProblem, order: Sequence[int], weights: Sequence[float]
) -> list[float]:
    """Longest path from each operation to a sink, counting `weights` of the ops on it."""
    succs = problem.successors()
    out = [0.0] * problem.num_operations
    for op in reversed(order):
        out[op] = weights[op] + max((out[s] for s in succs[op]), default=0.0)
    return out


def validate(problem: SchedulingProblem) -> None:
    """Raises ValueError when no schedule can exist for reasons the SGS can see up front."""
    capacity = {r.name: r.capacity for r in problem.resources}
    for op in problem.operations:
        if not op.alternatives:
            raise ValueError(f"operation {op.id} has no alternatives")
        for name, demand in op.demands.items():
            if name in capacity and demand > capacity[name]:
                raise ValueError(
                    f"operation {op.id} needs {demand} {name}, capacity {capacity[name]}"
                )


def _earliest(
    timeline: _Timeline,
    profiles: dict[str, _Profile],
    demands: tuple[tuple[str, int], ...],
    duration: int,
    t: int,
) -> int:
    """Earliest start >= t free on the machine and within every resource's capacity."""
    if not demands:
        return timeline.earliest(t, duration)
    while True:
        t = timeline.earliest(t, duration)
        moved = False
        for name, demand in demands:
            t2 = profiles[name].earliest(t, duration, demand)
            if t2 > t:
                t, moved = t2, True
        if not moved:
            return t


def _demands(problem: SchedulingProblem) -> list[tuple[tuple[str, int], ...]]:
    # Only declared resources constrain (as in the checker); zero demands are no demands.
    declared = {r.name for r in problem.resources}
    return [
        tuple((k, v) for k, v in op.demands.items() if v > 0 and k in declared)
        for op in problem.operations
    ]


def serial_sgs(
    problem: SchedulingProblem,
    choose: Choose,
    mode: str = "active",
    expand_machines: bool = False,
) -> list[ScheduledOperation]:
    """Builds a schedule by repeatedly asking `choose` for the index of one candidate.

    `expand_machines=False`: one candidate per eligible op, on the machine with the earliest
    completion (ties: shorter duration, lower machine index). `True`: one candidate per
    (eligible op, alternative), so `choose` also picks the machine.
    Returns the placements in operation-id order (what `Schedule.operations` wants).
    """
    if mode not in MODES:
        raise ValueError(f"unknown SGS mode {mode!r}; choose from {', '.join(MODES)}")
    validate(problem)
    ops = problem.operations
    jobs = problem.jobs
    n = len(ops)
    preds = problem.predecessors()
    order = topological_order(problem, preds)
    topo_index = [0] * n
    for i, op_id in enumerate(order):
        topo_index[op_id] = i
    succs: list[list[int]] = [[] for _ in range(n)]
    for op_id, ps in enumerate(preds):
        for p in ps:
            succs[p].append(op_id)
    min_dur = [op.min_duration for op in ops]
    tail = [int(t) for t in tails(problem, order, min_dur)]
    mean_dur = [sum(a.duration for a in op.alternatives) / len(op.alternatives) for op in ops]
    alts = [tuple((a.machine, a.duration) for a in op.alternatives) for op in ops]
    demands = _demands(problem)
    release = [max(0, j.release) for j in jobs]
    due = [math.inf if j.due is None else float(j.due) for j in jobs]

    machine_ready = problem.machine_ready_times
    timelines = [_Timeline(floor) for floor in machine_ready]
    profiles = {r.name: _Profile(r.capacity) for r in problem.resources}
    state = SgsState(
        problem=problem,
        placed=[None] * n,
        machine_available=list(machine_ready),
        machine_busy=[0] * problem.num_machines,
        job_remaining_work=[0] * len(jobs),
        job_remaining_ops=[0] * len(jobs),
        job_end=[0] * len(jobs),
    )
    for op in ops:
        state.job_remaining_work[op.job] += min_dur[op.id]
        state.job_remaining_ops[op.job] += 1

    missing = [len(p) for p in preds]
    ready = [max(0, problem.release_of(op.id)) for op in ops]
    eligible: list[int] = [op_id for op_id in range(n) if missing[op_id] == 0]
    # Earliest start of each eligible op on each of its alternatives, and its candidates
    # (None = rebuild). Adding busy time only removes feasible starts, so a cached start stays
    # the earliest unless the new interval overlaps it on its machine or on a shared resource.
    timing: list[list[int]] = [[] for _ in range(n)]
    cache: list[list[Candidate] | None] = [None] * n
    on_machine: list[set[int]] = [set() for _ in range(problem.num_machines)]
    on_resource: dict[str, set[int]] = {name: set() for name in profiles}
    in_job: list[set[int]] = [set() for _ in jobs]
    uses = [frozenset(name for name, _ in d) for d in demands]

    def earliest(op_id: int, machine: int, duration: int, t: int) -> int:
        """Earliest feasible start >= t (t >= the op's ready time)."""
        return _earliest(timelines[machine], profiles, demands[op_id], duration, t)

    def make_eligible(op_id: int) -> None:
        timing[op_id] = [earliest(op_id, m, d, ready[op_id]) for m, d in alts[op_id]]
        for machine, _ in alts[op_id]:
            on_machine[machine].add(op_id)
        for name in uses[op_id]:
            on_resource[name].add(op_id)
        in_job[ops[op_id].job].add(op_id)

    def retire(op_id: int) -> None:
        for machine, _ in alts[op_id]:
            on_machine[machine].discard(op_id)
        for name in uses[op_id]:
            on_resource[name].discard(op_id)
        in_job[ops[op_id].job].discard(op_id)
        cache[op_id] = None

    def candidates_of(op_id: int) -> list[Candidate]:
        job = ops[op_id].job
        options = [
            (start + duration, duration, machine, start)
            for (machine, duration), start in zip(alts[op_id], timing[op_id], strict=True)
        ]
        if not expand_machines:
            options = [min(options)]
        jb = jobs[job]
        return [
            Candidate(
                op_id,
                job,
                machine,
                start,
                end,
                duration,
                ready[op_id],
                release[job],
                due[job],
                jb.weight,
                state.job_remaining_work[job],
                state.job_remaining_ops[job],
                tail[op_id],
                min_dur[op_id],
                mean_dur[op_id],
                len(alts[op_id]),
                topo_index[op_id],
            )
            for end, duration, machine, start in options
        ]

    for op_id in eligible:
        make_eligible(op_id)
    while eligible:
        offered: list[Candidate] = []
        for op_id in eligible:
            cached = cache[op_id]
            if cached is None:
                cached = cache[op_id] = candidates_of(op_id)
            offered.extend(cached)
        if mode == "non_delay":
            t0 = min(map(_START_OF, offered))
            offered = [c for c in offered if c.start == t0]
        elif mode == "gt":
            first = min(offered, key=_GT_KEY)
            offered = [c for c in offered if c.machine == first.machine and c.start < first.end]
            if not offered:  # only zero-duration ties can empty it
                offered = [first]
        state.time = min(map(_START_OF, offered))
        index = choose(state, offered)
        if not 0 <= index < len(offered):
            raise IndexError(f"choose returned {index} for {len(offered)} candidates")
        pick = offered[index]
        op_id, job, machine = pick.op, pick.job, pick.machine
        start, end = pick.start, pick.end

        # Place it.
        state.placed[op_id] = ScheduledOperation(op_id, machine, start, end)
        state.step += 1
        state.makespan = max(state.makespan, end)
        state.machine_available[machine] = max(state.machine_available[machine], end)
        state.machine_busy[machine] += end - start
        state.job_remaining_work[job] -= min_dur[op_id]
        state.job_remaining_ops[job] -= 1
        state.job_end[job] = max(state.job_end[job], end)
        eligible.pop(bisect_left(eligible, op_id))
        retire(op_id)
        for other in in_job[job]:  # remaining work/ops of the job changed
            cache[other] = None

        if end > start:
            timelines[machine].add(start, end)
            for name, demand in demands[op_id]:
                profiles[name].add(start, end, demand)
            touched = set(on_machine[machine])
            for name in uses[op_id]:
                touched |= on_resource[name]
            for other in touched:
                starts = timing[other]
                shares = not uses[op_id].isdisjoint(uses[other])
                for k, (m, d) in enumerate(alts[other]):
                    if d and starts[k] < end and start < starts[k] + d and (m == machine or shares):
                        # the old earliest start is a lower bound of the new one
                        starts[k] = earliest(other, m, d, starts[k])
                        cache[other] = None

        for s in succs[op_id]:
            if end > ready[s]:
                ready[s] = end
            missing[s] -= 1
            if missing[s] == 0:
                insort(eligible, s)
                make_eligible(s)

    if state.step != n:  # unreachable after topological_order succeeded
        raise ValueError(f"{problem.name}: only {state.step} of {n} operations placed")
    return [p for p in state.placed if p is not None]


# (operation, [(machine, earliest start, duration) per alternative]) -> index of the alternative
MachinePick = Callable[[int, Sequence[tuple[int, int, int]]], int]


def earliest_completion(op: int, options: Sequence[tuple[int, int, int]]) -> int:
    """Default machine choice: earliest completion, then shorter duration, then lower index."""
    return min(range(len(options)), key=lambda k: (options[k][1] + options[k][2], options[k][2], k))


def list_sgs(
    problem: SchedulingProblem,
    priority: Sequence[float],
    pick_machine: MachinePick = earliest_completion,
) -> list[ScheduledOperation]:
    """Active serial SGS for a *static* priority (smallest first; ties: topological order):
    the choice never depends on start times, so only the picked operation's starts are
    computed. Same schedule as `serial_sgs` with key `(priority[op], topo_index)` in active
    mode, in O(n log n) plus placement (HEFT and round-robin on large DAGs)."""
    validate(problem)
    ops = problem.operations
    n = len(ops)
    preds = problem.predecessors()
    order = topological_order(problem, preds)
    topo_index = [0] * n
    for i, op_id in enumerate(order):
        topo_index[op_id] = i
    succs: list[list[int]] = [[] for _ in range(n)]
    for op_id, ps in enumerate(preds):
        for p in ps:
            succs[p].append(op_id)
    demands = _demands(problem)
    timelines = [_Timeline(floor) for floor in problem.machine_ready_times]
    profiles = {r.name: _Profile(r.capacity) for r in problem.resources}
    missing = [len(p) for p in preds]
    ready = [max(0, problem.release_of(op.id)) for op in ops]
    heap = [(priority[o], topo_index[o], o) for o in range(n) if missing[o] == 0]
    heapq.heapify(heap)
    placed: list[ScheduledOperation | None] = [None] * n
    while heap:
        _, _, op_id = heapq.heappop(heap)
        options = [
            (
                a.machine,
                _earliest(timelines[a.machine], profiles, demands[op_id], a.duration, ready[op_id]),
                a.duration,
            )
            for a in ops[op_id].alternatives
        ]
        machine, start, duration = options[pick_machine(op_id, options)]
        end = start + duration
        placed[op_id] = ScheduledOperation(op_id, machine, start, end)
        if end > start:
            timelines[machine].add(start, end)
            for name, demand in demands[op_id]:
                profiles[name].add(start, end, demand)
        for s in succs[op_id]:
            if end > ready[s]:
                ready[s] = end
            missing[s] -= 1
            if missing[s] == 0:
                heapq.heappush(heap, (priority[s], topo_index[s], s))
    return [p for p in placed if p is not None]
