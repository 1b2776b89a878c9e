"""An agent's health check, circuit breaker and load balancing <-> orchestrator.v1 messages.

An unset message, duration or optional number reads as its default; every field is written,
so a response shows the settings in force.
"""

from __future__ import annotations

from typing import Any

from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.wellknown import duration, optional_seconds
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.replica_health import (
    CircuitBreaker,
    HealthCheck,
    LoadBalancing,
    LoadBalancingStrategy,
)

STRATEGIES = matching_table(
    agent_pb2.LoadBalancingStrategy,
    LoadBalancingStrategy,
    unspecified=LoadBalancingStrategy.LEAST_OUTSTANDING,
)
_HEALTH = HealthCheck()
_BREAKER = CircuitBreaker()
_BALANCING = LoadBalancing()


def _number(message: Any, name: str, default: Any) -> Any:
    return getattr(message, name) if message.HasField(name) else default


def _seconds(message: Any, name: str, default: float) -> float:
    value = optional_seconds(message, name)
    return default if value is None else value


def health_check_to_proto(check: HealthCheck) -> agent_pb2.HealthCheck:
    return agent_pb2.HealthCheck(
        interval=duration(check.interval_s),
        timeout=duration(check.timeout_s),
        failure_threshold=check.failure_threshold,
        success_threshold=check.success_threshold,
    )


def health_check_from_proto(message: agent_pb2.HealthCheck) -> HealthCheck:
    return HealthCheck(
        interval_s=_seconds(message, "interval", _HEALTH.interval_s),
        timeout_s=_seconds(message, "timeout", _HEALTH.timeout_s),
        failure_threshold=_number(message, "failure_threshold", _HEALTH.failure_threshold),
        success_threshold=_number(message, "success_threshold", _HEALTH.success_threshold),
    )


def circuit_breaker_to_proto(breaker: CircuitBreaker) -> agent_pb2.CircuitBreaker:
    return agent_pb2.CircuitBreaker(
        disabled=not breaker.enabled,
        consecutive_failures=breaker.consecutive_failures,
        failure_rate=breaker.failure_rate,
        window=duration(breaker.window_s),
        minimum_attempts=breaker.minimum_attempts,
        cool_down=duration(breaker.cool_down_s),
    )


def circuit_breaker_from_proto(message: agent_pb2.CircuitBreaker) -> CircuitBreaker:
    return CircuitBreaker(
        enabled=not message.disabled,
        consecutive_failures=_number(
            message, "consecutive_failures", _BREAKER.consecutive_failures
        ),
        failure_rate=_number(message, "failure_rate", _BREAKER.failure_rate),
        window_s=_seconds(message, "window", _BREAKER.window_s),
        minimum_attempts=_number(message, "minimum_attempts", _BREAKER.minimum_attempts),
        cool_down_s=_seconds(message, "cool_down", _BREAKER.cool_down_s),
    )


def load_balancing_to_proto(balancing: LoadBalancing) -> agent_pb2.LoadBalancing:
    return agent_pb2.LoadBalancing(
        strategy=STRATEGIES.to_proto(balancing.strategy),
        hash_key=balancing.hash_key,
        load_factor=balancing.load_factor,
    )


def load_balancing_from_proto(message: agent_pb2.LoadBalancing, field: str) -> LoadBalancing:
    """`field`: the strategy's path in the request, named when its number is unknown."""
    return LoadBalancing(
        strategy=STRATEGIES.from_proto(message.strategy, field),
        hash_key=message.hash_key,
        load_factor=_number(message, "load_factor", _BALANCING.load_factor),
    )
