"""Learned dispatch on a wide training distribution: duration laws, features, scorers, the
trainer end to end on a tiny recipe, the run plan and the shipped policy on every kind."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from scheduler import solve
from scheduler.instances import random_dag, random_fjsp, random_jobshop
from scheduler.instances.duration_laws import DURATION_LAWS
from scheduler.ml import estimators, imitation, model_store
from scheduler.ml.features import FEATURE_NAMES, competition_ranks
from scheduler.ml.policy_solver import DispatchPolicy, plan_runs


def _durations(problem) -> np.ndarray:
    return np.array([a.duration for op in problem.operations for a in op.alternatives])


# -- duration laws -------------------------------------------------------------------------------


@pytest.mark.parametrize("law", DURATION_LAWS)
@pytest.mark.parametrize("low,high", [(1, 10), (1, 99), (5, 1000)])
def test_duration_laws_are_seeded_and_in_range(law, low, high):
    first = random_jobshop(12, 6, 4, low, high, durations=law)
    again = random_jobshop(12, 6, 4, low, high, durations=law)
    other = random_jobshop(12, 6, 5, low, high, durations=law)
    assert first == again
    assert first != other
    d = _durations(first)
    assert d.min() >= low and d.max() <= high
    flexible = random_fjsp(8, 5, 4, low=low, high=high, durations=law)
    assert flexible == random_fjsp(8, 5, 4, low=low, high=high, durations=law)
    f = _durations(flexible)
    assert f.min() >= low and f.max() <= high


def test_laws_keep_the_machine_orders_and_shape_the_durations():
    uniform = random_jobshop(30, 10, 9, 1, 1000)
    skewed = random_jobshop(30, 10, 9, 1, 1000, durations="lognormal")
    machines = [[a.machine for a in op.alternatives] for op in uniform.operations]
    assert machines == [[a.machine for a in op.alternatives] for op in skewed.operations]
    u, s = _durations(uniform), _durations(skewed)
    assert np.median(s) < np.median(u) / 3  # many short operations, a long tail
    bimodal = _durations(random_jobshop(30, 10, 9, 1, 1000, durations="bimodal"))
    assert ((bimodal > 202) & (bimodal < 798)).sum() == 0
    correlated = random_jobshop(30, 10, 9, 1, 99, durations="machine_correlated")
    first = [op.alternatives[0] for op in correlated.operations]
    per_machine = [np.mean([a.duration for a in first if a.machine == m]) for m in range(10)]
    assert max(per_machine) - min(per_machine) > 30  # machines differ in typical duration


def test_default_law_is_the_old_uniform_draw():
    rng = np.random.default_rng(3)
    rng.permutation(5)
    first_job = rng.integers(1, 100, size=5)
    problem = random_jobshop(4, 5, 3)
    assert sorted(a.duration for op in problem.operations[:5] for a in op.alternatives) == sorted(
        int(d) for d in first_job
    )
    with pytest.raises(ValueError, match="duration law"):
        random_jobshop(3, 3, 0, durations="gamma")


# -- features and scorers ------------------------------------------------------------------------


def test_competition_ranks_count_strictly_smaller_entries():
    rng = np.random.default_rng(0)
    for k in (2, 7, 60):
        keys = rng.integers(-5, 5, size=(k, 8)).astype(float)
        expected = (keys[None, :, :] < keys[:, None, :]).sum(axis=1) / (k - 1)
        assert np.allclose(competition_ranks(keys), expected, rtol=0, atol=1e-12)


def _tiny_data(problems):
    labels = [solve(p, "cpsat", time_limit_s=2.0, seed=0, workers=1) for p in problems]
    return imitation.build_dataset(problems, labels, ("active",))


@pytest.fixture(scope="module")
def tiny_dataset() -> imitation.Dataset:
    return _tiny_data(
        [random_jobshop(5, 4, 1, durations="bimodal"), random_fjsp(4, 3, 2, durations="lognormal")]
    )


@pytest.mark.parametrize("kind", estimators.ESTIMATOR_KINDS)
def test_folded_scorers_match_the_fitted_estimators(tiny_dataset, kind):
    with threadpool_limits(1):
        estimator = imitation.fit_policy(tiny_dataset, kind)
    fast = DispatchPolicy(estimator).scores(tiny_dataset.X)
    if kind == "mlp":
        proba = estimator.predict_proba(tiny_dataset.X)[:, 1]
        reference = np.log(proba) - np.log1p(-proba)
    else:
        reference = estimator.decision_function(tiny_dataset.X)
    assert np.allclose(fast, reference, atol=1e-6)


def test_pairwise_differences_pair_the_expert_with_each_other_candidate():
    X = np.array([[1.0], [5.0], [2.0], [0.0], [3.0]])
    y = np.array([0, 1, 0, 1, 0])
    group = np.array([0, 0, 0, 1, 1])
    diffs = estimators.pairwise_differences(X, y, group)
    assert diffs[:, 0].tolist() == [4.0, 3.0, -3.0]


def test_pairwise_ranker_prefers_the_expert(tiny_dataset):
    with threadpool_limits(1):
        policy = DispatchPolicy(imitation.fit_policy(tiny_dataset, "pairwise"))
    uniform_guess = np.mean(1.0 / np.bincount(tiny_dataset.group))
    assert imitation.imitation_accuracy(policy, tiny_dataset) > uniform_guess


# -- run plan ------------------------------------------------------------------------------------


def test_run_plan_shrinks_with_size():
    modes = ("gt", "active", "non_delay")
    small = plan_runs(random_jobshop(6, 6, 0), modes)
    large = plan_runs(random_jobshop(100, 20, 0), modes)
    assert small[0] == modes and small[1] > 0
    assert len(large[0]) == 1 and large[1] == 0
    middle = plan_runs(random_jobshop(30, 15, 0), modes)
    assert len(middle[0]) + middle[1] < len(small[0]) + small[1]
    assert plan_runs(random_jobshop(6, 6, 0), ()) == ((), 0)


# -- trainer end to end --------------------------------------------------------------------------


def test_trainer_runs_a_tiny_recipe_and_writes_a_loadable_policy(tmp_path):
    from controlplane.cli.research import ml_commands

    parser = argparse.ArgumentParser()
    ml_commands.register(parser.add_subparsers(dest="command"))
    argv = ["ml", "train-policy", "--out", str(tmp_path), "--instances", "3", "--holdout", "2"]
    argv += ["--cpsat-time-limit", "1", "--kinds", "logistic,pairwise:shared"]
    argv += ["--labels-cache", str(tmp_path / "labels.joblib")]
    args = parser.parse_args(argv)
    meta_path = tmp_path / f"{model_store.DEFAULT_MODEL_NAME}.json"
    with threadpool_limits(1):
        assert args.local_handler(args) == 0
        first = json.loads(meta_path.read_text())
        assert args.local_handler(args) == 0  # second time from the labels cache
    meta = json.loads(meta_path.read_text())
    assert not first["training"]["labels_from_cache"] and meta["training"]["labels_from_cache"]
    assert meta["training"]["label_seconds"] == first["training"]["label_seconds"]
    assert meta["recipe"]["instances"] == 3
    assert meta["recipe"]["duration_profiles"]
    assert meta["estimator"] in ("logistic", "pairwise:shared")
    assert {c["kind"] for c in meta["compared"]} == {"logistic", "pairwise:shared"}
    loaded = model_store.load_policy(tmp_path / model_store.DEFAULT_MODEL_NAME)
    problem = random_jobshop(6, 4, 1)
    path = str(tmp_path / f"{model_store.DEFAULT_MODEL_NAME}.joblib")
    assert solve(problem, "ml", options={"model_path": path}).makespan > 0
    assert loaded.policies.modes


# -- the shipped policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "problem",
    [
        random_jobshop(8, 5, 1),
        random_jobshop(10, 6, 2, 1, 1000, durations="lognormal"),
        random_fjsp(6, 4, 3, durations="machine_correlated"),
        random_dag(20, 3, 4),
    ],
    ids=["jobshop", "jobshop-lognormal", "fjsp", "dag"],
)
def test_shipped_policy_schedules_every_kind(problem):
    loaded = model_store.default_policy()
    assert loaded.metadata["feature_names"] == list(FEATURE_NAMES)
    schedule = solve(problem, "ml", time_limit_s=5.0)  # the registry checks feasibility
    assert schedule.info["model"] == model_store.DEFAULT_MODEL_NAME
    assert schedule.makespan <= solve(problem, "fifo").makespan * 1.25
