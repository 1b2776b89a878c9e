"""Build step of the CP-SAT scheduler: a `SchedulingProblem` becomes an interval model.

Per operation: a start and an end variable and an interval. An operation with a single
alternative gets one fixed-size interval; one with several alternatives gets a master interval
(start, duration variable, end) plus one optional fixed-size interval per alternative that
shares the start, tied to a presence literal, with exactly one literal true. Machines get a
NoOverlap over the (optional) intervals placed on them, resources an AddCumulative over the
master intervals of the operations that demand them. Precedences are `start >= end`, releases
lower bounds on starts, and a machine's ready time a lower bound on the start of whatever is
placed on it (enforced by the presence literal when the operation has alternatives).
Objectives: makespan, total weighted tardiness (tardiness >= end - due) or total weighted
completion; float weights are scaled to integers (`CpsatModel.scale`).

A hint schedule (a feasible warm start) is added with `add_hint` on every variable, and its
objective becomes an upper bound on the objective; for makespan it is also the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from models.scheduling import Objective, Schedule, SchedulingProblem

# Largest power-of-ten scale tried to make float weights exact integers.
_MAX_SCALE_EXPONENT = 6
_FALLBACK_SCALE = 10_000


@dataclass
class CpsatModel:
    """The built model plus the variables the solve and extract steps read back."""

    problem: SchedulingProblem
    model: cp_model.CpModel
    horizon: int
    starts: list[cp_model.IntVar]
    ends: list[cp_model.IntVar]
    # Per operation: (machine, presence literal); the literal is None for a single alternative.
    choices: list[list[tuple[int, cp_model.IntVar | None]]]
    # Integer objective = scale * true objective (scale 1 for makespan).
    objective: cp_model.LinearExprT
    scale: int = 1
    weights_exact: bool = True
    hint_used: bool = False
    hint_objective: int | None = None
    notes: list[str] = field(default_factory=list)


def weight_scale(weights: list[float]) -> tuple[int, bool]:
    """Smallest power of ten that turns every weight into an integer (and whether it is exact)."""
    for exponent in range(_MAX_SCALE_EXPONENT + 1):
        scale = 10**exponent
        if all(
            abs(w * scale - round(w * scale)) <= 1e-9 * max(1.0, abs(w * scale)) for w in weights
        ):
            return scale, True
    return _FALLBACK_SCALE, False


def trivial_horizon(problem: SchedulingProblem) -> int:
    """An end time no optimal (left-justified) schedule needs to exceed."""
    latest_release = max(
        (problem.release_of(op.id) for op in problem.operations),
        default=0,
    )
    latest_ready = max(problem.machine_ready_times, default=0)
    work = sum(max(a.duration for a in op.alternatives) for op in problem.operations)
    return max(latest_release, latest_ready) + work


def integer_objective(
    problem: SchedulingProblem, schedule: Schedule, weights: list[int] | None = None
) -> int:
    """The objective of `schedule` as the model computes it (weights already scaled)."""
    if problem.objective is Objective.MAKESPAN:
        return max((s.end for s in schedule.operations), default=0)
    scaled = weights if weights is not None else _scaled_weights(problem)[0]
    completions = [0] * len(problem.jobs)
    for item in schedule.operations:
        owner = problem.operations[item.operation].job
        completions[owner] = max(completions[owner], item.end)
    total = 0
    for job, completion, weight in zip(problem.jobs, completions, scaled, strict=True):
        if not job.operations:
            continue
        if problem.objective is Objective.TOTAL_WEIGHTED_COMPLETION:
            total += weight * completion
        elif job.due is not None:
            total += weight * max(0, completion - job.due)
    return total


def _scaled_weights(problem: SchedulingProblem) -> tuple[list[int], int, bool]:
    if problem.objective is Objective.MAKESPAN:
        return [1] * len(problem.jobs), 1, True
    scale, exact = weight_scale([job.weight for job in problem.jobs])
    return [max(0, round(job.weight * scale)) for job in problem.jobs], scale, exact


def build_model(
    problem: SchedulingProblem,
    hint: Schedule | None = None,
    redundant_machine_cumulative: bool = False,
) -> CpsatModel:
    """Build the interval model; `hint` must be a feasible schedule of `problem` (or None)."""
    model = cp_model.CpModel()
    weights, scale, exact = _scaled_weights(problem)
    hint_objective = integer_objective(problem, hint, weights) if hint is not None else None
    horizon = trivial_horizon(problem)
    if hint is not None:
        # A feasible schedule never needs to be beaten by ending later than this.
        horizon = max(horizon if problem.objective is not Objective.MAKESPAN else 0, hint.makespan)
    horizon = max(horizon, 1)

    starts: list[cp_model.IntVar] = []
    ends: list[cp_model.IntVar] = []
    masters: list[cp_model.IntervalVar] = []
    choices: list[list[tuple[int, cp_model.IntVar | None]]] = []
    by_machine: dict[int, list[cp_model.IntervalVar]] = {}
    for op in problem.operations:
        release = max(
            problem.release_of(op.id),
            min(problem.ready_of(a.machine) for a in op.alternatives),
        )
        shortest = op.min_duration
        longest = max(a.duration for a in op.alternatives)
        start = model.new_int_var(release, max(release, horizon - shortest), f"s{op.id}")
        end = model.new_int_var(release + shortest, max(release + shortest, horizon), f"e{op.id}")
        starts.append(start)
        ends.append(end)
        placed = hint.operations[op.id] if hint is not None else None
        if placed is not None:
            model.add_hint(start, placed.start)
            model.add_hint(end, placed.end)
        if len(op.alternatives) == 1:
            alternative = op.alternatives[0]
            master = model.new_interval_var(start, alternative.duration, end, f"i{op.id}")
            by_machine.setdefault(alternative.machine, []).append(master)
            choices.append([(alternative.machine, None)])
        else:
            duration = model.new_int_var(shortest, longest, f"d{op.id}")
            master = model.new_interval_var(start, duration, end, f"i{op.id}")
            literals = []
            option: list[tuple[int, cp_model.IntVar | None]] = []
            for k, alternative in enumerate(op.alternatives):
                literal = model.new_bool_var(f"x{op.id}_{k}")
                interval = model.new_optional_fixed_size_interval_var(
                    start, alternative.duration, literal, f"i{op.id}_{k}"
                )
                by_machine.setdefault(alternative.machine, []).append(interval)
                model.add(duration == alternative.duration).only_enforce_if(literal)
                ready = problem.ready_of(alternative.machine)
                if ready > release:
                    model.add(start >= ready).only_enforce_if(literal)
                literals.append(literal)
                option.append((alternative.machine, literal))
                if placed is not None:
                    model.add_hint(literal, alternative.machine == placed.machine)
            model.add_exactly_one(literals)
            if placed is not None:
                model.add_hint(duration, placed.end - placed.start)
            choices.append(option)
        masters.append(master)

    for intervals in by_machine.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)

    flexible = any(len(choice) > 1 for choice in choices)
    if flexible and redundant_machine_cumulative:
        # Redundant: at most num_machines operations run at once. Propagates across machines,
        # which the per-machine NoOverlaps over optional intervals cannot do.
        model.add_cumulative(masters, [1] * len(masters), problem.num_machines)

    for resource in problem.resources:
        used = [
            (masters[op.id], op.demands[resource.name])
            for op in problem.operations
            if op.demands.get(resource.name, 0) > 0
        ]
        if used:
            model.add_cumulative(
                [interval for interval, _ in used],
                [demand for _, demand in used],
                resource.capacity,
            )

    for after, preds in enumerate(problem.predecessors()):
        for before in preds:
            model.add(starts[after] >= ends[before])

    objective = _add_objective(problem, model, ends, weights, horizon, hint)
    if hint_objective is not None:
        model.add(objective <= hint_objective)
    model.minimize(objective)
    notes = [] if exact else [f"weights rounded to 1/{scale}"]
    return CpsatModel(
        problem=problem,
        model=model,
        horizon=horizon,
        starts=starts,
        ends=ends,
        choices=choices,
        objective=objective,
        scale=scale,
        weights_exact=exact,
        hint_used=hint is not None,
        hint_objective=hint_objective,
        notes=notes,
    )


def _add_objective(
    problem: SchedulingProblem,
    model: cp_model.CpModel,
    ends: list[cp_model.IntVar],
    weights: list[int],
    horizon: int,
    hint: Schedule | None,
) -> cp_model.LinearExprT:
    successors = problem.successors()
    if problem.objective is Objective.MAKESPAN:
        makespan = model.new_int_var(0, horizon, "makespan")
        sinks = [ends[op] for op in range(problem.num_operations) if not successors[op]]
        if sinks:
            model.add_max_equality(makespan, sinks)
        if hint is not None:
            model.add_hint(makespan, hint.makespan)
        return makespan

    terms: list[cp_model.LinearExprT] = []
    for job, weight in zip(problem.jobs, weights, strict=True):
        if not job.operations or weight == 0:
            continue
        if problem.objective is Objective.TOTAL_WEIGHTED_TARDINESS and job.due is None:
            continue
        members = set(job.operations)
        # Only operations with no successor inside the job can finish it last.
        last = [op for op in job.operations if not any(s in members for s in successors[op])]
        hinted = max(hint.operations[op].end for op in job.operations) if hint else None
        completion: cp_model.LinearExprT
        if len(last) == 1:
            completion = ends[last[0]]
        else:
            var = model.new_int_var(0, horizon, f"c{job.id}")
            model.add_max_equality(var, [ends[op] for op in last])
            if hinted is not None:
                model.add_hint(var, hinted)
            completion = var
        if problem.objective is Objective.TOTAL_WEIGHTED_COMPLETION:
            terms.append(weight * completion)
            continue
        assert job.due is not None
        tardiness = model.new_int_var(0, max(0, horizon - job.due), f"t{job.id}")
        model.add(tardiness >= completion - job.due)
        if hinted is not None:
            model.add_hint(tardiness, max(0, hinted - job.due))
        terms.append(weight * tardiness)
    if not terms:
        return model.new_constant(0)
    return cp_model.LinearExpr.sum(terms)
