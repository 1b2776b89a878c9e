"""Which replica of a set takes an attempt: only usable ones (READY, healthy, breaker not
open), a half-open one first, then the agent's strategy; and why none is usable (fake clock)."""

from __future__ import annotations

from dataclasses import replace

from models.agents import AgentSpec, ReplicaState
from models.replica_health import (
    BreakerState,
    CircuitBreaker,
    HealthCheck,
    HealthStatus,
    LoadBalancing,
    LoadBalancingStrategy,
)
from ray_backend.replica_set import Replica, ReplicaSet

BREAKER = CircuitBreaker(consecutive_failures=2, cool_down_s=10.0)
SPEC = AgentSpec("coder", "v1", "samples.agents:CodeGenAgent", circuit_breaker=BREAKER)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def replica_set(count: int, spec: AgentSpec = SPEC, clock: Clock | None = None) -> ReplicaSet:
    rs = ReplicaSet(spec, clock=clock or Clock())
    for i in range(count):
        name = f"coder/v1/abc/{i}"
        rs.replicas[name] = Replica(
            name, "v1", i, "abc", None, max_concurrency=2, state=ReplicaState.READY, node_id=f"n{i}"
        )
    return rs


def fail(rs: ReplicaSet, replica: Replica, times: int) -> None:
    for _ in range(times):
        admission, _ = replica.breaker.admit(rs.clock(), rs.spec.circuit_breaker)
        replica.breaker.record(admission, False, rs.clock(), rs.spec.circuit_breaker)
        replica.failed("ValueError: bad input")


def test_an_open_breaker_or_unhealthy_replica_gets_no_attempt() -> None:
    clock = Clock()
    rs = replica_set(3, clock=clock)
    r0, r1, r2 = rs.replicas.values()
    fail(rs, r0, 2)
    assert r0.breaker.state is BreakerState.OPEN
    r1.health.record(False, HealthCheck(failure_threshold=1))
    assert r1.health.status is HealthStatus.UNHEALTHY
    assert {rs.pick() for _ in range(3)} == {r2}
    assert rs.unusable_reason() == ""  # r2 could take attempts


def test_after_the_cool_down_the_half_open_replica_takes_the_next_attempt_first() -> None:
    clock = Clock()
    rs = replica_set(2, clock=clock)
    r0, r1 = rs.replicas.values()
    fail(rs, r0, 2)
    assert rs.pick() is r1
    clock.now += 10.0
    assert rs.pick() is r0  # its probe, although r1 is as idle
    admission, moved = r0.breaker.admit(clock(), BREAKER)
    assert admission.probe and moved is not None and moved.after is BreakerState.HALF_OPEN
    assert rs.pick() is r1  # one probe at a time


def test_why_no_replica_is_usable() -> None:
    clock = Clock()
    rs = replica_set(2, clock=clock)
    r0, r1 = rs.replicas.values()
    fail(rs, r0, 2)
    r1.health.record(False, HealthCheck(failure_threshold=1))
    r1.failed("health() answered ok: false")
    assert rs.pick() is None
    reason = rs.unusable_reason()
    assert reason.startswith("no usable replica of agent 'coder': ")
    assert (
        "coder/v1/abc/0 circuit breaker open for 10s more; last error: ValueError: bad input"
        in (reason)
    )
    assert "coder/v1/abc/1 unhealthy; last error: health() answered ok: false" in reason
    clock.now += 10.0
    assert rs.unusable_reason() == ""  # the breaker lets its probe through now
    assert "has no replica" in replica_set(0).unusable_reason()


def test_a_replica_not_ready_is_unusable_and_placement_limits_the_replicas() -> None:
    rs = replica_set(2)
    r0, r1 = rs.replicas.values()
    r0.move_to(ReplicaState.STARTING)
    assert rs.pick() is r1
    assert rs.pick(frozenset({"n0"})) is None
    assert rs.unusable_reason(frozenset({"n0"})) == (
        "no usable replica of agent 'coder' on nodes n0: coder/v1/abc/0 starting"
    )


def test_only_replicas_with_a_free_slot_are_chosen() -> None:
    rs = replica_set(
        2, replace(SPEC, load_balancing=LoadBalancing(LoadBalancingStrategy.ROUND_ROBIN))
    )
    r0, r1 = rs.replicas.values()
    r1.outstanding = 2
    assert [rs.pick() for _ in range(3)] == [r0, r0, r0]
    r0.outstanding = 2
    assert rs.pick() is None
    assert rs.unusable_reason() == ""  # busy, not unusable: a queue


def test_the_strategy_comes_from_the_current_spec() -> None:
    rs = replica_set(3)
    replicas = list(rs.replicas.values())
    replicas[0].outstanding = 1
    assert rs.pick() is replicas[1]  # least outstanding
    hashed = LoadBalancing(LoadBalancingStrategy.CONSISTENT_HASH, "${input.k}")
    rs.spec = replace(SPEC, load_balancing=hashed)
    # r0 holds 1 of 1 attempts: over the bound ceil(1.25 x 2 / 3) = 1, no key goes there.
    assert replicas[0] not in {rs.pick(routing_key=f"key-{i}") for i in range(30)}
    replicas[0].outstanding = 0
    homes = {rs.pick(routing_key=f"key-{i}") for i in range(30)}
    assert homes == set(replicas)
    assert len({rs.pick(routing_key="key-7") for _ in range(5)}) == 1
