"""Pure statistics shared by the benchmarks (unit-tested in tests/unit/test_bench_stats.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    fraction = position - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def rate(count: int, seconds: float) -> float:
    """Items per second."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return count / seconds


def ratio(value: float, reference: float) -> float:
    if reference <= 0:
        raise ValueError(f"reference must be positive, got {reference}")
    return value / reference


def ready_to_start_latencies(
    events: Iterable[tuple[str, str, float]], depends_on: Mapping[str, Sequence[str]]
) -> list[float]:
    """Seconds from the moment each task became ready to its first ATTEMPT_STARTED, from one
    execution's events given as (type, task_id, time). A task is ready when the last of its
    dependencies succeeded, or (without dependencies) when the execution started."""
    started: float | None = None
    succeeded: dict[str, float] = {}
    first_start: dict[str, float] = {}
    for type_, task_id, at in events:
        if type_ == "EXECUTION_STARTED" and started is None:
            started = at
        elif type_ == "TASK_SUCCEEDED" and task_id:
            succeeded.setdefault(task_id, at)
        elif type_ == "ATTEMPT_STARTED" and task_id:
            first_start.setdefault(task_id, at)
    latencies = []
    for task_id, at in first_start.items():
        deps = depends_on.get(task_id, ())
        if deps:
            if any(d not in succeeded for d in deps):
                continue
            ready = max(succeeded[d] for d in deps)
        elif started is not None:
            ready = started
        else:
            continue
        latencies.append(at - ready)
    return latencies


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean / max of durations given in seconds, in milliseconds."""
    if not seconds:
        return {
            "count": 0,
            "p50_ms": math.nan,
            "p99_ms": math.nan,
            "mean_ms": math.nan,
            "max_ms": math.nan,
        }
    return {
        "count": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "mean_ms": sum(seconds) / len(seconds) * 1000,
        "max_ms": max(seconds) * 1000,
    }
