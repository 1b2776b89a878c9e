"""Imitation learning of CP-SAT's dispatching choices: instances, labels, dataset, training.

Recipe: generate small seeded instances (job shops and flexible job shops), solve each with
CP-SAT for a few seconds, then replay CP-SAT's schedule through the serial SGS. At each step
the *expert* candidate is the one CP-SAT starts first (ties: on CP-SAT's machine for the op,
then lowest op id); it is the positive, every other candidate of the step a negative. Replaying
the expert order gives a schedule at least as good as CP-SAT's (each op starts no later), so
the states visited are the ones a perfect imitator would visit. Steps with a single candidate
teach nothing and are skipped.

Everything here is a pure function (instances and labels are passed in, estimators returned);
the CLI (`orchestrator ml train-policy`) adds progress display and file output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.scheduling import Schedule, SchedulingProblem
from scheduler.instances import random_fjsp, random_jobshop
from scheduler.ml.features import FEATURE_NAMES, candidate_features, problem_stats
from scheduler.ml.policy_solver import DispatchPolicy, PolicySet, is_flexible, run_policy
from scheduler.objective import objective_value
from scheduler.rules.sgs import Candidate, SgsState, serial_sgs

REPLAY_MODES = ("active", "gt", "non_delay")


@dataclass(frozen=True)
class Recipe:
    """How the training instances are generated and labelled (stored in the metadata)."""

    instances: int = 80  # training instances; `holdout` more are generated for evaluation
    holdout: int = 12
    seed: int = 0
    jobshop_sizes: tuple[tuple[int, int], ...] = (
        (6, 6),
        (8, 8),
        (10, 10),
        (10, 5),
        (15, 5),
        (15, 10),
        (20, 5),
    )
    fjsp_sizes: tuple[tuple[int, int], ...] = ((6, 4), (8, 5))
    fjsp_share: float = 0.15  # fraction of instances that are flexible job shops
    cpsat_time_limit_s: float = 3.0
    workers: int = 1
    replay_modes: tuple[str, ...] = REPLAY_MODES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def generate_instances(recipe: Recipe, count: int, offset: int = 0) -> list[SchedulingProblem]:
    """`count` instances, instance i seeded by `recipe.seed * 100_003 + offset + i`."""
    out = []
    for i in range(offset, offset + count):
        seed = recipe.seed * 100_003 + i
        rng = np.random.default_rng(seed)
        flexible = recipe.fjsp_sizes and rng.random() < recipe.fjsp_share
        if flexible:
            n, m = recipe.fjsp_sizes[int(rng.integers(len(recipe.fjsp_sizes)))]
            out.append(random_fjsp(n, m, seed, name=f"train-fjsp-{n}x{m}-s{seed}"))
        else:
            n, m = recipe.jobshop_sizes[int(rng.integers(len(recipe.jobshop_sizes)))]
            out.append(random_jobshop(n, m, seed, name=f"train-js-{n}x{m}-s{seed}"))
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
        time_limit_s=recipe.cpsat_time_limit_s,
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


def make_estimator(kind: str, seed: int = 0) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if kind == "hgb":
        return HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.1, max_leaf_nodes=15, random_state=seed
        )
    raise ValueError(f"unknown estimator kind {kind!r}; choose logistic or hgb")


ESTIMATOR_KINDS = ("logistic", "hgb")


def fit_policy(dataset: Dataset, kind: str = "logistic", seed: int = 0) -> Any:
    """Fits a candidate classifier (positive = the expert's pick) and returns it."""
    if dataset.decisions == 0:
        raise ValueError("empty imitation dataset")
    estimator = make_estimator(kind, seed)
    estimator.fit(dataset.X, dataset.y)
    return estimator


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
    best_of_modes_gap: float  # mean over held-out instances of the best mode's gap
    ms_per_decision: float  # scoring + features, measured on the held-out runs

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "accuracy": {k: round(v, 4) for k, v in self.accuracy.items()},
            "gap": {k: round(v, 4) for k, v in self.gap.items()},
            "best_of_modes_gap": round(self.best_of_modes_gap, 4),
            "ms_per_decision": round(self.ms_per_decision, 3),
        }


def train_kind(
    kind: str,
    train: Sequence[tuple[SchedulingProblem, Schedule]],
    holdout: Sequence[tuple[SchedulingProblem, Schedule]],
    modes: Sequence[str],
    seed: int = 0,
) -> KindResult:
    """One model per SGS mode, each fitted on replays in that mode, evaluated on `holdout`."""
    models: dict[str, Any] = {}
    accuracy: dict[str, float] = {}
    gaps: dict[str, list[float]] = {}
    elapsed = 0.0
    decisions = 0
    h_problems = [p for p, _ in holdout]
    h_schedules = [s for _, s in holdout]
    for mode in modes:
        data = build_dataset([p for p, _ in train], [s for _, s in train], (mode,))
        models[mode] = fit_policy(data, kind, seed)
        policy = DispatchPolicy(models[mode])
        accuracy[mode] = imitation_accuracy(policy, build_dataset(h_problems, h_schedules, (mode,)))
        started = time.perf_counter()
        gaps[mode] = makespan_gaps(policy, h_problems, h_schedules, mode)
        elapsed += time.perf_counter() - started
        decisions += sum(p.num_operations for p in h_problems)
    best = np.min(np.array([gaps[m] for m in modes]), axis=0) if holdout else np.array([])
    return KindResult(
        kind=kind,
        models=models,
        accuracy=accuracy,
        gap={m: float(np.mean(g)) if g else float("nan") for m, g in gaps.items()},
        best_of_modes_gap=float(best.mean()) if len(best) else float("nan"),
        ms_per_decision=1000.0 * elapsed / max(1, decisions),
    )


def select_kind(results: Sequence[KindResult], max_ms_per_decision: float) -> KindResult:
    """The lowest held-out best-of-modes gap among kinds fast enough to score (then accuracy)."""
    fast = [r for r in results if r.ms_per_decision <= max_ms_per_decision] or list(results)
    return min(
        fast, key=lambda r: (r.best_of_modes_gap, -float(np.mean(list(r.accuracy.values()))))
    )


def policy_set(result: KindResult) -> PolicySet:
    return PolicySet(result.models)
