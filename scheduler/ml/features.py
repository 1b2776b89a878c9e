"""Scale-free features of the candidates offered at one step of the serial SGS.

The learned dispatching policy scores every candidate of a step from these features and picks
the best. Every time-like quantity is divided by the problem's mean operation duration (`scale`)
or by a makespan lower bound (`lb`), so a model trained on 6x6 instances with durations in
[1, 99] reads a 50x20 instance with durations in [1, 1000] the same way. Rank features (SPT,
MWKR, MOR, earliest start/completion, ...) are ranks among the step's candidates scaled to
[0, 1], so the model can combine the classic rules.

`candidate_features` is called once per SGS step on all candidates at once (numpy, no Python
loop over candidates): it is the hot path of the policy solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.scheduling import SchedulingProblem
from scheduler.rules.sgs import Candidate, SgsState

# Column indices of `numpy.asarray(candidates, dtype=float)` (Candidate field order).
_OP, _JOB, _MACHINE, _START, _END, _DUR, _READY = 0, 1, 2, 3, 4, 5, 6
_DUE, _WEIGHT, _REM_WORK, _REM_OPS, _TAIL, _MIN_DUR = 8, 9, 10, 11, 12, 13
assert Candidate._fields[_START] == "start" and Candidate._fields[_TAIL] == "tail"
assert Candidate._fields[_MIN_DUR] == "min_duration" and Candidate._fields[_DUE] == "due"

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
)
NUM_FEATURES = len(FEATURE_NAMES)


@dataclass(frozen=True)
class ProblemStats:
    """What the features need from the whole problem, computed once per solve."""

    scale: float  # mean shortest operation duration
    lb: float  # makespan lower bound (longest job / busiest machine / total work per machine)
    job_ops: np.ndarray  # operations per job
    mean_ops_per_job: float
    machine_load: np.ndarray  # expected work per machine
    num_operations: int


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
    return ProblemStats(
        scale=scale,
        lb=lb,
        job_ops=job_ops,
        mean_ops_per_job=float(job_ops.mean()) if len(job_ops) else 1.0,
        machine_load=machine_load,
        num_operations=max(1, problem.num_operations),
    )


def candidate_features(
    stats: ProblemStats, state: SgsState, candidates: Sequence[Candidate]
) -> np.ndarray:
    """Feature matrix (len(candidates) x NUM_FEATURES) of one SGS step."""
    c = np.array(candidates, dtype=float)
    k = len(c)
    inv_scale = 1.0 / stats.scale
    inv_lb = 1.0 / stats.lb
    start, end, dur = c[:, _START], c[:, _END], c[:, _DUR]
    machines = c[:, _MACHINE].astype(np.intp)
    rem_work, rem_ops, tail = c[:, _REM_WORK], c[:, _REM_OPS], c[:, _TAIL]
    available = np.array(state.machine_available, dtype=float)
    busy = np.array(state.machine_busy, dtype=float)
    machine_rem = np.maximum(0.0, stats.machine_load - busy)[machines]
    due = c[:, _DUE]
    has_due = due < math.inf
    start_tail = start + tail
    # Competition ranks (ties share the lowest) of all rank keys in one comparison.
    keys = np.stack((dur, -rem_work, -rem_ops, -tail, start, end, -start_tail), axis=1)
    ranks = (keys[None, :, :] < keys[:, None, :]).sum(axis=1) * (1.0 / max(1, k - 1))
    min_start = start.min()
    out = np.empty((NUM_FEATURES, k))  # one row per feature; transposed on return
    out[0] = dur * inv_scale
    out[1] = (start - min_start) * inv_scale
    out[2] = (end - end.min()) * inv_scale
    out[3] = (start - c[:, _READY]) * inv_scale
    out[4] = (start - available[machines]) * inv_scale
    out[5] = np.maximum(0.0, end - state.makespan) * inv_scale
    out[6] = rem_work * inv_scale
    out[7] = rem_work * inv_lb
    out[8] = rem_ops / stats.job_ops[c[:, _JOB].astype(np.intp)]
    out[9] = rem_ops * (1.0 / stats.mean_ops_per_job)
    out[10] = tail * inv_lb
    out[11] = start_tail * inv_lb
    out[12] = machine_rem * inv_lb
    out[13] = (start + machine_rem) * inv_lb
    out[14] = dur / np.maximum(1.0, c[:, _MIN_DUR])
    out[15] = np.where(has_due, due - start - rem_work, 0.0) * inv_scale
    out[16] = has_due
    out[17] = c[:, _WEIGHT]
    out[18:25] = ranks.T
    out[25] = start == min_start
    out[26] = out[23] == 0.0
    out[27] = out[19] == 0.0
    out[28] = state.step / stats.num_operations
    out[29] = math.log1p(k)
    np.clip(out, -20.0, 20.0, out=out)
    return out.T
