"""Scale-free features of the candidates offered at one step of the serial SGS.

The learned dispatching policy scores every candidate of a step from these features and picks
the best. Every time-like quantity is divided by the problem's mean operation duration (`scale`)
or by a makespan lower bound (`lb`), so a model trained on 6x6 instances with durations in
[1, 99] reads a 50x20 instance with durations in [1, 1000] the same way. Rank features (SPT,
MWKR, MOR, earliest start/completion, ...) are ranks among the step's candidates scaled to
[0, 1], so the model can combine the classic rules. Features that must read the same on
log-normal or bimodal durations as on uniform ones are relative: a duration in standard
deviations of the problem's durations, quantities over their maximum among the candidates, a
machine's remaining load over the bottleneck machine's.

`candidate_features` is called once per SGS step on all candidates at once (numpy, no Python
loop over candidates): it is the hot path of the policy solver.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from models.scheduling import SchedulingProblem
from scheduler.rules.sgs import Candidate, SgsState, tails, topological_order

# Candidate fields read per step (field order of the NamedTuple).
_OP, _MACHINE, _START, _DUR, _READY, _REM_WORK, _REM_OPS = 0, 2, 3, 5, 6, 10, 11
assert Candidate._fields[_REM_WORK] == "job_remaining_work"
assert Candidate._fields[_REM_OPS] == "job_remaining_ops"
assert Candidate._fields[_MACHINE] == "machine" and Candidate._fields[_READY] == "ready"
assert Candidate._fields[_START] == "start" and Candidate._fields[_DUR] == "duration"

FEATURE_NAMES: tuple[str, ...] = (
    "duration",  # duration / scale
    "start_delta",  # (start - min start among candidates) / scale
    "end_delta",  # (end - min end among candidates) / scale
    "wait",  # (start - ready) / scale: time spent waiting for the machine
    "machine_gap",  # (start - machine's latest end) / scale: < 0 inserted, > 0 idles it
    "over_makespan",  # (end - current makespan) / scale, clipped at 0 below
    "job_rem_work",  # remaining work of the job / scale
    "job_rem_work_lb",  # remaining work of the job / lb
    "job_rem_ops_frac",  # remaining ops of the job / ops of the job
    "job_rem_ops",  # remaining ops of the job / mean ops per job
    "tail_lb",  # longest path from the op to the end / lb
    "start_tail_lb",  # (start + tail) / lb: the makespan bound through this op if placed now
    "machine_rem_lb",  # unplaced work on the machine / lb
    "start_machine_rem_lb",  # (start + unplaced work on the machine) / lb
    "duration_ratio",  # duration / op's shortest duration (flexible shops: machine quality)
    "slack",  # (due - start - remaining work) / scale, clipped; 0 without due date
    "has_due",
    "weight",
    "rank_spt",  # rank of duration (0 = shortest)
    "rank_mwkr",  # rank of -remaining work (0 = most work remaining)
    "rank_mor",  # rank of -remaining ops
    "rank_tail",  # rank of -tail
    "rank_start",  # rank of start
    "rank_end",  # rank of end
    "rank_start_tail",  # rank of -(start + tail)
    "is_min_start",
    "is_min_end",
    "is_max_rem_work",
    "progress",  # placed ops / all ops
    "log_candidates",  # log(1 + number of candidates)
    "duration_z",  # (duration - scale) / standard deviation of the problem's durations
    "duration_rel",  # duration / mean duration among candidates
    "job_rem_work_rel",  # remaining work / max remaining work among candidates
    "tail_rel",  # tail / max tail among candidates
    "machine_rem_rel",  # unplaced work on the machine / the most on any machine (bottleneck = 1)
    "rank_machine_rem",  # rank of -(unplaced work on the machine)
    "start_lb",  # start / lb
    "machine_contention",  # candidates on the same machine / candidates
    "log_jobs_per_machine",  # log(jobs / machines): the instance's shape
    "next_machine_rem_lb",  # unplaced work on the machine of the op's successor / lb (WINQ)
    "next_machine_wait",  # (that machine's latest end - this op's end) / scale: > 0 it queues
    "rank_next_machine_rem",  # rank of the first (0 = least work waiting on the next machine)
)
NUM_FEATURES = len(FEATURE_NAMES)


@dataclass(frozen=True)
class ProblemStats:
    """What the features need from the whole problem, computed once per solve."""

    scale: float  # mean shortest operation duration
    spread: float  # standard deviation of the shortest operation durations (scale if 0)
    lb: float  # makespan lower bound (longest job / busiest machine / total work per machine)
    inv_job_ops: np.ndarray  # 1 / operations per job
    job_of: np.ndarray  # job of each operation
    tail: np.ndarray  # longest path of shortest durations from each operation to the end
    min_duration: np.ndarray  # shortest duration of each operation (at least 1)
    due: np.ndarray  # due date of each job (inf without)
    weight: np.ndarray  # weight of each job
    mean_ops_per_job: float
    machine_load: np.ndarray  # expected work per machine
    padded_load: np.ndarray  # the same and a 0 for "no machine" (see next_machine)
    num_operations: int
    log_jobs_per_machine: float
    has_due_dates: bool
    # Machine of each op's successor (on the longest tail; its shortest alternative), and
    # num_machines (a machine with no work that is never busy) for ops without a successor.
    next_machine: np.ndarray
    affine: np.ndarray  # _BASE x NUM_FEATURES: the features linear in the base columns
    # Their constant part (per-step parts are added per step), with the features that are
    # constant for this problem (duration ratio without alternatives, equal job weights).
    affine_bias: np.ndarray
    flexible: bool  # some operation has alternatives (duration_ratio varies)
    equal_weights: bool


def problem_stats(problem: SchedulingProblem) -> ProblemStats:
    ops = problem.operations
    min_durations = np.array([op.min_duration for op in ops], dtype=float)
    scale = max(1.0, float(min_durations.mean())) if len(ops) else 1.0
    job_ops = np.array([max(1, len(job.operations)) for job in problem.jobs], dtype=float)
    machine_load = np.zeros(max(1, problem.num_machines))
    for op in ops:
        share = 1.0 / len(op.alternatives)
        for alternative in op.alternatives:
            machine_load[alternative.machine] += share * alternative.duration
    job_lb = max(
        (job.release + sum(min_durations[i] for i in job.operations) for job in problem.jobs),
        default=0.0,
    )
    exact_load = np.zeros_like(machine_load)
    for op in ops:
        if len(op.alternatives) == 1:
            exact_load[op.alternatives[0].machine] += op.alternatives[0].duration
    lb = max(
        float(job_lb),
        float(exact_load.max()),
        float(min_durations.sum()) / max(1, problem.num_machines),
        scale,
    )
    spread = float(min_durations.std()) if len(ops) else 0.0
    spread = spread if spread > 1e-9 else scale
    mean_ops_per_job = float(job_ops.mean()) if len(job_ops) else 1.0
    log_jobs_per_machine = math.log(max(1, len(problem.jobs)) / max(1, problem.num_machines))
    shortest = [float(d) for d in min_durations]
    tail = np.array(tails(problem, topological_order(problem), shortest), dtype=float)
    affine, affine_bias = _affine_part(scale, spread, lb, mean_ops_per_job, log_jobs_per_machine)
    weights = np.array([float(j.weight) for j in problem.jobs])
    flexible = any(len(op.alternatives) > 1 for op in ops)
    equal_weights = bool(len(weights) == 0 or (weights == weights[0]).all())
    if not flexible:
        affine_bias[_F["duration_ratio"]] = 1.0
    if equal_weights:
        affine_bias[_F["weight"]] = weights[0] if len(weights) else 1.0
    return ProblemStats(
        scale=scale,
        spread=spread,
        lb=lb,
        inv_job_ops=1.0 / job_ops,
        job_of=np.array([op.job for op in ops], dtype=np.intp),
        tail=tail,
        min_duration=np.maximum(1.0, min_durations),
        due=np.array([math.inf if j.due is None else float(j.due) for j in problem.jobs]),
        weight=weights,
        mean_ops_per_job=mean_ops_per_job,
        machine_load=machine_load,
        padded_load=np.append(machine_load, 0.0),
        num_operations=max(1, problem.num_operations),
        log_jobs_per_machine=log_jobs_per_machine,
        next_machine=_next_machines(problem, tail),
        has_due_dates=any(job.due is not None for job in problem.jobs),
        affine=affine,
        affine_bias=affine_bias,
        flexible=flexible,
        equal_weights=equal_weights,
    )


def _next_machines(problem: SchedulingProblem, tail: np.ndarray) -> np.ndarray:
    out = np.full(problem.num_operations, problem.num_machines, dtype=np.intp)
    for op, successors in enumerate(problem.successors()):
        if successors:
            critical = problem.operations[max(successors, key=lambda s: tail[s])]
            out[op] = min(critical.alternatives, key=lambda a: a.duration).machine
    return out


# Base columns per candidate; most features are affine in them, so one matrix product
# computes them all (a step costs a few dozen numpy calls whatever the number of features).
# The first five come straight from the candidates, in `_DYNAMIC`'s order.
_DUR_, _START_, _READY_, _WORK_, _OPS_ = range(5)
_END_, _START_TAIL_, _AVAIL_, _NEXT_AVAIL_, _MREM_, _NEXT_REM_, _OPS_FRAC_, _TAIL_ = range(5, 13)
_BASE = 13
_F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _affine_part(
    scale: float, spread: float, lb: float, mean_ops_per_job: float, log_shape: float
) -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros((_BASE, NUM_FEATURES))
    bias = np.zeros(NUM_FEATURES)
    s, b = 1.0 / scale, 1.0 / lb
    terms = {
        "duration": ((_DUR_, s),),
        "start_delta": ((_START_, s),),  # minus the step's min start (in the bias, per step)
        "end_delta": ((_END_, s),),
        "wait": ((_START_, s), (_READY_, -s)),
        "machine_gap": ((_START_, s), (_AVAIL_, -s)),
        "job_rem_work": ((_WORK_, s),),
        "job_rem_work_lb": ((_WORK_, b),),
        "job_rem_ops_frac": ((_OPS_FRAC_, 1.0),),
        "job_rem_ops": ((_OPS_, 1.0 / mean_ops_per_job),),
        "tail_lb": ((_TAIL_, b),),
        "start_tail_lb": ((_START_TAIL_, b),),
        "machine_rem_lb": ((_MREM_, b),),
        "start_machine_rem_lb": ((_START_, b), (_MREM_, b)),
        "duration_z": ((_DUR_, 1.0 / spread),),
        "start_lb": ((_START_, b),),
        "next_machine_rem_lb": ((_NEXT_REM_, b),),
        "next_machine_wait": ((_NEXT_AVAIL_, s), (_END_, -s)),
    }
    for name, pairs in terms.items():
        for base, coefficient in pairs:
            a[base, _F[name]] = coefficient
    bias[_F["duration_z"]] = -scale / spread
    bias[_F["log_jobs_per_machine"]] = log_shape
    return a, bias


# Rank keys are integer-valued, so shifting column j by j * _RANK_OFFSET (far above any time
# or work in a schedule) keeps the columns apart in one sorted array, exactly.
_RANK_OFFSET = 2.0**40


# Up to this many candidates, ranks come from comparing every pair (fewer numpy calls);
# above it from one sort (k log k).
_PAIRWISE_RANKS_UP_TO = 24


def competition_ranks(keys: np.ndarray) -> np.ndarray:
    """Per column of `keys` (k x r, integer-valued, |value| < 2^39): how many entries are
    strictly smaller, over (k - 1)."""
    k, r = keys.shape
    if k <= _PAIRWISE_RANKS_UP_TO:
        pairwise: np.ndarray = (keys[None, :, :] < keys[:, None, :]).sum(axis=1) * (
            1.0 / max(1, k - 1)
        )
        return pairwise
    shifted = (keys + np.arange(r) * _RANK_OFFSET).ravel()
    counts = np.searchsorted(np.sort(shifted), shifted).reshape(k, r)
    counts -= np.arange(r) * k
    ranks: np.ndarray = counts * (1.0 / max(1, k - 1))
    return ranks


# What varies per step is read from the candidates (as int64, the cheapest conversion);
# what belongs to the operation comes from `ProblemStats`' arrays, indexed by op id.
_DYNAMIC = operator.itemgetter(
    _OP, _MACHINE, _DUR, _START, _READY, _REM_WORK, _REM_OPS
)  # then base columns 0-4
_N_DYNAMIC = 7
# Rank keys: base columns and signs (ascending = better rank: SPT, MWKR, MOR, tail, start,
# end, start + tail, most work on the machine, least work on the next machine).
_RANK_COLUMNS = np.array(
    (_DUR_, _WORK_, _OPS_, _TAIL_, _START_, _END_, _START_TAIL_, _MREM_, _NEXT_REM_)
)
_RANK_SIGNS = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
_RANK_FEATURES = np.array(
    [
        _F[name]
        for name in (
            "rank_spt",
            "rank_mwkr",
            "rank_mor",
            "rank_tail",
            "rank_start",
            "rank_end",
            "rank_start_tail",
            "rank_machine_rem",
            "rank_next_machine_rem",
        )
    ]
)
_FLAG_COLUMNS = np.array((_START_, _END_, _WORK_))
_FLAG_FEATURES = np.array([_F["is_min_start"], _F["is_min_end"], _F["is_max_rem_work"]])
_MACHINE_PAIR = np.array((_AVAIL_, _NEXT_AVAIL_, _MREM_, _NEXT_REM_))


def candidate_features(
    stats: ProblemStats, state: SgsState, candidates: Sequence[Candidate]
) -> np.ndarray:
    """Feature matrix (len(candidates) x NUM_FEATURES) of one SGS step.

    Written for few numpy calls (each costs about a microsecond whatever its size): it runs
    once per SGS step, thousands of times per solve."""
    k = len(candidates)
    flat = chain.from_iterable(map(_DYNAMIC, candidates))
    c = np.fromiter(flat, np.int64, k * _N_DYNAMIC).reshape(k, _N_DYNAMIC)
    ops, machines = c[:, 0], c[:, 1]
    # Per machine (plus one for "no successor": no work, never busy): latest end, work left.
    m = len(stats.machine_load)
    per_machine = np.zeros((2, m + 1))
    per_machine[:, :m] = (state.machine_available, state.machine_busy)
    available = per_machine[0]
    remaining = stats.padded_load - per_machine[1]
    np.maximum(remaining, 0.0, out=remaining)
    pair = np.empty((k, 2), dtype=np.intp)
    pair[:, 0] = machines
    pair[:, 1] = stats.next_machine[ops]
    base = np.empty((k, _BASE))
    base[:, :5] = c[:, 2:]
    base[:, _END_] = base[:, _START_] + base[:, _DUR_]
    base[:, _TAIL_] = stats.tail[ops]
    base[:, _START_TAIL_] = base[:, _START_] + base[:, _TAIL_]
    base[:, _MACHINE_PAIR] = np.concatenate((available[pair], remaining[pair]), axis=1)
    jobs = stats.job_of[ops]
    base[:, _OPS_FRAC_] = base[:, _OPS_] * stats.inv_job_ops[jobs]
    lows = base.min(axis=0)
    highs = base.max(axis=0)
    affine = stats.affine.copy()
    affine[_DUR_, _F["duration_rel"]] = k / max(1e-9, float(base[:, _DUR_].sum()))
    affine[_WORK_, _F["job_rem_work_rel"]] = 1.0 / max(1e-9, float(highs[_WORK_]))
    affine[_TAIL_, _F["tail_rel"]] = 1.0 / max(1e-9, float(highs[_TAIL_]))
    affine[_MREM_, _F["machine_rem_rel"]] = 1.0 / max(1e-9, float(remaining.max()))
    bias = stats.affine_bias.copy()
    bias[_F["start_delta"]] = -lows[_START_] / stats.scale
    bias[_F["end_delta"]] = -lows[_END_] / stats.scale
    bias[_F["progress"]] = state.step / stats.num_operations
    bias[_F["log_candidates"]] = math.log1p(k)
    out = base @ affine
    out += bias
    # The rest is not affine: ranks (competition: ties share the lowest), flags, ratios.
    out[:, _RANK_FEATURES] = competition_ranks(base[:, _RANK_COLUMNS] * _RANK_SIGNS)
    flags = np.array((lows[_START_], lows[_END_], highs[_WORK_]))
    out[:, _FLAG_FEATURES] = base[:, _FLAG_COLUMNS] == flags
    out[:, _F["over_makespan"]] = np.maximum(0.0, base[:, _END_] - state.makespan) * (
        1.0 / stats.scale
    )
    out[:, _F["machine_contention"]] = np.bincount(machines, minlength=m)[machines] * (1.0 / k)
    if stats.flexible:
        out[:, _F["duration_ratio"]] = base[:, _DUR_] / stats.min_duration[ops]
    if not stats.equal_weights:
        out[:, _F["weight"]] = stats.weight[jobs]
    if stats.has_due_dates:
        due = stats.due[jobs]
        has_due = due < math.inf
        slack = due - base[:, _START_] - base[:, _WORK_]
        out[:, _F["slack"]] = np.where(has_due, slack, 0.0) * (1.0 / stats.scale)
        out[:, _F["has_due"]] = has_due
    np.minimum(out, 20.0, out=out)  # np.clip's wrapper costs more than two ufunc calls
    np.maximum(out, -20.0, out=out)
    return out
