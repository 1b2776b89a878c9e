"""Rollout steps (rolling, blue-green, canary), strategy validation, the canary verdict and
the weighted split between two versions: pure logic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controlplane.engine.agents.canary_analysis import analyse
from controlplane.engine.agents.rollout_plan import plan, resolve_count, strategy_problems, targets
from models.agents import (
    AgentSpec,
    CanaryAnalysis,
    CanaryStep,
    RolloutStep,
    RolloutStrategy,
    StrategyKind,
    VersionTarget,
)
from ray_backend.traffic import TrafficSplit


def spec(version: str, replicas: int) -> AgentSpec:
    return AgentSpec("a", version, "m:C", replicas=replicas)


@pytest.mark.parametrize(
    ("old", "new", "surge", "unavailable", "expected"),
    [
        (3, 3, "1", "0", [(2, 1), (1, 2), (0, 3)]),
        (4, 4, "25%", "0", [(3, 1), (2, 2), (1, 3), (0, 4)]),
        (3, 3, "0", "1", [(2, 0), (1, 1), (0, 2), (0, 3)]),
        (2, 4, "100%", "0", [(0, 4)]),
        (5, 2, "1", "0", [(2, 0), (1, 1), (0, 2)]),
        (2, 0, "1", "0", [(0, 0)]),
    ],
)
def test_a_rolling_update_keeps_within_surge_and_availability(
    old: int, new: int, surge: str, unavailable: str, expected: list[tuple[int, int]]
) -> None:
    strategy = RolloutStrategy(max_surge=surge, max_unavailable=unavailable)
    steps = plan(strategy, spec("v1", old), spec("v2", new))
    assert [(s.stable_replicas, s.new_replicas) for s in steps] == expected
    surge_n = resolve_count(surge, new, round_up=True)
    floor = new - resolve_count(unavailable, new, round_up=False)
    previous = old
    for step in steps:
        # During a step the new replicas start before old ones retire.
        assert previous + step.new_replicas <= max(new + surge_n, old)
        assert step.stable_replicas + step.new_replicas >= min(floor, new)
        previous = step.stable_replicas


def test_a_first_deploy_is_one_step() -> None:
    for kind in StrategyKind:
        assert plan(RolloutStrategy(kind=kind), None, spec("v1", 3)) == (RolloutStep(0, 3),)


def test_blue_green_switches_at_once_and_keeps_the_old_set_for_the_window() -> None:
    strategy = RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=30)
    steps = plan(strategy, spec("v1", 2), spec("v2", 3))
    assert steps == (
        RolloutStep(2, 3, new_weight=0.0),
        RolloutStep(2, 3, new_weight=1.0, hold_s=30),
        RolloutStep(0, 3),
    )
    first = targets(steps[0], spec("v1", 2), spec("v2", 3))
    assert [(t.spec.version, t.replicas, t.weight) for t in first] == [
        ("v1", 2, 1.0),
        ("v2", 3, 0.0),
    ]


def test_canary_steps_hold_and_analyse_then_promote() -> None:
    strategy = RolloutStrategy(
        kind=StrategyKind.CANARY, steps=(CanaryStep(10, 60), CanaryStep(50, 120))
    )
    steps = plan(strategy, spec("v1", 4), spec("v2", 4))
    assert steps == (
        RolloutStep(4, 1, new_weight=0.1, hold_s=60, analyse=True),
        RolloutStep(4, 2, new_weight=0.5, hold_s=120, analyse=True),
        RolloutStep(0, 4),
    )
    last = targets(steps[-1], spec("v1", 4), spec("v2", 4))
    assert [(t.spec.version, t.replicas, t.weight) for t in last] == [("v2", 4, None)]


def test_strategy_problems_name_the_field() -> None:
    bad = RolloutStrategy(
        kind=StrategyKind.CANARY,
        max_surge="lots",
        steps=(CanaryStep(50, 10), CanaryStep(20, -1), CanaryStep(100, 1)),
        analysis=CanaryAnalysis(max_latency_ratio=0.5, min_attempts=0),
    )
    fields = {p.field for p in strategy_problems(bad, spec("v1", 2), spec("v1", 2))}
    assert fields == {
        "strategy.max_surge",
        "strategy.kind",  # a canary needs a version other than the serving one
        "strategy.steps[1].weight_percent",
        "strategy.steps[1].hold",
        "strategy.steps[2].weight_percent",
        "strategy.analysis.max_latency_ratio",
        "strategy.analysis.min_attempts",
    }
    stuck = RolloutStrategy(max_surge="0", max_unavailable="0")
    assert [p.field for p in strategy_problems(stuck, spec("v2", 2), spec("v1", 2))] == [
        "strategy.max_surge"
    ]
    assert strategy_problems(RolloutStrategy(), spec("v2", 2), spec("v1", 2)) == []


def outcomes(failed: int, succeeded: int, seconds: float = 0.1) -> list[tuple[str, float]]:
    return [("FAILED", seconds)] * failed + [("SUCCEEDED", seconds)] * succeeded


def test_the_canary_fails_on_errors_or_latency_and_passes_after_its_hold() -> None:
    thresholds = CanaryAnalysis(min_attempts=10)
    early = analyse(outcomes(5, 3), outcomes(0, 30), thresholds, hold_over=False)
    assert early.verdict == "inconclusive" and "8 of the 10" in early.reason
    broken = analyse(outcomes(5, 5), outcomes(0, 30), thresholds, hold_over=False)
    assert broken.verdict == "fail" and broken.canary_error_rate == 0.5
    # Within the allowed increase over a stable version that fails too.
    noisy = analyse(outcomes(2, 18), outcomes(3, 27), thresholds, hold_over=True)
    assert noisy.verdict == "pass"
    slow = analyse(outcomes(0, 20, 0.5), outcomes(0, 30, 0.1), thresholds, hold_over=False)
    assert slow.verdict == "fail" and "p95" in slow.reason
    # Tiny latencies: a ratio over 1.5 within 50 ms is noise, not a regression.
    quick = analyse(outcomes(0, 20, 0.004), outcomes(0, 30, 0.001), thresholds, hold_over=True)
    assert quick.verdict == "pass"
    # One cold start among a few attempts is their p95: too few to compare latency.
    cold = [("SUCCEEDED", 0.5), *outcomes(0, 9, 0.01)]
    assert analyse(cold, outcomes(0, 30, 0.01), thresholds, hold_over=True).verdict == "pass"
    cancelled = [("CANCELLED", 0.1)] * 20
    assert analyse(cancelled, [], thresholds, hold_over=True).verdict == "inconclusive"


@dataclass(frozen=True)
class Replica:
    version: str


def test_the_split_keeps_weights_caps_the_canary_and_sends_its_retries_to_stable() -> None:
    split = TrafficSplit.of(
        [VersionTarget(spec("v1", 2), 2, 0.8), VersionTarget(spec("v2", 1), 1, 0.2)]
    )
    assert split is not None and split.canary == "v2"
    replicas = [Replica("v1"), Replica("v1"), Replica("v2")]
    chosen = []
    for _ in range(100):
        _, candidates = split.narrow(replicas, replicas)
        chosen.append(candidates[0].version)
        split.count(candidates[0].version)
    assert chosen.count("v2") == 20
    # The canary busy: the stable version takes its turn; the stable busy: the lease waits.
    stable_only = [Replica("v1")]
    due = TrafficSplit({"v1": 0.5, "v2": 0.5}, "v2")
    assert due.narrow(replicas, stable_only)[1] == stable_only
    canary_only = [Replica("v2")]
    fresh = TrafficSplit({"v1": 0.5, "v2": 0.5}, "v2")
    assert fresh.narrow(replicas, canary_only)[1] == []
    # A retry of an attempt that failed on the canary goes to the stable version.
    retry = TrafficSplit({"v1": 0.1, "v2": 0.9}, "v2")
    assert {r.version for r in retry.narrow(replicas, replicas, avoid_version="v2")[1]} == {"v1"}
    # Weight 0 (blue-green before the switch): never chosen.
    standby = TrafficSplit({"v1": 1.0, "v2": 0.0}, "v2")
    assert all(r.version == "v1" for _ in range(10) for r in standby.narrow(replicas, replicas)[1])
    assert TrafficSplit.of([VersionTarget(spec("v1", 2), 2)]) is None
