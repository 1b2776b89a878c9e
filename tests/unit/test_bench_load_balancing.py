"""The load-balancing benchmark's simulation: reproducible, work-conserving, and driven by the
backend's own strategies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.load_balancing import STRATEGIES, Scenario, markdown, simulate

SCENARIO = Scenario(slots=2, service_s=0.1, slow_factor=5.0, load=0.3)


def test_capacity_counts_every_slot_at_its_replica_speed() -> None:
    assert SCENARIO.capacity_per_s == pytest.approx(3 * 2 / 0.1 + 2 / 0.5)
    assert SCENARIO.arrival_rate == pytest.approx(0.3 * 64)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_task_runs_and_the_same_seed_gives_the_same_result(strategy: str) -> None:
    first = simulate(strategy, SCENARIO, 2000)
    assert first.tasks == 2000
    assert first == simulate(strategy, SCENARIO, 2000)
    # No task runs faster than a fast replica.
    assert first.p50_ms >= 100 - 1e-6


def test_least_latency_keeps_attempts_off_the_slow_replica_at_low_load() -> None:
    robin = simulate("round_robin", SCENARIO, 5000)
    latency = simulate("least_latency", SCENARIO, 5000)
    assert latency.slow_share < robin.slow_share / 4
    assert latency.mean_ms < robin.mean_ms


def test_with_every_replica_equally_fast_p99_is_one_run_at_low_load() -> None:
    even = replace(SCENARIO, slow_factor=1.0, slow_replica=3)
    result = simulate("least_outstanding", even, 2000)
    assert result.p99_ms == pytest.approx(100, abs=1e-6)  # no queueing at 30% load on 8 slots
    assert "| simulation | 2 | 30% | least_outstanding |" in markdown([result])
