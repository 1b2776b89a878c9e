"""How many replicas a load needs: by target utilisation, or by a queueing-delay SLO (Erlang C).

A replica serves `concurrency` requests at once, each taking `service_time_s` on average; an
arrival rate `rate` (requests/s) offers `rate * service_time_s` erlangs of work. Pure functions.
"""

from __future__ import annotations

import math
from functools import lru_cache

_EPS = 1e-9


def offered_load(rate: float, service_time_s: float) -> float:
    """Erlangs: the mean number of requests in service if none ever waited."""
    if rate < 0 or service_time_s < 0:
        raise ValueError("rate and service time must be >= 0")
    return rate * service_time_s


def replicas_for_rate(
    rate: float, service_time_s: float, target_utilization: float, concurrency: int = 1
) -> int:
    """The fewest replicas that keep utilisation at or below the target:
    ceil(rate x service time / (target x concurrency))."""
    if not 0 < target_utilization <= 1:
        raise ValueError(f"target utilisation must be in (0, 1], got {target_utilization}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    needed = offered_load(rate, service_time_s) / (target_utilization * concurrency)
    return max(0, math.ceil(needed - _EPS))


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/c/c with `load` erlangs (stable recursion)."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be >= 0")
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c (1.0 when the queue is unstable)."""
    if servers <= 0 or load >= servers:
        return 1.0
    if load == 0:
        return 0.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1.0 - b))


def mmc_wait_exceeds(servers: int, rate: float, service_time_s: float, wait_s: float) -> float:
    """P(queueing delay > wait_s) in M/M/c: C(c, a) * exp(-(c/s - rate) * wait_s)."""
    load = offered_load(rate, service_time_s)
    if servers <= 0 or load >= servers:
        return 1.0
    if service_time_s == 0 or rate == 0:
        return 0.0
    drain = servers / service_time_s - rate
    return erlang_c(servers, load) * math.exp(-drain * max(0.0, wait_s))


def mmc_mean_wait(servers: int, rate: float, service_time_s: float) -> float:
    """Mean queueing delay in M/M/c: C(c, a) / (c/s - rate); infinite when unstable."""
    load = offered_load(rate, service_time_s)
    if servers <= 0 or load >= servers:
        return math.inf
    if service_time_s == 0 or rate == 0:
        return 0.0
    return erlang_c(servers, load) / (servers / service_time_s - rate)


@lru_cache(maxsize=8192)
def replicas_for_wait_slo(
    rate: float,
    service_time_s: float,
    slo_wait_s: float,
    max_violation: float,
    concurrency: int = 1,
    limit: int = 100_000,
) -> int:
    """The fewest replicas for which M/M/c predicts P(wait > slo_wait_s) <= max_violation
    (each replica counted as `concurrency` servers). Conservative for less variable service
    times (deterministic service waits about half as long). One pass over the server counts
    with the Erlang B recursion; memoised, since a control loop asks the same question every
    evaluation period while the forecast stays the same."""
    if not 0 < max_violation < 1:
        raise ValueError(f"max_violation must be in (0, 1), got {max_violation}")
    load = offered_load(rate, service_time_s)
    if load == 0:
        return 0
    b = 1.0  # Erlang B with k servers, k = 1, 2, ...
    for servers in range(1, limit * concurrency + 1):
        b = load * b / (servers + load * b)
        if servers % concurrency or servers <= load:
            continue
        waits = servers * b / (servers - load * (1.0 - b))
        drain = servers / service_time_s - rate
        if waits * math.exp(-drain * max(0.0, slo_wait_s)) <= max_violation:
            return servers // concurrency
    raise ValueError(f"more than {limit} replicas needed for rate {rate:g}/s")
