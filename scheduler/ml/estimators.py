"""The candidate scorers the imitation trainer can fit, all cheap to evaluate per SGS step.

  - "logistic": standardised logistic regression, one row per candidate (expert = positive);
  - "pairwise": a linear ranker: logistic regression without intercept on the differences
    expert - other of the standardised features within each decision, so it learns to order
    the candidates of one step rather than to tell good candidates of all steps apart;
  - "listwise": a linear ranker fitted by maximum likelihood of the expert's pick under a
    softmax over the candidates of its decision (conditional logit), the same softmax the
    solver samples from;
  - "mlp": standardised features into a one-hidden-layer ReLU network (one row per candidate).

Each is returned as a scikit-learn `Pipeline(StandardScaler, final)` that `DispatchPolicy`
folds into plain numpy weights (a dot product, or two small matrix products for the MLP).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

ESTIMATOR_KINDS = ("logistic", "pairwise", "listwise", "mlp")
LISTWISE_L2 = 1e-4
# Rows the MLP is fitted on at most (whole decisions drawn at random): keeps fitting to about
# a minute on one core; the linear kinds use every row.
MLP_MAX_ROWS = 400_000
MLP_HIDDEN = 24


def _group_bounds(group: np.ndarray) -> np.ndarray:
    """Start index of each decision plus the end (rows must be grouped contiguously)."""
    starts = np.flatnonzero(np.diff(group)) + 1
    return np.concatenate(([0], starts, [len(group)]))


def pairwise_differences(X: np.ndarray, y: np.ndarray, group: np.ndarray) -> np.ndarray:
    """expert row - each other row of its decision, one row per non-expert candidate."""
    bounds = _group_bounds(group)
    expert_index = np.empty(len(bounds) - 1, dtype=np.intp)
    for g in range(len(bounds) - 1):
        lo, hi = bounds[g], bounds[g + 1]
        expert_index[g] = lo + int(np.argmax(y[lo:hi]))
    decision_of_row = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    others = y == 0
    diffs: np.ndarray = X[expert_index[decision_of_row[others]]] - X[others]
    return diffs


class LinearRanker(BaseEstimator):
    """Listwise linear ranker: score = x . coef_[0]; `fit` minimises the mean over decisions
    of -log softmax(X w)[expert] + l2 |w|^2 with L-BFGS. Exposes `coef_` / `intercept_` so
    `DispatchPolicy` folds it like a logistic regression."""

    def __init__(self, l2: float = LISTWISE_L2) -> None:
        self.l2 = l2

    def fit(self, X: np.ndarray, y: np.ndarray, group: np.ndarray) -> LinearRanker:
        from scipy.optimize import minimize

        bounds = _group_bounds(group)
        starts = bounds[:-1]
        decision_of_row = np.repeat(np.arange(len(starts)), np.diff(bounds))
        expert_rows = np.flatnonzero(y == 1)
        expert_sum = X[expert_rows].sum(axis=0)
        n = len(starts)
        l2 = self.l2

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            scores = X @ w
            top = np.maximum.reduceat(scores, starts)
            weights = np.exp(scores - top[decision_of_row])
            totals = np.add.reduceat(weights, starts)
            value = float((top + np.log(totals)).sum() - scores[expert_rows].sum()) / n
            share = weights / totals[decision_of_row]
            gradient = (X.T @ share - expert_sum) / n
            return value + l2 * float(w @ w), gradient + 2.0 * l2 * w

        result = minimize(
            loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}
        )
        self.coef_ = np.asarray(result.x, dtype=float)[None, :]
        self.intercept_ = np.zeros(1)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        scores: np.ndarray = np.asarray(X, dtype=float) @ self.coef_[0]
        return scores


def _subsample_decisions(
    X: np.ndarray, y: np.ndarray, group: np.ndarray, max_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= max_rows:
        return X, y
    decisions = np.unique(group)
    keep_share = max_rows / len(y)
    rng = np.random.default_rng(seed)
    chosen = decisions[rng.random(len(decisions)) < keep_share]
    mask = np.isin(group, chosen)
    return X[mask], y[mask]


def fit_estimator(X: np.ndarray, y: np.ndarray, group: np.ndarray, kind: str, seed: int) -> Any:
    """Fits one scorer of `kind` on candidate rows (`group` = decision of each row)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if kind not in ESTIMATOR_KINDS:
        raise ValueError(f"unknown estimator kind {kind!r}; choose from {ESTIMATOR_KINDS}")
    order = np.argsort(group, kind="stable")
    X, y, group = X[order], y[order], group[order]
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    final: Any
    if kind == "logistic":
        final = LogisticRegression(C=1.0, max_iter=2000).fit(Z, y)
    elif kind == "listwise":
        final = LinearRanker().fit(Z, y, group)
    elif kind == "pairwise":
        diffs = pairwise_differences(Z, y, group)
        # Both orientations so the two classes are balanced; no intercept (order only).
        both = np.concatenate((diffs, -diffs))
        labels = np.concatenate((np.ones(len(diffs)), np.zeros(len(diffs))))
        final = LogisticRegression(C=1.0, max_iter=2000, fit_intercept=False).fit(both, labels)
    else:
        Zs, ys = _subsample_decisions(Z, y, group, MLP_MAX_ROWS, seed)
        mlp = MLPClassifier(
            hidden_layer_sizes=(MLP_HIDDEN,),
            alpha=1e-4,
            batch_size=min(512, max(1, int(0.9 * len(ys)))),  # 10% is held for early stopping
            learning_rate_init=1e-3,
            max_iter=25,
            early_stopping=True,
            n_iter_no_change=4,
            random_state=seed,
        )
        with warnings.catch_warnings():  # the capped epoch count is the budget, not a failure
            warnings.simplefilter("ignore", ConvergenceWarning)
            final = mlp.fit(Zs, ys)
    return Pipeline([("standardscaler", scaler), (kind, final)])
