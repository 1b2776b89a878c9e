"""Which replica takes an attempt, by the agent's load-balancing strategy.

Pure: a ``Balancer`` chooses among ``Choosable`` replicas (anything with a name, an index, its
outstanding attempts and a latency average), so the backend, the tests and the benchmark's
simulation share it. ``usable`` are the replicas that may take attempts at all (the hash ring
and the round-robin order are over them); ``candidates`` are those of them with a free slot
(and on the placed nodes), one of which is chosen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from models.replica_health import LoadBalancing, LoadBalancingStrategy
from ray_backend.hash_ring import HashRing, bounded_choice


class Choosable(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def index(self) -> int: ...

    @property
    def outstanding(self) -> int: ...

    @property
    def latency_ewma(self) -> float | None: ...


C = TypeVar("C", bound=Choosable)


def _order(replica: Choosable) -> tuple[int, str]:
    return replica.index, replica.name


def least_outstanding(candidates: Sequence[C]) -> C:
    return min(candidates, key=lambda r: (r.outstanding, *_order(r)))


def power_of_two(candidates: Sequence[C], rng: random.Random) -> C:
    """Two distinct replicas at random, the one with fewer outstanding attempts."""
    if len(candidates) == 1:
        return candidates[0]
    first, second = rng.sample(range(len(candidates)), 2)
    a, b = candidates[first], candidates[second]
    return a if (a.outstanding, *_order(a)) <= (b.outstanding, *_order(b)) else b


def least_latency(candidates: Sequence[C]) -> C:
    """The lowest latency average x (outstanding + 1). A replica with no latency yet costs
    the mean of the others' x its outstanding attempts: an idle one is tried first, a busy
    one is not flooded."""
    known = [r.latency_ewma for r in candidates if r.latency_ewma is not None]
    default = sum(known) / len(known) if known else 1.0

    def cost(replica: C) -> tuple[float, int, int, str]:
        if replica.latency_ewma is None:
            value = default * replica.outstanding
        else:
            value = replica.latency_ewma * (replica.outstanding + 1)
        return value, replica.outstanding, *_order(replica)

    return min(candidates, key=cost)


class Balancer:
    """The per-agent state strategies keep between choices: the round-robin position, the
    random source of power_of_two and the hash ring of the usable replicas."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._last_round_robin = ""
        self._ring = HashRing(())

    def choose(
        self,
        config: LoadBalancing,
        usable: Sequence[C],
        candidates: Sequence[C],
        routing_key: str = "",
    ) -> C | None:
        if not candidates:
            return None
        strategy = config.strategy
        if strategy is LoadBalancingStrategy.POWER_OF_TWO:
            return power_of_two(candidates, self._rng)
        if strategy is LoadBalancingStrategy.ROUND_ROBIN:
            return self._round_robin(usable, candidates)
        if strategy is LoadBalancingStrategy.LEAST_LATENCY:
            return least_latency(candidates)
        if strategy is LoadBalancingStrategy.CONSISTENT_HASH and routing_key:
            return self._hashed(config, usable, candidates, routing_key)
        return least_outstanding(candidates)

    def _round_robin(self, usable: Sequence[C], candidates: Sequence[C]) -> C:
        """The next candidate after the last one chosen, in replica order."""
        ordered = sorted(usable, key=_order)
        names = [r.name for r in ordered]
        start = names.index(self._last_round_robin) + 1 if self._last_round_robin in names else 0
        free = {r.name: r for r in candidates}
        chosen = candidates[0]
        for step in range(len(ordered)):
            name = names[(start + step) % len(names)]
            if name in free:
                chosen = free[name]
                break
        self._last_round_robin = chosen.name
        return chosen

    def _hashed(
        self, config: LoadBalancing, usable: Sequence[C], candidates: Sequence[C], key: str
    ) -> C:
        names = tuple(sorted(r.name for r in usable))
        if self._ring.members != names:
            self._ring = HashRing(names)
        free = {r.name: r for r in candidates}
        loads = {r.name: r.outstanding for r in usable}
        name = bounded_choice(self._ring, key, loads, config.load_factor, free.__contains__)
        return free[name] if name is not None else least_outstanding(candidates)
