"""The pure analysis of bench/scaling_frontier.py (no simulation)."""

from __future__ import annotations

import math

import pytest

from bench.scaling_frontier import analyse, plan, reactive_at

# (replica-hours, violation rate): reactive pays more as its target utilisation falls.
SWEEP = [(100.0, 0.10), (120.0, 0.05), (150.0, 0.01)]


def test_interpolates_log_linearly_between_bracketing_points() -> None:
    kind, rate = reactive_at(110.0, SWEEP) or ("", 0.0)
    assert kind == "="
    assert rate == pytest.approx(math.sqrt(0.10 * 0.05))


def test_below_the_cheapest_point_gives_a_lower_bound() -> None:
    assert reactive_at(80.0, SWEEP) == (">=", 0.10)


def test_above_the_sweep_or_at_a_zero_point_says_nothing() -> None:
    assert reactive_at(200.0, SWEEP) is None
    assert reactive_at(110.0, [(100.0, 0.0), (120.0, 0.05)]) is None
    assert reactive_at(110.0, []) is None


def _run(hours: float, rate: float) -> dict[str, object]:
    return {"exit_code": 0, "replica_hours": hours, "slo_violation_rate": rate}


def test_analyse_places_each_predictive_variant_against_the_frontier() -> None:
    results = {
        "reactive@0.5": _run(150.0, 0.01),
        "reactive@0.6": _run(120.0, 0.05),
        "reactive@0.7": _run(100.0, 0.10),
        "predictive": _run(90.0, 0.02),  # cheaper than every reactive point, fewer violations
        "predictive-l0.9": _run(120.0, 0.08),  # same cost as reactive@0.6, more violations
        "predictive-no-slo": {"exit_code": 1},  # a failed run is left out
    }
    analysis = analyse("t", results)
    assert [p["target_utilization"] for p in analysis["reactive_sweep"]] == [0.5, 0.6, 0.7]
    best = analysis["predictive"]["predictive"]
    assert best["reactive_at_same_cost"] == [">=", 0.10]
    assert best["violation_ratio_at_same_cost"] == ["<=", pytest.approx(0.2)]
    assert best["below_reactive_frontier"] is True
    worse = analysis["predictive"]["predictive-l0.9"]
    assert worse["violation_ratio_at_same_cost"] == ["=", pytest.approx(1.6)]
    assert worse["below_reactive_frontier"] is False
    assert "predictive-no-slo" not in analysis["predictive"]


def test_plan_pins_service_time_and_bounds_for_every_run() -> None:
    runs = plan("elb", 6.4, 40)
    assert {r.name for r in runs} >= {"reactive@0.5", "predictive", "predictive-l0.9-no-slo"}
    assert "reactive@0.7" not in {r.name for r in runs}  # the baseline run, made first
    for run in runs:
        flags = list(run.flags)
        assert flags[flags.index("--service-time") + 1] == "6.400000"
        assert flags[flags.index("--max-replicas") + 1] == "40"
