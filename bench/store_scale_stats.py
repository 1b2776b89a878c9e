"""Pure figures of bench/store_scale.py (unit-tested in tests/unit/test_bench_store_scale.py):
percentiles of call latencies, growth between store sizes, memory growth, store bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.stats import percentile


@dataclass(frozen=True)
class Latency:
    """p50 and p99 of one call, in milliseconds, over `calls` calls."""

    calls: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Latency:
        millis = [s * 1000.0 for s in seconds]
        return cls(len(millis), percentile(millis, 50), percentile(millis, 99))


def growth(by_size: Mapping[int, float]) -> float:
    """Value at the largest size over value at the smallest (1.0: flat)."""
    if len(by_size) < 2:
        raise ValueError("growth needs at least two sizes")
    smallest, largest = min(by_size), max(by_size)
    if by_size[smallest] <= 0:
        raise ValueError(f"value at size {smallest} must be positive")
    return by_size[largest] / by_size[smallest]


def per_item(total: float, items: int) -> float:
    """`total` shared over `items` (bytes per task, per execution)."""
    if items <= 0:
        raise ValueError(f"items must be positive, got {items}")
    return total / items


def vm_rss_kib(status_text: str) -> int:
    """VmRSS from the text of /proc/PID/status, in KiB."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line (not a live process?)")


def deep_position(total: int, fraction: float, page_size: int) -> int:
    """How many executions to skip (whole pages of `page_size`) to land `fraction` of the way
    into a listing of `total`; at least one page, so the token is a real one."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be within (0, 1), got {fraction}")
    pages = max(1, int(total * fraction) // page_size)
    return pages * page_size
