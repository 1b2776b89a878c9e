"""Learned models: duration prediction and the imitation-learned dispatching policy."""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from models.scheduling import Schedule, SchedulingProblem, SolverConfig
from scheduler import solve
from scheduler.context import SolveContext
from scheduler.feasibility import assert_feasible
from scheduler.instances import random_dag, random_fjsp, random_jobshop
from scheduler.ml import imitation, model_store
from scheduler.ml.durations import DurationModel, with_predicted_durations
from scheduler.ml.features import NUM_FEATURES, candidate_features, problem_stats
from scheduler.ml.policy_solver import DispatchPolicy, PolicySet, is_flexible, solve_with_policy
from scheduler.rules.sgs import serial_sgs


@pytest.fixture(scope="module")
def tiny_training() -> tuple[list[SchedulingProblem], list[Schedule]]:
    problems = [random_jobshop(4, 4, 1), random_jobshop(5, 3, 2), random_fjsp(4, 3, 3)]
    labels = [solve(p, "cpsat", time_limit_s=2.0, seed=0, workers=1) for p in problems]
    return problems, labels


@pytest.fixture(scope="module")
def tiny_policy(tiny_training: tuple[list[SchedulingProblem], list[Schedule]]) -> PolicySet:
    problems, labels = tiny_training
    with threadpool_limits(1):
        models = {
            mode: imitation.fit_policy(imitation.build_dataset(problems, labels, (mode,)))
            for mode in imitation.REPLAY_MODES
        }
    return PolicySet(models)


def _ctx(**options: object) -> SolveContext:
    return SolveContext(SolverConfig(time_limit_s=10.0, seed=3, options=dict(options)))


# -- imitation dataset ---------------------------------------------------------------------------


def test_dataset_has_one_positive_per_decision(tiny_training):
    problems, labels = tiny_training
    data = imitation.build_dataset(problems, labels, ("active", "gt"))
    assert data.X.shape == (len(data.y), NUM_FEATURES)
    assert data.group.shape == data.y.shape
    assert np.isfinite(data.X).all()
    assert data.decisions > 10
    positives = np.bincount(data.group, weights=data.y)
    assert (positives == 1).all()
    sizes = np.bincount(data.group)
    assert (sizes >= 2).all()  # single-candidate steps are skipped


def test_replaying_cpsat_never_loses_to_cpsat(tiny_training):
    problems, labels = tiny_training
    for problem, label in zip(problems, labels, strict=True):
        start = [p.start for p in label.operations]
        machine = [p.machine for p in label.operations]
        placed = serial_sgs(
            problem,
            lambda _s, cands, start=start, machine=machine: min(
                range(len(cands)),
                key=lambda i: (start[cands[i].op], cands[i].machine != machine[cands[i].op]),
            ),
            "active",
            expand_machines=is_flexible(problem),
        )
        assert max(p.end for p in placed) <= label.makespan


def test_features_are_scale_free():
    problem = random_jobshop(5, 4, 7)
    scaled = replace(
        problem,
        operations=tuple(
            replace(
                op,
                alternatives=tuple(replace(a, duration=10 * a.duration) for a in op.alternatives),
            )
            for op in problem.operations
        ),
    )
    seen: list[np.ndarray] = []
    for p in (problem, scaled):
        stats = problem_stats(p)
        rows: list[np.ndarray] = []

        def first(state, cands, stats=stats, rows=rows):
            rows.append(candidate_features(stats, state, cands))
            return 0

        serial_sgs(p, first, "active")
        seen.append(np.concatenate(rows))
    assert np.allclose(seen[0], seen[1])


def test_linear_policy_matches_the_pipeline(tiny_training):
    problems, labels = tiny_training
    data = imitation.build_dataset(problems, labels, ("gt",))
    estimator = imitation.fit_policy(data, "logistic")
    fast = DispatchPolicy(estimator).scores(data.X)
    assert np.allclose(fast, estimator.decision_function(data.X))
    assert 0.0 <= imitation.imitation_accuracy(DispatchPolicy(estimator), data) <= 1.0


# -- policy solver -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "problem",
    [random_jobshop(8, 6, 11), random_fjsp(7, 5, 12), random_dag(25, 4, 13)],
    ids=["jobshop", "fjsp", "dag"],
)
def test_policy_schedules_are_feasible(tiny_policy, problem):
    schedule = solve_with_policy(problem, _ctx(samples=3), tiny_policy)
    assert_feasible(problem, schedule)
    assert schedule.info["runs"] == 6


def test_policy_is_deterministic(tiny_policy):
    problem = random_jobshop(9, 5, 21)
    first = solve_with_policy(problem, _ctx(samples=4), tiny_policy)
    second = solve_with_policy(problem, _ctx(samples=4), tiny_policy)
    assert first.operations == second.operations
    assert first.info == second.info


def test_shipped_default_policy_schedules_10x10():
    assert model_store.default_model_available()
    loaded = model_store.default_policy()
    assert loaded.metadata["feature_names"]
    assert loaded.metadata["command"].startswith("orchestrator ml train-policy")
    problem = random_jobshop(10, 10, 5)
    schedule = solve(problem, "ml", time_limit_s=5.0)  # the registry checks feasibility
    assert schedule.solver == "ml"
    mwkr = solve(problem, "mwkr")
    assert schedule.makespan <= mwkr.makespan * 1.1


def test_save_and_load_round_trip(tmp_path, tiny_policy):
    models = {mode: p.estimator for mode, p in tiny_policy.policies.items()}
    model_path, meta_path = model_store.save_policy(models, tmp_path / "p_v1", {"note": "x"})
    loaded = model_store.load_policy(model_path)
    assert loaded.metadata["note"] == "x"
    problem = random_jobshop(6, 4, 2)
    a = solve_with_policy(problem, _ctx(samples=0), loaded.policies)
    b = solve_with_policy(problem, _ctx(samples=0), tiny_policy)
    assert a.operations == b.operations
    schedule = solve(problem, "ml", options={"model_path": str(model_path)})
    assert schedule.makespan == min(a.makespan, schedule.makespan)

    meta = json.loads(meta_path.read_text())
    meta["sklearn_version"] = "0.1.0"
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="scikit-learn"):
        model_store.load_policy(model_path)
    meta["feature_names"] = ["other"]
    meta_path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(model_store.ModelFormatError):
            model_store.load_policy(model_path)


# -- durations -----------------------------------------------------------------------------------


def _duration_records(n: int, seed: int) -> list[tuple[str, str, float, float]]:
    rng = np.random.default_rng(seed)
    speed = {"a0": 0.6, "a1": 1.0, "a2": 1.5}
    base = {"codegen": 30.0, "test": 10.0, "deploy": 20.0}
    per_unit = {"codegen": 0.5, "test": 0.2, "deploy": 0.05}
    rows = []
    for _ in range(n):
        agent = ("a0", "a1", "a2")[int(rng.integers(3))]
        kind = ("codegen", "test", "deploy")[int(rng.integers(3))]
        size = float(rng.integers(1, 200))
        duration = speed[agent] * (base[kind] + per_unit[kind] * size) * rng.lognormal(0, 0.1)
        rows.append((agent, kind, size, duration))
    return rows


@pytest.fixture(scope="module")
def duration_model() -> DurationModel:
    with threadpool_limits(1):
        return DurationModel(quantiles=(0.9,), max_iter=60).fit(_duration_records(400, 0))


def test_duration_model_beats_the_mean(duration_model):
    test = _duration_records(200, 1)
    y = np.array([r[3] for r in test])
    predicted = duration_model.predict_many([r[:3] for r in test])
    r2 = 1 - ((predicted - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 > 0.8
    pessimistic = duration_model.predict_many([r[:3] for r in test], quantile=0.9)
    assert (pessimistic >= predicted).mean() > 0.8
    with pytest.raises(ValueError, match="quantile"):
        duration_model.predict("a0", "test", 3.0, quantile=0.5)
    assert duration_model.predict("unknown-agent", "test", 10.0) > 0


def test_with_predicted_durations_keeps_structure(duration_model):
    base = random_dag(12, 3, 4)
    problem = replace(
        base,
        machine_names=("a0", "a1", "a2"),
        operations=tuple(
            replace(op, kind=("codegen", "test", "deploy")[op.id % 3]) for op in base.operations
        ),
    )
    predicted = with_predicted_durations(problem, duration_model)
    assert predicted.jobs == problem.jobs
    assert predicted.precedences == problem.precedences
    assert predicted.resources == problem.resources
    for old, new in zip(problem.operations, predicted.operations, strict=True):
        assert [a.machine for a in new.alternatives] == [a.machine for a in old.alternatives]
        assert all(a.duration >= 1 and isinstance(a.duration, int) for a in new.alternatives)
        assert (new.kind, new.size, new.demands) == (old.kind, old.size, old.demands)
    assert_feasible(predicted, solve(predicted, "heft"))


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_train_durations(tmp_path):
    from controlplane.cli.research import ml_commands

    history = tmp_path / "history.csv"
    lines = ["agent,kind,size,duration"]
    lines += [f"{a},{k},{s},{d:.3f}" for a, k, s, d in _duration_records(60, 2)]
    history.write_text("\n".join(lines) + "\n")
    out = tmp_path / "durations.joblib"
    parser = argparse.ArgumentParser()
    ml_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["ml", "train-durations", "--history", str(history), "--out", str(out)]
    )
    with threadpool_limits(1):
        assert args.local_handler(args) == 0
    assert out.stat().st_size > 0
    args = parser.parse_args(["ml", "train-policy", "--out", str(tmp_path), "--seed", "4"])
    assert (args.instances, args.cpsat_time_limit, args.seed) == (160, 10.0, 4)
