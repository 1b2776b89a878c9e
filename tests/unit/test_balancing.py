"""Load-balancing strategies, bounded-load consistent hashing and latency statistics (pure)."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass

import pytest

from models.replica_health import LoadBalancing, LoadBalancingStrategy
from ray_backend.balancing import Balancer, least_latency, least_outstanding, power_of_two
from ray_backend.hash_ring import HashRing, bounded_choice, load_bound
from ray_backend.latency import LatencyStats

S = LoadBalancingStrategy


@dataclass
class R:
    name: str
    index: int
    outstanding: int = 0
    latency_ewma: float | None = None


def replicas(*outstanding: int) -> list[R]:
    return [R(f"r{i}", i, n) for i, n in enumerate(outstanding)]


def test_least_outstanding_takes_the_fewest_then_the_lowest_index() -> None:
    assert least_outstanding(replicas(2, 1, 1, 3)).name == "r1"
    assert Balancer().choose(LoadBalancing(), replicas(0, 0), replicas(0, 0)).name == "r0"


def test_power_of_two_never_takes_the_most_loaded_of_several() -> None:
    rng = random.Random(7)
    pool = replicas(1, 9, 2, 3)
    chosen = collections.Counter(power_of_two(pool, rng).name for _ in range(2000))
    assert chosen["r1"] == 0
    # Each of the others is sometimes the less loaded of two random ones.
    assert {"r0", "r2", "r3"} <= set(chosen)
    assert chosen["r0"] > chosen["r3"]
    assert power_of_two(replicas(4), rng).name == "r0"


def test_power_of_two_is_reproducible_with_a_seeded_source() -> None:
    config = LoadBalancing(S.POWER_OF_TWO)
    pool = replicas(3, 1, 2, 0)
    picks = [
        [Balancer(random.Random(3)).choose(config, pool, pool).name for _ in range(5)]
        for _ in range(2)
    ]
    assert picks[0] == picks[1]


def test_round_robin_takes_each_replica_in_turn_and_skips_busy_ones() -> None:
    balancer = Balancer()
    config = LoadBalancing(S.ROUND_ROBIN)
    pool = replicas(5, 0, 0)  # round robin does not look at the load
    assert [balancer.choose(config, pool, pool).name for _ in range(4)] == [
        "r0",
        "r1",
        "r2",
        "r0",
    ]
    # r1 has no free slot: it is skipped, and the turn goes on after the one chosen.
    free = [pool[0], pool[2]]
    assert balancer.choose(config, pool, free).name == "r2"
    assert balancer.choose(config, pool, pool).name == "r0"
    # A replica that left the usable set does not break the order.
    assert balancer.choose(config, pool[1:], pool[1:]).name == "r1"


def test_least_latency_weighs_the_average_by_the_load() -> None:
    fast_busy = R("fast", 0, outstanding=3, latency_ewma=0.1)  # 0.1 x 4 = 0.4
    slow_idle = R("slow", 1, outstanding=0, latency_ewma=0.5)  # 0.5 x 1 = 0.5
    assert least_latency([fast_busy, slow_idle]).name == "fast"
    fast_busy.outstanding = 5  # 0.6
    assert least_latency([fast_busy, slow_idle]).name == "slow"


def test_least_latency_tries_an_idle_replica_without_history_first() -> None:
    known = [R("a", 0, 0, 0.2), R("b", 1, 1, 0.4)]
    new = R("new", 2, 0, None)
    assert least_latency([*known, new]).name == "new"
    new.outstanding = 1  # counts the mean 0.3 x 1 = 0.3 > 0.2 x 1
    assert least_latency([*known, new]).name == "a"
    known[0].outstanding = 2  # 0.2 x 3 = 0.6 > 0.3
    assert least_latency([*known, new]).name == "new"
    assert least_latency(replicas(2, 1)).name == "r1"  # no history at all: least outstanding


def test_the_ring_maps_a_key_to_one_member_and_moves_few_keys_when_one_joins() -> None:
    keys = [f"user-{i}" for i in range(2000)]
    four = HashRing([f"r{i}" for i in range(4)])
    five = HashRing([f"r{i}" for i in range(5)])
    before = {k: four.owner(k) for k in keys}
    assert before == {k: four.owner(k) for k in keys}  # deterministic
    spread = collections.Counter(before.values())
    assert set(spread) == {"r0", "r1", "r2", "r3"}
    assert max(spread.values()) < 2 * min(spread.values())
    moved = [k for k in keys if five.owner(k) != before[k]]
    # Only keys the new member takes over move: about a fifth of them.
    assert all(five.owner(k) == "r4" for k in moved)
    assert 0.1 < len(moved) / len(keys) < 0.3


def test_walk_visits_every_member_once() -> None:
    ring = HashRing(["a", "b", "c"])
    assert sorted(ring.walk("k")) == ["a", "b", "c"]
    assert list(HashRing([]).walk("k")) == []


def test_bounded_loads_spill_a_hot_key_to_the_next_member() -> None:
    ring = HashRing(["a", "b", "c", "d"])
    home, second, *_ = list(ring.walk("hot"))
    loads = dict.fromkeys(ring.members, 0)
    assert load_bound(0, 4, 1.25) == 1
    placed = []
    for _ in range(8):
        member = bounded_choice(ring, "hot", loads, 1.25)
        assert member is not None
        placed.append(member)
        loads[member] += 1
    # The bound follows the mean: no member ever holds more than ceil(1.25 x (n + 1) / 4).
    assert placed[0] == home and second in placed
    assert max(loads.values()) <= load_bound(7, 4, 1.25)
    assert len(set(placed)) >= 3


def test_bounded_choice_skips_members_that_are_not_eligible() -> None:
    ring = HashRing(["a", "b", "c"])
    home = ring.owner("k")
    assert home is not None
    others = [m for m in ring.walk("k") if m != home]
    loads = dict.fromkeys(ring.members, 0)
    assert bounded_choice(ring, "k", loads, 1.25, lambda m: m != home) == others[0]
    assert bounded_choice(ring, "k", loads, 1.25, lambda m: False) is None


def test_consistent_hash_keeps_a_key_on_its_replica_and_without_a_key_balances() -> None:
    balancer = Balancer()
    config = LoadBalancing(S.CONSISTENT_HASH, "${input.user}")
    pool = replicas(0, 0, 0, 0)
    first = balancer.choose(config, pool, pool, "user-42")
    assert first is not None
    assert all(balancer.choose(config, pool, pool, "user-42") is first for _ in range(5))
    homes = {balancer.choose(config, pool, pool, f"user-{i}").name for i in range(40)}
    assert len(homes) == 4
    busy = replicas(2, 0, 1, 1)
    assert balancer.choose(config, busy, busy, "").name == "r1"  # no key: least outstanding


def test_consistent_hash_moves_a_key_when_its_replica_has_no_free_slot() -> None:
    balancer = Balancer()
    config = LoadBalancing(S.CONSISTENT_HASH, "${input.user}")
    pool = replicas(0, 0, 0)
    home = balancer.choose(config, pool, pool, "k")
    assert home is not None
    free = [r for r in pool if r is not home]
    assert balancer.choose(config, pool, free, "k") in free


def test_latency_statistics() -> None:
    stats = LatencyStats(alpha=0.5, samples=4)
    assert stats.ewma is None and stats.percentile(50) is None
    for seconds in (1.0, 3.0):
        stats.observe(seconds)
    assert stats.ewma == pytest.approx(2.0)
    for seconds in (5.0, 7.0, 9.0):  # keeps the last 4: 3, 5, 7, 9
        stats.observe(seconds)
    assert stats.percentile(50) == 5.0
    assert stats.percentile(95) == 9.0
    assert stats.percentile(0) == 3.0
    with pytest.raises(ValueError):
        LatencyStats(alpha=0)
