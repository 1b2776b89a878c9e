"""Imitation learning of CP-SAT's dispatching choices: instances, labels, dataset, training.

Recipe: generate seeded instances of many sizes and duration laws (job shops 6x6 to 30x20 and
flexible job shops), solve each with CP-SAT for a time that grows with its size (large ones are
not solved to optimality, which is fine: the labels are still far better than any rule), then
replay CP-SAT's schedule through the serial SGS. At each step
the *expert* candidate is the one CP-SAT starts first (ties: on CP-SAT's machine for the op,
then lowest op id); it is the positive, every other candidate of the step a negative. Replaying
the expert order gives a schedule at least as good as CP-SAT's (each op starts no later), so
the states visited are the ones a perfect imitator would visit. Steps with a single candidate
teach nothing and are skipped.

Estimator kinds are compared on held-out instances by the gap of the whole solver, and the
sampling temperature and mode orders are chosen there too. Everything here is a pure function
(instances and labels are passed in, estimators returned); the CLI (`orchestrator ml
train-policy`) adds progress display, a labels cache and file output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.scheduling import Schedule, SchedulingProblem
from scheduler.instances import random_fjsp, random_jobshop
from scheduler.ml.estimators import fit_estimator
from scheduler.ml.features import FEATURE_NAMES, candidate_features, problem_stats
from scheduler.ml.policy_solver import (
    DEFAULT_TEMPERATURE,
    LARGE_OPS,
    DispatchPolicy,
    PolicySet,
    is_flexible,
    run_policy,
    solve_with_policy,
)
from scheduler.objective import objective_value
from scheduler.rules.sgs import Candidate, SgsState, serial_sgs

REPLAY_MODES = ("active", "gt", "non_delay")


# (law, low, high) of the operation durations; see scheduler/instances/duration_laws.py.
DurationProfile = tuple[str, int, int]


@dataclass(frozen=True)
class Recipe:
    """How the training instances are generated and labelled (stored in the metadata)."""

    instances: int = 160  # training instances; `holdout` more are generated for evaluation
    holdout: int = 40
    seed: int = 0
    jobshop_sizes: tuple[tuple[int, int], ...] = (
        (6, 6),
        (10, 5),
        (10, 10),
        (15, 10),
        (15, 15),
        (20, 5),
        (20, 10),
        (20, 15),
        (20, 20),
        (30, 10),
        (30, 15),
        (30, 20),
    )
    fjsp_sizes: tuple[tuple[int, int], ...] = ((6, 4), (10, 5), (15, 8))
    fjsp_share: float = 0.15  # fraction of instances that are flexible job shops
    duration_profiles: tuple[DurationProfile, ...] = (
        ("uniform", 1, 99),
        ("uniform", 1, 10),
        ("uniform", 1, 1000),
        ("lognormal", 1, 200),
        ("bimodal", 1, 99),
        ("machine_correlated", 1, 99),
        ("job_correlated", 1, 99),
    )
    # CP-SAT seconds per instance: this many per 100 operations, within [1 s, the cap].
    cpsat_seconds_per_100_ops: float = 2.0
    cpsat_time_limit_s: float = 10.0
    workers: int = 1
    replay_modes: tuple[str, ...] = REPLAY_MODES

    def cpsat_seconds(self, problem: SchedulingProblem) -> float:
        wanted = self.cpsat_seconds_per_100_ops * problem.num_operations / 100.0
        return min(self.cpsat_time_limit_s, max(min(1.0, self.cpsat_time_limit_s), wanted))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def generate_instances(recipe: Recipe, count: int, offset: int = 0) -> list[SchedulingProblem]:
    """`count` instances, instance i seeded by `recipe.seed * 100_003 + offset + i`: its kind,
    size and duration profile drawn from that seed."""
    out = []
    for i in range(offset, offset + count):
        seed = recipe.seed * 100_003 + i
        rng = np.random.default_rng(seed)
        flexible = recipe.fjsp_sizes and rng.random() < recipe.fjsp_share
        sizes = recipe.fjsp_sizes if flexible else recipe.jobshop_sizes
        n, m = sizes[int(rng.integers(len(sizes)))]
        law, low, high = recipe.duration_profiles[int(rng.integers(len(recipe.duration_profiles)))]
        tag = f"{n}x{m}-{law}-{low}-{high}-s{seed}"
        if flexible:
            out.append(
                random_fjsp(n, m, seed, low=low, high=high, durations=law, name=f"fjsp-{tag}")
            )
        else:
            out.append(random_jobshop(n, m, seed, low, high, name=f"js-{tag}", durations=law))
    return out


def training_instances(recipe: Recipe) -> list[SchedulingProblem]:
    return generate_instances(recipe, recipe.instances)


def holdout_instances(recipe: Recipe) -> list[SchedulingProblem]:
    return generate_instances(recipe, recipe.holdout, offset=recipe.instances)


def cpsat_label(problem: SchedulingProblem, recipe: Recipe) -> Schedule:
    """CP-SAT's schedule of one instance (the expert demonstration)."""
    from scheduler.registry import solve

    return solve(
        problem,
        "cpsat",
        time_limit_s=recipe.cpsat_seconds(problem),
        seed=recipe.seed,
        workers=recipe.workers,
    )


@dataclass
class Dataset:
    """Rows are candidates; `group[i]` is the decision (SGS step) row i belongs to, and each
    group has exactly one row with `y == 1`."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    problems: list[str] = field(default_factory=list)

    @property
    def decisions(self) -> int:
        return len(np.unique(self.group)) if len(self.group) else 0


def replay(
    problem: SchedulingProblem, schedule: Schedule, mode: str
) -> tuple[list[np.ndarray], list[int]]:
    """Per SGS step: the candidates' feature matrix and the expert candidate's index."""
    stats = problem_stats(problem)
    cp_start = [p.start for p in schedule.operations]
    cp_machine = [p.machine for p in schedule.operations]
    features: list[np.ndarray] = []
    labels: list[int] = []

    def expert(state: SgsState, candidates: Sequence[Candidate]) -> int:
        keys = [(cp_start[c.op], c.machine != cp_machine[c.op], c.op) for c in candidates]
        index = min(range(len(candidates)), key=keys.__getitem__)
        pick = candidates[index]
        # Skip trivial steps and steps where CP-SAT's machine for the op is not on offer.
        if len(candidates) > 1 and pick.machine == cp_machine[pick.op]:
            features.append(candidate_features(stats, state, candidates))
            labels.append(index)
        return index

    serial_sgs(problem, expert, mode, expand_machines=is_flexible(problem))
    return features, labels


def build_dataset(
    problems: Sequence[SchedulingProblem],
    schedules: Sequence[Schedule],
    modes: Iterable[str] = REPLAY_MODES,
) -> Dataset:
    rows: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    decision = 0
    modes = tuple(modes)
    for problem, schedule in zip(problems, schedules, strict=True):
        for mode in modes:
            features, labels = replay(problem, schedule, mode)
            for matrix, label in zip(features, labels, strict=True):
                y = np.zeros(len(matrix), dtype=np.int8)
                y[label] = 1
                rows.append(matrix)
                ys.append(y)
                groups.append(np.full(len(matrix), decision, dtype=np.int64))
                decision += 1
    if not rows:
        empty = np.empty((0, len(FEATURE_NAMES)))
        return Dataset(empty, np.empty(0, np.int8), np.empty(0, np.int64), [])
    return Dataset(
        np.concatenate(rows),
        np.concatenate(ys),
        np.concatenate(groups),
        [p.name for p in problems],
    )


def fit_policy(dataset: Dataset, kind: str = "logistic", seed: int = 0) -> Any:
    """Fits a candidate scorer (see `estimators`; the expert's pick scores highest)."""
    if dataset.decisions == 0:
        raise ValueError("empty imitation dataset")
    return fit_estimator(dataset.X, dataset.y, dataset.group, kind, seed)


def imitation_accuracy(policy: DispatchPolicy, dataset: Dataset) -> float:
    """Share of decisions where the policy's top-scored candidate is the expert's."""
    if dataset.decisions == 0:
        return float("nan")
    scores = policy.scores(dataset.X)
    order = np.argsort(dataset.group, kind="stable")
    group, score, y = dataset.group[order], scores[order], dataset.y[order]
    bounds = np.flatnonzero(np.diff(group)) + 1
    hits = 0
    total = 0
    for s, labels in zip(np.split(score, bounds), np.split(y, bounds), strict=True):
        hits += int(labels[int(np.argmax(s))] == 1)
        total += 1
    return hits / total


def makespan_gaps(
    policy: DispatchPolicy,
    problems: Sequence[SchedulingProblem],
    references: Sequence[Schedule],
    mode: str = "active",
) -> list[float]:
    """Relative gap of the greedy policy (one SGS pass in `mode`) to each reference schedule."""
    gaps = []
    for problem, reference in zip(problems, references, strict=True):
        value = objective_value(problem, run_policy(problem, policy, mode))
        gaps.append((value - reference.objective_value) / max(1.0, reference.objective_value))
    return gaps


def label_all(
    problems: Sequence[SchedulingProblem],
    recipe: Recipe,
    on_done: Callable[[int], None] | None = None,
    labeller: Callable[[SchedulingProblem, Recipe], Schedule] = cpsat_label,
) -> list[Schedule]:
    out = []
    for i, problem in enumerate(problems):
        out.append(labeller(problem, recipe))
        if on_done is not None:
            on_done(i)
    return out


@dataclass
class KindResult:
    """Held-out figures of one estimator kind (one model per replay mode)."""

    kind: str
    models: dict[str, Any]
    accuracy: dict[str, float]  # per mode: imitation accuracy on the held-out decisions
    gap: dict[str, float]  # per mode: mean greedy makespan gap to CP-SAT on held-out instances
    gap_large: dict[str, float]  # the same on held-out instances of >= LARGE_OPS operations
    best_of_modes_gap: float  # mean over held-out instances of the best mode's gap
    solver_gap: float  # mean held-out gap of the whole solver (planned runs, default temperature)
    ms_per_decision: float  # scoring + features, measured on the held-out runs

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "accuracy": {k: round(v, 4) for k, v in self.accuracy.items()},
            "gap": {k: round(v, 4) for k, v in self.gap.items()},
            "gap_large": {k: round(v, 4) for k, v in self.gap_large.items()},
            "best_of_modes_gap": round(self.best_of_modes_gap, 4),
            "solver_gap": round(self.solver_gap, 4),
            "ms_per_decision": round(self.ms_per_decision, 3),
        }


@dataclass
class ModeData:
    """Replays of the training and held-out instances in one SGS mode."""

    train: Dataset
    holdout: Dataset


def mode_datasets(
    train: Sequence[tuple[SchedulingProblem, Schedule]],
    holdout: Sequence[tuple[SchedulingProblem, Schedule]],
    modes: Sequence[str],
) -> dict[str, ModeData]:
    """Built once and shared by every estimator kind compared."""
    return {
        mode: ModeData(
            build_dataset([p for p, _ in train], [s for _, s in train], (mode,)),
            build_dataset([p for p, _ in holdout], [s for _, s in holdout], (mode,)),
        )
        for mode in modes
    }


def _concatenate(datasets: Sequence[Dataset]) -> Dataset:
    offset = 0
    groups = []
    for data in datasets:
        groups.append(data.group + offset)
        offset += int(data.group.max()) + 1 if len(data.group) else 0
    return Dataset(
        np.concatenate([d.X for d in datasets]),
        np.concatenate([d.y for d in datasets]),
        np.concatenate(groups),
        [name for d in datasets for name in d.problems],
    )


SHARED_SUFFIX = ":shared"


def train_kind(
    kind: str,
    data: dict[str, ModeData],
    holdout: Sequence[tuple[SchedulingProblem, Schedule]],
    seed: int = 0,
) -> KindResult:
    """One model per SGS mode, each fitted on replays in that mode (or with the ":shared"
    suffix one model fitted on the replays of every mode), evaluated on `holdout`."""
    estimator, shared = kind.removesuffix(SHARED_SUFFIX), kind.endswith(SHARED_SUFFIX)
    modes = list(data)
    models: dict[str, Any] = {}
    if shared:
        one = fit_policy(_concatenate([d.train for d in data.values()]), estimator, seed)
        models = dict.fromkeys(modes, one)
    else:
        models = {mode: fit_policy(data[mode].train, estimator, seed) for mode in modes}
    accuracy: dict[str, float] = {}
    gaps: dict[str, list[float]] = {}
    elapsed = 0.0
    decisions = 0
    h_problems = [p for p, _ in holdout]
    h_schedules = [s for _, s in holdout]
    for mode in modes:
        policy = DispatchPolicy(models[mode])
        accuracy[mode] = imitation_accuracy(policy, data[mode].holdout)
        started = time.perf_counter()
        gaps[mode] = makespan_gaps(policy, h_problems, h_schedules, mode)
        elapsed += time.perf_counter() - started
        decisions += sum(p.num_operations for p in h_problems)
    best = np.min(np.array([gaps[m] for m in modes]), axis=0) if holdout else np.array([])
    large = [i for i, p in enumerate(h_problems) if p.num_operations >= LARGE_OPS]
    result = KindResult(
        kind=kind,
        models={"*": models[modes[0]]} if shared else models,
        accuracy=accuracy,
        gap={m: float(np.mean(g)) if g else float("nan") for m, g in gaps.items()},
        gap_large={m: float(np.mean([g[i] for i in large])) for m, g in gaps.items() if large},
        best_of_modes_gap=float(best.mean()) if len(best) else float("nan"),
        solver_gap=float("nan"),
        ms_per_decision=1000.0 * elapsed / max(1, decisions),
    )
    if holdout:
        result.solver_gap = solver_gaps(policy_set(result), holdout, (DEFAULT_TEMPERATURE,), seed)[
            DEFAULT_TEMPERATURE
        ]
    return result


def rule_gaps(
    holdout: Sequence[tuple[SchedulingProblem, Schedule]], rules: Sequence[str]
) -> dict[str, float]:
    """Mean gap of each rule (its default SGS mode) to the held-out labels: the bar to beat."""
    from scheduler.rules.solvers import default_mode, place

    out = {}
    for rule in rules:
        gaps = [
            (objective_value(p, place(p, rule, default_mode(rule))) - s.objective_value)
            / max(1.0, s.objective_value)
            for p, s in holdout
        ]
        out[rule] = float(np.mean(gaps)) if gaps else float("nan")
    return out


def select_kind(results: Sequence[KindResult], max_ms_per_decision: float) -> KindResult:
    """The lowest held-out gap of the whole solver among kinds fast enough to score (then the
    best-of-modes greedy gap)."""
    fast = [r for r in results if r.ms_per_decision <= max_ms_per_decision] or list(results)
    return min(fast, key=lambda r: (r.solver_gap, r.best_of_modes_gap))


def policy_set(result: KindResult, temperature: float = DEFAULT_TEMPERATURE) -> PolicySet:
    """The result's models with modes ordered best held-out gap first."""
    return PolicySet(
        result.models,
        sorted(result.gap, key=result.gap.__getitem__),
        temperature,
        sorted(result.gap_large, key=result.gap_large.__getitem__),
    )


TEMPERATURES = (0.25, 0.5, 1.0, 2.0)


def solver_gaps(
    policies: PolicySet,
    holdout: Sequence[tuple[SchedulingProblem, Schedule]],
    temperatures: Sequence[float] = TEMPERATURES,
    seed: int = 0,
) -> dict[float, float]:
    """Mean held-out gap of the whole solver (its planned greedy and sampled runs) to the
    labels, per sampling temperature."""
    from models.scheduling import SolverConfig
    from scheduler.context import SolveContext

    out = {}
    for temperature in temperatures:
        gaps = []
        for problem, label in holdout:
            config = SolverConfig(
                time_limit_s=60.0, seed=seed, options={"temperature": temperature}
            )
            value = solve_with_policy(problem, SolveContext(config), policies).objective_value
            gaps.append((value - label.objective_value) / max(1.0, label.objective_value))
        out[temperature] = float(np.mean(gaps)) if gaps else float("nan")
    return out
