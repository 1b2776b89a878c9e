"""The pure statistics of the benchmarks (bench/stats.py: no Ray, no gRPC)."""

from __future__ import annotations

import math

import pytest

from bench.stats import percentile, rate, ratio, ready_to_start_latencies, summarize_ms


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile([7.0], 99) == 7.0


def test_percentile_matches_numpy_linear() -> None:
    numpy = pytest.importorskip("numpy")
    values = [0.003, 0.1, 0.02, 0.5, 0.0004, 0.07, 0.9, 0.33, 0.011]
    for q in (1, 25, 50, 90, 99, 99.9):
        assert percentile(values, q) == pytest.approx(float(numpy.percentile(values, q)))


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_rate_and_ratio() -> None:
    assert rate(2000, 4.0) == 500.0
    assert ratio(150.0, 600.0) == 0.25
    with pytest.raises(ValueError):
        rate(10, 0.0)
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_ready_to_start_latency_from_the_last_dependency_or_the_execution_start() -> None:
    events = [
        ("EXECUTION_STARTED", "", 0.0),
        ("ATTEMPT_STARTED", "root", 0.5),
        ("ATTEMPT_STARTED", "side", 0.75),
        ("TASK_SUCCEEDED", "side", 1.0),
        ("TASK_SUCCEEDED", "root", 2.0),
        ("TASK_SCHEDULED", "a", 2.0),
        ("ATTEMPT_STARTED", "a", 2.25),
        ("ATTEMPT_STARTED", "b", 2.5),
        ("ATTEMPT_FAILED", "b", 2.6),
        ("ATTEMPT_STARTED", "b", 3.0),  # a retry: only the first attempt counts
        ("EXECUTION_SUCCEEDED", "", 3.5),
    ]
    depends_on = {"a": ["root"], "b": ["root", "side"]}
    latencies = sorted(ready_to_start_latencies(events, depends_on))
    assert latencies == [0.25, 0.5, 0.5, 0.75]  # a, b, root (from start), side (from start)
    # A task whose dependency never succeeded has no latency.
    assert ready_to_start_latencies([("ATTEMPT_STARTED", "a", 1.0)], {"a": ["root"]}) == []


def test_summarize_ms() -> None:
    summary = summarize_ms([0.001, 0.002, 0.003])
    assert summary["count"] == 3
    assert summary["p50_ms"] == pytest.approx(2.0)
    assert summary["max_ms"] == pytest.approx(3.0)
    assert summary["mean_ms"] == pytest.approx(2.0)
    assert math.isnan(summarize_ms([])["p99_ms"])
