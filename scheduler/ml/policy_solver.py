"""`ml`: a learned dispatching policy driving the serial SGS as a fast list scheduler.

At every SGS step the policy scores all candidates in one vectorised call (for a linear model:
one matrix-vector product) and takes the best. `scheduler.ml.solver` runs the greedy policy in
the SGS modes (best held-out mode first) and then sampled runs (softmax over the scores, seeded
by `config.seed`), keeping the best schedule. Which runs is decided from the problem's size
before starting (`plan_runs`: an estimated cost per SGS step per mode that grows with the
number of jobs, against `RUN_BUDGET_MS`; on large problems the modes are taken in the order
that was best on large held-out instances), so the plan is a function of the data; on top, the
remaining runs are skipped once the time limit is likely to be reached (judged by the mean run
time so far), so results depend on the clock only when the limit is tight. Options
(`config.options`): `modes` (default: every mode the policy has, in its order), `samples`
(default: what the budget leaves after the greedy runs), `temperature` (default: the policy
file's, chosen on held-out instances at training time; else 0.5), `model_path` (a policy file
to use instead of the shipped default).

A policy file may hold one estimator per SGS mode (each trained on replays in that mode);
`PolicySet` maps a mode to its scorer, falling back to the "*" entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.scheduling import Schedule, ScheduledOperation, SchedulingProblem, SolveStatus
from scheduler.context import SolveContext
from scheduler.ml.features import ProblemStats, candidate_features, problem_stats
from scheduler.objective import objective_value
from scheduler.rules.sgs import MODES, Candidate, SgsState, serial_sgs

DEFAULT_TEMPERATURE = 0.5
# Estimated milliseconds of one SGS step with features and scoring, per mode: a fixed part
# plus a part per job (the SGS scans every eligible operation; active mode also scores them
# all), measured on a 2-core VM with the other core idle. Runs are planned so their estimated
# sum stays under RUN_BUDGET_MS, which leaves room for a busy other core (steps then take up
# to 1.5 times as long) and keeps a solve under 0.5 s; one run is always made.
STEP_MS: dict[str, tuple[float, float]] = {  # mode -> (fixed, per job)
    "active": (0.15, 0.0020),
    "non_delay": (0.09, 0.0011),
    "gt": (0.10, 0.0011),
}
RUN_BUDGET_MS = 300.0
MAX_SAMPLES = 16
# Problems with at least this many operations use the policy's `large_mode_order`.
LARGE_OPS = 300


class DispatchPolicy:
    """Scores SGS candidates with a fitted scikit-learn classifier (higher = pick it).

    A `Pipeline(StandardScaler, LogisticRegression)` is folded into one weight vector so a step
    costs a dot product, a `Pipeline(StandardScaler, MLPClassifier)` (ReLU) into its layer
    matrices; any other classifier goes through `decision_function` or `predict_proba`.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self._weights: np.ndarray | None = None
        self._bias = 0.0
        self._layers: list[tuple[np.ndarray, np.ndarray]] | None = None
        linear = _linear_form(estimator)
        if linear is not None:
            self._weights, self._bias = linear
        else:
            self._layers = _mlp_form(estimator)

    def scores(self, features: np.ndarray) -> np.ndarray:
        if self._weights is not None:
            result: np.ndarray = features @ self._weights + self._bias
            return result
        if self._layers is not None:
            hidden = features
            for weights, bias in self._layers[:-1]:
                hidden = np.maximum(hidden @ weights + bias, 0.0)
            weights, bias = self._layers[-1]
            logits: np.ndarray = (hidden @ weights + bias)[:, 0]
            return logits
        if hasattr(self.estimator, "decision_function"):
            return np.asarray(self.estimator.decision_function(features), dtype=float)
        proba = np.asarray(self.estimator.predict_proba(features), dtype=float)[:, 1]
        return np.log(np.clip(proba, 1e-12, 1.0)) - np.log(np.clip(1.0 - proba, 1e-12, 1.0))


def _scaler_of(steps: list[tuple[str, Any]]) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, scale) of a lone leading StandardScaler; None for any other preprocessing."""
    if len(steps) != 2 or type(steps[0][1]).__name__ != "StandardScaler":
        return None
    scaler = steps[0][1]
    mean = getattr(scaler, "mean_", None)
    scale = getattr(scaler, "scale_", None)
    if mean is None or scale is None:
        return None
    return np.asarray(mean, dtype=float), np.asarray(scale, dtype=float)


def _mlp_form(estimator: Any) -> list[tuple[np.ndarray, np.ndarray]] | None:
    steps = getattr(estimator, "steps", None)
    if not steps:
        return None
    final = steps[-1][1]
    coefs = getattr(final, "coefs_", None)
    intercepts = getattr(final, "intercepts_", None)
    scaler = _scaler_of(steps)
    if coefs is None or intercepts is None or scaler is None:
        return None
    if getattr(final, "activation", "") != "relu" or np.asarray(coefs[-1]).shape[1] != 1:
        return None
    mean, scale = scaler
    layers = [
        (np.asarray(w, dtype=float), np.asarray(b, dtype=float))
        for w, b in zip(coefs, intercepts, strict=True)
    ]
    # ((x - mean) / scale) @ W + b  ==  x @ (W / scale[:, None]) + (b - (mean / scale) @ W)
    first_w, first_b = layers[0]
    layers[0] = (first_w / scale[:, None], first_b - (mean / scale) @ first_w)
    return layers


def _linear_form(estimator: Any) -> tuple[np.ndarray, float] | None:
    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if steps else estimator
    coef = getattr(final, "coef_", None)
    intercept = getattr(final, "intercept_", None)
    if coef is None or intercept is None or np.asarray(coef).shape[0] != 1:
        return None
    weights = np.asarray(coef, dtype=float)[0].copy()
    bias = float(np.asarray(intercept, dtype=float)[0])
    for _, step in (steps or [])[:-1]:
        mean = getattr(step, "mean_", None)
        scale = getattr(step, "scale_", None)
        if mean is None or scale is None or type(step).__name__ != "StandardScaler":
            return None
        # w . (x - mean) / scale + b  ==  (w / scale) . x + (b - w . mean / scale)
        weights = weights / np.asarray(scale, dtype=float)
        bias -= float(weights @ np.asarray(mean, dtype=float))
    return weights, bias


class PolicySet:
    """One `DispatchPolicy` per SGS mode ("*": any mode without its own); `mode_order` (best
    first, e.g. by held-out gap) is the order the solver runs the modes in, `large_mode_order`
    the order on problems of at least `LARGE_OPS` operations; `temperature` is the sampled
    runs' (chosen on held-out instances)."""

    def __init__(
        self,
        estimators: Mapping[str, Any] | Any,
        mode_order: Sequence[str] = (),
        temperature: float = DEFAULT_TEMPERATURE,
        large_mode_order: Sequence[str] = (),
    ) -> None:
        if not isinstance(estimators, Mapping):
            estimators = {"*": estimators}
        self.policies = {mode: DispatchPolicy(e) for mode, e in estimators.items()}
        self.mode_order = tuple(mode_order)
        self.large_mode_order = tuple(large_mode_order) or self.mode_order
        self.temperature = temperature

    def for_mode(self, mode: str) -> DispatchPolicy:
        policy = self.policies.get(mode) or self.policies.get("*")
        if policy is None:
            raise KeyError(f"no policy for SGS mode {mode!r}")
        return policy

    @property
    def modes(self) -> tuple[str, ...]:
        return self._ordered(self.mode_order)

    def modes_for(self, problem: SchedulingProblem) -> tuple[str, ...]:
        large = problem.num_operations >= LARGE_OPS
        return self._ordered(self.large_mode_order if large else self.mode_order)

    def _ordered(self, order: Sequence[str]) -> tuple[str, ...]:
        have = MODES if "*" in self.policies else tuple(m for m in MODES if m in self.policies)
        first = tuple(m for m in order if m in have)
        return first + tuple(m for m in have if m not in first)


def is_flexible(problem: SchedulingProblem) -> bool:
    return any(len(op.alternatives) > 1 for op in problem.operations)


@dataclass
class _PolicyChooser:
    policy: DispatchPolicy
    stats: ProblemStats
    rng: np.random.Generator | None = None
    temperature: float = DEFAULT_TEMPERATURE

    def __call__(self, state: SgsState, candidates: Sequence[Candidate]) -> int:
        if len(candidates) == 1:
            return 0
        scores = self.policy.scores(candidate_features(self.stats, state, candidates))
        if self.rng is None:
            return int(np.argmax(scores))
        logits = (scores - scores.max()) / max(self.temperature, 1e-6)
        weights = np.exp(logits)
        return int(self.rng.choice(len(weights), p=weights / weights.sum()))


def run_policy(
    problem: SchedulingProblem,
    policy: DispatchPolicy,
    mode: str = "active",
    rng: np.random.Generator | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    stats: ProblemStats | None = None,
) -> list[ScheduledOperation]:
    """One SGS pass driven by the policy: greedy (argmax) without `rng`, sampled with it."""
    chooser = _PolicyChooser(policy, stats or problem_stats(problem), rng, temperature)
    return serial_sgs(problem, chooser, mode, expand_machines=is_flexible(problem))


def estimated_run_ms(problem: SchedulingProblem, mode: str) -> float:
    fixed, per_job = STEP_MS.get(mode, STEP_MS["active"])
    return problem.num_operations * (fixed + per_job * len(problem.jobs))


def plan_runs(problem: SchedulingProblem, modes: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """(modes of the greedy runs, number of sampled runs) within `RUN_BUDGET_MS`: the modes in
    order while they fit; if none fits, the first one costing at most 1.5 times the cheapest,
    alone; then samples with what is left (cycling through the planned modes)."""
    if not modes:
        return (), 0
    cost = {mode: estimated_run_ms(problem, mode) for mode in modes}
    greedy: list[str] = []
    spent = 0.0
    for mode in modes:
        if spent + cost[mode] <= RUN_BUDGET_MS:
            greedy.append(mode)
            spent += cost[mode]
    if not greedy:
        cheapest = min(cost.values())
        return (next(m for m in modes if cost[m] <= 1.5 * cheapest),), 0
    per_sample = max(cost[m] for m in greedy)
    samples = int((RUN_BUDGET_MS - spent) // max(1e-9, per_sample))
    return tuple(greedy), max(0, min(MAX_SAMPLES, samples))


def solve_with_policy(
    problem: SchedulingProblem, ctx: SolveContext, policies: PolicySet
) -> Schedule:
    options = ctx.config.options
    if "modes" in options:  # modes asked for explicitly are all run
        greedy = tuple(options["modes"])
        planned_samples = plan_runs(problem, greedy)[1]
    else:
        greedy, planned_samples = plan_runs(problem, policies.modes_for(problem))
    if not greedy:
        raise ValueError("solve_ml needs at least one SGS mode")
    samples = int(options.get("samples", planned_samples))
    temperature = float(options.get("temperature", policies.temperature))
    stats = problem_stats(problem)
    best: tuple[float, str, list[ScheduledOperation]] | None = None
    runs = 0
    plan: list[tuple[str, int | None]] = [(mode, None) for mode in greedy]
    plan += [(greedy[i % len(greedy)], i) for i in range(samples)]
    for mode, sample in plan:
        # Stop before a run that would likely overrun the time limit (mean run time so far).
        if best is not None and ctx.elapsed() * (runs + 1) / runs > ctx.config.time_limit_s:
            break
        rng = None if sample is None else np.random.default_rng([ctx.config.seed, sample])
        placed = run_policy(problem, policies.for_mode(mode), mode, rng, temperature, stats)
        runs += 1
        value = objective_value(problem, placed)
        label = mode if sample is None else f"{mode}/sample{sample}"
        if best is None or value < best[0]:
            best = (value, label, placed)
            ctx.report(value)
    if best is None:
        raise ValueError("solve_ml needs at least one SGS mode")
    value, label, placed = best
    return Schedule(
        problem=problem.name,
        solver="ml",
        operations=tuple(placed),
        objective_value=value,
        status=SolveStatus.HEURISTIC,
        info={"policy_run": label, "runs": runs, "temperature": temperature},
    )
