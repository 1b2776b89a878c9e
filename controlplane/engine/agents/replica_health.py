"""Checks of an agent's health check, circuit breaker and load-balancing settings."""

from __future__ import annotations

import math
from collections.abc import Callable

from controlplane.workflow.routing_keys import key_template_problem
from models.agents import AgentSpec
from models.errors import FieldViolation
from models.replica_health import LoadBalancingStrategy

# Beyond a day a probe or a cool-down is a typo, not a setting.
MAX_SECONDS = 86_400.0
# Shorter probe intervals would keep the replicas busy answering.
MIN_INTERVAL_S = 0.1
MAX_THRESHOLD = 1000
MAX_HASH_KEY_CHARS = 1000
MAX_LOAD_FACTOR = 100.0


def replica_health_problems(spec: AgentSpec, prefix: str) -> list[FieldViolation]:
    problems: list[FieldViolation] = []

    def bad(field: str, why: str) -> None:
        problems.append(FieldViolation(f"{prefix}.{field}", why))

    check = spec.health_check
    _seconds(bad, "health_check.interval", check.interval_s, MIN_INTERVAL_S)
    timeout_ok = _seconds(bad, "health_check.timeout", check.timeout_s, 0.0)
    if timeout_ok and check.timeout_s > check.interval_s:
        bad("health_check.timeout", "must not be longer than health_check.interval")
    _count(bad, "health_check.failure_threshold", check.failure_threshold, 1)
    _count(bad, "health_check.success_threshold", check.success_threshold, 1)

    breaker = spec.circuit_breaker
    _count(bad, "circuit_breaker.consecutive_failures", breaker.consecutive_failures, 0)
    if not (math.isfinite(breaker.failure_rate) and 0 <= breaker.failure_rate <= 1):
        bad("circuit_breaker.failure_rate", f"must be within [0, 1], not {breaker.failure_rate}")
    _seconds(bad, "circuit_breaker.window", breaker.window_s, 0.0)
    _count(bad, "circuit_breaker.minimum_attempts", breaker.minimum_attempts, 1)
    _seconds(bad, "circuit_breaker.cool_down", breaker.cool_down_s, 0.0)
    if breaker.enabled and breaker.consecutive_failures == 0 and breaker.failure_rate == 0:
        bad(
            "circuit_breaker",
            "an enabled breaker needs consecutive_failures or failure_rate above 0 "
            "(set disabled to turn it off)",
        )

    balancing = spec.load_balancing
    hashed = balancing.strategy is LoadBalancingStrategy.CONSISTENT_HASH
    if hashed and not balancing.hash_key:
        bad("load_balancing.hash_key", "is required by consistent_hash, e.g. ${input.user_id}")
    elif balancing.hash_key and not hashed:
        bad("load_balancing.hash_key", "is only used by the consistent_hash strategy")
    elif len(balancing.hash_key) > MAX_HASH_KEY_CHARS:
        bad("load_balancing.hash_key", f"must be at most {MAX_HASH_KEY_CHARS} characters")
    elif balancing.hash_key and (why := key_template_problem(balancing.hash_key)) is not None:
        bad("load_balancing.hash_key", why)
    factor = balancing.load_factor
    if not (math.isfinite(factor) and 1 <= factor <= MAX_LOAD_FACTOR):
        bad("load_balancing.load_factor", f"must be within [1, {MAX_LOAD_FACTOR:g}], not {factor}")
    return problems


Report = Callable[[str, str], None]


def _seconds(bad: Report, field: str, value: float, minimum: float) -> bool:
    """True when `value` is a usable duration (positive, at least `minimum`, at most a day);
    reports it otherwise."""
    if math.isfinite(value) and 0 < value <= MAX_SECONDS and value >= minimum:
        return True
    low = f"at least {minimum:g}s" if minimum else "positive"
    bad(field, f"must be {low} and at most {MAX_SECONDS:g}s, not {value:g}s")
    return False


def _count(bad: Report, field: str, value: int, minimum: int) -> None:
    if not minimum <= value <= MAX_THRESHOLD:
        bad(field, f"must be between {minimum} and {MAX_THRESHOLD}, not {value}")
