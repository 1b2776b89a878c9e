"""How an agent's replicas are watched and chosen: health probes, circuit breakers and the
load-balancing strategy (per agent, in its spec), and the states a replica shows for them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HealthStatus(enum.Enum):
    HEALTHY = "HEALTHY"
    # `failure_threshold` probes in a row failed: no new attempts until it recovers.
    UNHEALTHY = "UNHEALTHY"


class BreakerState(enum.Enum):
    CLOSED = "CLOSED"
    # Too many attempts failed: no new attempts until the cool-down has passed.
    OPEN = "OPEN"
    # Cool-down over: one probe attempt decides between CLOSED and OPEN.
    HALF_OPEN = "HALF_OPEN"


class LoadBalancingStrategy(enum.Enum):
    LEAST_OUTSTANDING = "LEAST_OUTSTANDING"
    POWER_OF_TWO = "POWER_OF_TWO"
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_LATENCY = "LEAST_LATENCY"
    CONSISTENT_HASH = "CONSISTENT_HASH"


@dataclass(frozen=True)
class HealthCheck:
    """A probe of every replica (its ``health()`` method) each ``interval_s``; one that fails
    (no answer within ``timeout_s``, an error, or ``ok: false``) ``failure_threshold`` times in
    a row makes the replica UNHEALTHY, ``success_threshold`` successes in a row make it HEALTHY
    again."""

    interval_s: float = 10.0
    timeout_s: float = 5.0
    failure_threshold: int = 3
    success_threshold: int = 2


@dataclass(frozen=True)
class CircuitBreaker:
    """Per replica, over attempt outcomes: it opens after ``consecutive_failures`` failed
    attempts in a row (0: never on that count), or when at least ``minimum_attempts`` attempts
    ended within the last ``window_s`` and the share that failed reached ``failure_rate``
    (0, the default: never on the rate, since a dependency that fails for every replica alike
    would open them all). After ``cool_down_s`` one probe attempt is let through: success
    closes it, failure opens it again. A failure is an error a retry may cure or a crash; an
    error the agent marks not retryable (an HTTP 400: the request, not the replica) counts as a
    success."""

    enabled: bool = True
    consecutive_failures: int = 5
    failure_rate: float = 0.0
    window_s: float = 60.0
    minimum_attempts: int = 10
    cool_down_s: float = 30.0


# Bounded-load hashing: no replica takes more than this factor times the mean load.
DEFAULT_HASH_LOAD_FACTOR = 1.25


@dataclass(frozen=True)
class LoadBalancing:
    """Which usable replica with a free slot takes an attempt. ``hash_key`` (consistent_hash
    only) is a template over the task's input, e.g. ``"${input.user_id}"``."""

    strategy: LoadBalancingStrategy = LoadBalancingStrategy.LEAST_OUTSTANDING
    hash_key: str = ""
    load_factor: float = DEFAULT_HASH_LOAD_FACTOR
