"""A task's `retry:` section: attempts, backoff and the errors never retried."""

from __future__ import annotations

from typing import Any

from controlplane.workflow.inputs import json_type_name
from controlplane.workflow.reporter import Reporter
from models.workflows import RetryPolicy

_RETRY_KEYS = (
    "max_attempts",
    "initial_interval",
    "backoff_coefficient",
    "max_interval",
    "non_retryable_errors",
)


def parse_retry(path: str, raw: Any, report: Reporter) -> RetryPolicy:
    default = RetryPolicy()
    if raw is None:
        return default
    if not isinstance(raw, dict):
        report.error(path, f"expected retry object, got {json_type_name(raw)}")
        return default
    report.unknown_keys(raw, _RETRY_KEYS, path)
    attempts = _minimum(raw, path, "max_attempts", "integer", 1, default.max_attempts, report)
    backoff = _minimum(
        raw, path, "backoff_coefficient", "number", 1, default.backoff_coefficient, report
    )
    initial = default.initial_interval_s
    if "initial_interval" in raw:
        initial = report.duration(f"{path}.initial_interval", raw["initial_interval"]) or initial
    # Without an explicit max_interval the cap grows to fit a large initial interval.
    maximum = max(default.max_interval_s, initial)
    if "max_interval" in raw:
        given = report.duration(f"{path}.max_interval", raw["max_interval"])
        if given is not None and given < initial:
            report.error(
                f"{path}.max_interval",
                f"max_interval ({given:g}s) must be >= initial_interval ({initial:g}s)",
            )
        maximum = given or maximum
    return RetryPolicy(
        max_attempts=int(attempts),
        initial_interval_s=initial,
        backoff_coefficient=float(backoff),
        max_interval_s=maximum,
        non_retryable_errors=_error_names(path, raw.get("non_retryable_errors"), report),
    )


def _minimum(
    raw: dict[str, Any],
    path: str,
    key: str,
    type_name: str,
    low: float,
    default: float,
    report: Reporter,
) -> float:
    if key not in raw:
        return default
    value = raw[key]
    if not report.expect(f"{path}.{key}", value, type_name):
        return default
    if value < low:
        report.error(f"{path}.{key}", f"{key} must be >= {low}, got {value}")
        return default
    return float(value)


def _error_names(path: str, raw: Any, report: Reporter) -> tuple[str, ...]:
    if raw is None:
        return ()
    path = f"{path}.non_retryable_errors"
    if not report.expect(path, raw, "array"):
        return ()
    return tuple(
        name for i, name in enumerate(raw) if report.expect(f"{path}[{i}]", name, "string")
    )
