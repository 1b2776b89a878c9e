"""The results of `scaling simulate`: predictive against reactive and the oracle, rounding
for results.json, and the summary table and line."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

# The bar for predictive against reactive.
TARGET_VIOLATION_RATIO = 0.5
TARGET_REPLICA_HOURS_RATIO = 1.05


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None if a else 1.0
    return a / b


def compare(policies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Predictive against reactive (the target above) and both against the oracle."""
    out: dict[str, Any] = {}

    def pair(a: str, b: str) -> dict[str, Any] | None:
        if a not in policies or b not in policies:
            return None
        x, y = policies[a], policies[b]
        return {
            "violation_ratio": _ratio(x["violations"], y["violations"]),
            "replica_hours_ratio": _ratio(x["replica_hours"], y["replica_hours"]),
            "slo_violation_rate": [x["slo_violation_rate"], y["slo_violation_rate"]],
            "replica_hours": [x["replica_hours"], y["replica_hours"]],
            "p99_wait_s": [x["p99_wait_s"], y["p99_wait_s"]],
        }

    versus_reactive = pair("predictive", "reactive")
    if versus_reactive is not None:
        violations = versus_reactive["violation_ratio"]
        hours = versus_reactive["replica_hours_ratio"]
        versus_reactive["target"] = (
            f"violations <= {TARGET_VIOLATION_RATIO:g} x reactive and replica-hours <= "
            f"{TARGET_REPLICA_HOURS_RATIO:g} x reactive"
        )
        versus_reactive["target_met"] = bool(
            violations is not None
            and hours is not None
            and violations <= TARGET_VIOLATION_RATIO
            and hours <= TARGET_REPLICA_HOURS_RATIO
        )
        out["predictive_vs_reactive"] = versus_reactive
    for name in ("predictive", "reactive", "static-peak"):
        versus_oracle = pair(name, "oracle")
        if versus_oracle is not None:
            out[f"{name}_vs_oracle"] = versus_oracle
    return out


def round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [round_floats(v) for v in value]
    return value


def summary_table(policies: dict[str, dict[str, Any]], slo: float) -> Table:
    table = Table(title=f"scaling simulation (SLO: queueing delay <= {slo:g}s)")
    for column in (
        "policy",
        "over SLO",
        "p95 wait",
        "p99 wait",
        "replica-h",
        "scale events",
        "replicas min-max",
        "s",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, m in policies.items():
        table.add_row(
            name,
            f"{100 * m['slo_violation_rate']:.4f}%",
            f"{m['p95_wait_s']:.3f}s",
            f"{m['p99_wait_s']:.3f}s",
            f"{m['replica_hours']:,.1f}",
            str(m["scale_events"]),
            f"{m['min_replicas']}-{m['max_replicas']}",
            f"{m['seconds']:.1f}",
        )
    return table


def comparison_line(versus: dict[str, Any], comparison: dict[str, Any]) -> str:
    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    line = (
        f"predictive vs reactive: violations x{fmt(versus['violation_ratio'])}, replica-hours "
        f"x{fmt(versus['replica_hours_ratio'])} (target: <= x{TARGET_VIOLATION_RATIO:g} and "
        f"<= x{TARGET_REPLICA_HOURS_RATIO:g}: {'met' if versus['target_met'] else 'NOT met'})"
    )
    oracle = comparison.get("predictive_vs_oracle")
    if oracle:
        line += (
            f"; vs oracle: violations x{fmt(oracle['violation_ratio'])}, replica-hours "
            f"x{fmt(oracle['replica_hours_ratio'])}"
        )
    return line
