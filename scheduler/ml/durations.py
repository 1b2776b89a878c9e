"""Learned operation durations: predict how long an operation takes on an agent.

`DurationModel` wraps a scikit-learn `HistGradientBoostingRegressor` over: the agent (machine)
and the operation kind as categorical features, the input size (raw and log), and history
statistics of the same (agent, kind) pair from the records it was fitted on (mean duration,
count, and the estimate at this size of a least-squares line duration ~ size through the pair's
history; leave-one-out on the training rows so a row never sees its own duration), plus the
same statistics per kind. Optional quantile models give a
pessimistic estimate (e.g. the 90th percentile).

Every scheduler uses it the same way: the caller transforms the problem with
`with_predicted_durations(problem, model)` and hands the copy to any solver.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from models.scheduling import Alternative, Operation, SchedulingProblem


class DurationRecord(NamedTuple):
    """One observed attempt: `agent` ran an operation of `kind` with input `size`."""

    agent: str
    kind: str
    size: float
    duration: float


FEATURE_NAMES = (
    "agent",
    "kind",
    "size",
    "log_size",
    "pair_mean",
    "pair_line",
    "pair_count",
    "kind_mean",
    "kind_line",
)
_CATEGORICAL = (0, 1)


@dataclass
class _Stats:
    """Sums over past records of one group: enough for the mean and a least-squares line."""

    count: int = 0
    d: float = 0.0  # sum of durations
    s: float = 0.0  # sum of sizes
    ss: float = 0.0  # sum of size^2
    sd: float = 0.0  # sum of size * duration

    def add(self, size: float, duration: float, sign: int = 1) -> None:
        self.count += sign
        self.d += sign * duration
        self.s += sign * size
        self.ss += sign * size * size
        self.sd += sign * size * duration

    def estimate(self, size: float) -> tuple[float, float, float]:
        """(mean duration, line estimate at `size`, count); NaN without history."""
        n = self.count
        if n <= 0:
            return math.nan, math.nan, 0.0
        mean = self.d / n
        variance = self.ss - self.s * self.s / n
        if n < 3 or variance <= 1e-9 * max(1.0, self.ss):
            return mean, mean, float(n)
        slope = (self.sd - self.s * self.d / n) / variance
        return mean, mean + slope * (size - self.s / n), float(n)


class DurationModel:
    """Duration regressor. `fit(records)`, then `predict(agent, kind, size)` or
    `predict_many(rows)`; `quantile=q` uses the model fitted for that quantile."""

    def __init__(
        self,
        quantiles: Sequence[float] = (),
        max_iter: int = 200,
        random_state: int = 0,
    ) -> None:
        self.quantiles = tuple(float(q) for q in quantiles)
        self.max_iter = max_iter
        self.random_state = random_state
        self.agents: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        self.pair_stats: dict[tuple[str, str], _Stats] = {}
        self.kind_stats: dict[str, _Stats] = {}
        self.estimator: Any = None
        self.quantile_estimators: dict[float, Any] = {}

    @property
    def fitted(self) -> bool:
        return self.estimator is not None

    def _regressor(self, quantile: float | None) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        common: dict[str, Any] = {
            "max_iter": self.max_iter,
            "learning_rate": 0.1,
            "categorical_features": list(_CATEGORICAL),
            "random_state": self.random_state,
        }
        if quantile is None:
            return HistGradientBoostingRegressor(**common)
        return HistGradientBoostingRegressor(loss="quantile", quantile=quantile, **common)

    def fit(self, records: Iterable[DurationRecord | Sequence[Any]]) -> DurationModel:
        rows = [DurationRecord(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in records]
        if not rows:
            raise ValueError("DurationModel.fit needs at least one record")
        self.agents = {a: i for i, a in enumerate(sorted({r.agent for r in rows}))}
        self.kinds = {k: i for i, k in enumerate(sorted({r.kind for r in rows}))}
        self.pair_stats = {}
        self.kind_stats = {}
        for r in rows:
            self.pair_stats.setdefault((r.agent, r.kind), _Stats()).add(r.size, r.duration)
            self.kind_stats.setdefault(r.kind, _Stats()).add(r.size, r.duration)
        X = self._features([(r.agent, r.kind, r.size) for r in rows], rows)
        y = np.array([r.duration for r in rows])
        self.estimator = self._regressor(None).fit(X, y)
        self.quantile_estimators = {q: self._regressor(q).fit(X, y) for q in self.quantiles}
        return self

    @staticmethod
    def _history(
        stats: _Stats | None, size: float, leave_out: DurationRecord | None
    ) -> tuple[float, float, float]:
        if stats is None:
            return math.nan, math.nan, 0.0
        if leave_out is None:
            return stats.estimate(size)
        stats.add(leave_out.size, leave_out.duration, -1)
        try:
            return stats.estimate(size)
        finally:
            stats.add(leave_out.size, leave_out.duration, 1)

    def _features(
        self,
        rows: Sequence[tuple[str, str, float]],
        leave_out: Sequence[DurationRecord] | None = None,
    ) -> np.ndarray:
        X = np.empty((len(rows), len(FEATURE_NAMES)))
        for i, (agent, kind, size) in enumerate(rows):
            own = leave_out[i] if leave_out is not None else None
            pair_mean, pair_line, pair_count = self._history(
                self.pair_stats.get((agent, kind)), size, own
            )
            kind_mean, kind_line, _ = self._history(self.kind_stats.get(kind), size, own)
            X[i] = (
                self.agents.get(agent, math.nan),
                self.kinds.get(kind, math.nan),
                size,
                math.log1p(max(0.0, size)),
                pair_mean,
                pair_line,
                pair_count,
                kind_mean,
                kind_line,
            )
        return X

    def predict_many(
        self, rows: Sequence[tuple[str, str, float]], quantile: float | None = None
    ) -> np.ndarray:
        """Predicted durations of (agent, kind, size) rows, never below 0."""
        if self.estimator is None:
            raise ValueError("DurationModel is not fitted")
        if not rows:
            return np.empty(0)
        if quantile is None:
            estimator = self.estimator
        else:
            try:
                estimator = self.quantile_estimators[float(quantile)]
            except KeyError:
                raise ValueError(
                    f"no model for quantile {quantile}; fitted: {list(self.quantile_estimators)}"
                ) from None
        X = self._features([(str(a), str(k), float(s)) for a, k, s in rows])
        return np.maximum(0.0, np.asarray(estimator.predict(X), dtype=float))

    def predict(self, agent: str, kind: str, size: float, quantile: float | None = None) -> float:
        return float(self.predict_many([(agent, kind, size)], quantile)[0])


def machine_agent(problem: SchedulingProblem, machine: int) -> str:
    """The agent name a machine stands for (its name, else its index)."""
    if machine < len(problem.machine_names) and problem.machine_names[machine]:
        return problem.machine_names[machine]
    return str(machine)


def with_predicted_durations(
    problem: SchedulingProblem, model: DurationModel, quantile: float | None = None
) -> SchedulingProblem:
    """A copy of `problem` whose alternatives last what `model` predicts (rounded, >= 1);
    jobs, machines, precedences, demands and the objective are unchanged."""
    rows = [
        (machine_agent(problem, a.machine), op.kind, op.size)
        for op in problem.operations
        for a in op.alternatives
    ]
    predicted = iter(model.predict_many(rows, quantile))
    operations: list[Operation] = []
    for op in problem.operations:
        alternatives = tuple(
            Alternative(a.machine, max(1, round(float(next(predicted))))) for a in op.alternatives
        )
        operations.append(replace(op, alternatives=alternatives))
    return replace(problem, operations=tuple(operations))
