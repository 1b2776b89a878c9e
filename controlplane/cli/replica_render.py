"""An agent's replicas as a table (state, health, breaker, latency, last error) and its health,
breaker and load-balancing settings as lines."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from controlplane.cli.json_text import display_text
from models.agents import AgentSpec, ReplicaInfo
from models.replica_health import BreakerState, HealthStatus, LoadBalancingStrategy

_HEALTH_STYLES = {HealthStatus.HEALTHY: "green", HealthStatus.UNHEALTHY: "red"}
_BREAKER_STYLES = {
    BreakerState.CLOSED: "green",
    BreakerState.OPEN: "red",
    BreakerState.HALF_OPEN: "yellow",
}


def _millis(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def settings_lines(spec: AgentSpec) -> list[str]:
    check, breaker, balancing = spec.health_check, spec.circuit_breaker, spec.load_balancing
    strategy = balancing.strategy.value.lower()
    if balancing.strategy is LoadBalancingStrategy.CONSISTENT_HASH:
        strategy += f" on {balancing.hash_key} (load factor {balancing.load_factor:g})"
    if breaker.enabled:
        trips = []
        if breaker.consecutive_failures:
            trips.append(f"{breaker.consecutive_failures} failures in a row")
        if breaker.failure_rate:
            trips.append(
                f"{breaker.failure_rate:.0%} failed of >= {breaker.minimum_attempts} "
                f"in {breaker.window_s:g}s"
            )
        breaker_text = f"opens on {' or '.join(trips)}; cool-down {breaker.cool_down_s:g}s"
    else:
        breaker_text = "disabled"
    return [
        f"  load balancing  {strategy}",
        f"  health check    every {check.interval_s:g}s, timeout {check.timeout_s:g}s, "
        f"unhealthy after {check.failure_threshold} failures, healthy after "
        f"{check.success_threshold} passes",
        f"  circuit breaker {breaker_text}",
    ]


def replica_table(replicas: list[ReplicaInfo], state_text: Callable[[str], Text]) -> Table:
    table = Table(
        "REPLICA",
        "VERSION",
        "STATE",
        "HEALTH",
        "BREAKER",
        "OUTSTANDING",
        "P50",
        "P95",
        "RESTARTS",
        "NODE",
        "LAST ERROR",
    )
    for r in replicas:
        table.add_row(
            r.name,
            r.version,
            state_text(r.state.value),
            Text(r.health.value, style=_HEALTH_STYLES[r.health]),
            Text(r.breaker.value, style=_BREAKER_STYLES[r.breaker]),
            str(r.outstanding_attempts),
            _millis(r.latency_p50_s),
            _millis(r.latency_p95_s),
            str(r.restarts),
            r.node_id[:12] or "-",
            display_text(r.last_error, 60) if r.last_error else "-",
        )
    return table
