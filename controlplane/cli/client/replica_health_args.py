"""The `agents deploy` options for health probes, circuit breakers and load balancing, and the
settings they make (an option not given keeps the default)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from controlplane.cli.arg_types import (
    integer_between,
    positive_duration,
    positive_number,
    share_arg,
)
from models.replica_health import (
    CircuitBreaker,
    HealthCheck,
    LoadBalancing,
    LoadBalancingStrategy,
)

STRATEGIES = [strategy.value.lower() for strategy in LoadBalancingStrategy]
_threshold = integer_between(1, 1000)
_failures = integer_between(0, 1000, "0: not on a count")


def add_arguments(deploy: argparse.ArgumentParser) -> None:
    group = deploy.add_argument_group("health, circuit breaker and load balancing")
    group.add_argument(
        "--load-balancing",
        choices=STRATEGIES,
        default=None,
        help="which replica takes an attempt (default: least_outstanding)",
    )
    group.add_argument(
        "--hash-key",
        default=None,
        metavar="TEMPLATE",
        help="consistent_hash: the key from the task input, e.g. '${input.user_id}'",
    )
    group.add_argument(
        "--hash-load-factor",
        type=positive_number,
        default=None,
        metavar="F",
        help="consistent_hash: most load of one replica x the mean (default 1.25)",
    )
    for flag, kind, metavar, note in (
        ("--health-interval", positive_duration, "D", "between probes (default 10s)"),
        ("--health-timeout", positive_duration, "D", "a probe's answer within (default 5s)"),
        ("--health-failure-threshold", _threshold, "N", "failed probes in a row to UNHEALTHY (3)"),
        ("--health-success-threshold", _threshold, "N", "passed probes in a row to HEALTHY (2)"),
        ("--breaker-failures", _failures, "N", "failed attempts in a row that open it (5)"),
        (
            "--breaker-failure-rate",
            share_arg,
            "R",
            "failed share in the window that opens it (0.5)",
        ),
        ("--breaker-window", positive_duration, "D", "the failure rate's window (default 60s)"),
        (
            "--breaker-min-attempts",
            _threshold,
            "N",
            "attempts in the window before the rate counts",
        ),
        (
            "--breaker-cool-down",
            positive_duration,
            "D",
            "open before a probe attempt (default 30s)",
        ),
    ):
        group.add_argument(flag, type=kind, default=None, metavar=metavar, help=note)
    group.add_argument(
        "--no-circuit-breaker",
        action="store_true",
        help="failed attempts never stop a replica's traffic",
    )


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """AgentSpec keyword arguments: health_check, circuit_breaker and load_balancing."""
    health = replace(
        HealthCheck(),
        **_given(
            interval_s=args.health_interval,
            timeout_s=args.health_timeout,
            failure_threshold=args.health_failure_threshold,
            success_threshold=args.health_success_threshold,
        ),
    )
    breaker = replace(
        CircuitBreaker(enabled=not args.no_circuit_breaker),
        **_given(
            consecutive_failures=args.breaker_failures,
            failure_rate=args.breaker_failure_rate,
            window_s=args.breaker_window,
            minimum_attempts=args.breaker_min_attempts,
            cool_down_s=args.breaker_cool_down,
        ),
    )
    strategy = args.load_balancing or (
        LoadBalancingStrategy.CONSISTENT_HASH.value.lower() if args.hash_key else None
    )
    balancing = replace(
        LoadBalancing(),
        **_given(
            strategy=LoadBalancingStrategy(strategy.upper()) if strategy else None,
            hash_key=args.hash_key,
            load_factor=args.hash_load_factor,
        ),
    )
    return {"health_check": health, "circuit_breaker": breaker, "load_balancing": balancing}
