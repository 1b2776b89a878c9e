"""Circuit breakers and health probes on a real local Ray: a replica whose every call raises is
circuit-broken within the window, gets no new attempts, and serves again after the cool-down
once it heals; a replica whose health() fails is UNHEALTHY after the threshold and back after
the successes; with no usable replica, leases wait saying why, and give up at their limit."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec, ReplicaInfo, ReplicaResources
from models.backend import AttemptOutcome, AttemptRequest, NoUsableReplica
from models.executions import ExecutionStatus
from models.replica_health import BreakerState, CircuitBreaker, HealthCheck, HealthStatus
from ray_backend import RayAgentBackend
from tests.support.backend_runs import run, until
from tests.support.http_agent_service import HttpAgentService
from tests.support.server_thread import ServerThread

NO_CPU = ReplicaResources(num_cpus=0)
BREAKER = CircuitBreaker(consecutive_failures=3, failure_rate=0.0, window_s=30.0, cool_down_s=3.0)


def breakable(name: str, tmp_path: Path, replicas: int, breaker: CircuitBreaker) -> AgentSpec:
    return AgentSpec(
        name=name,
        version="v1",
        import_path="tests.support.health_agents:BreakableAgent",
        replicas=replicas,
        resources=NO_CPU,
        config={"calls_file": str(tmp_path / "calls"), "healed_file": str(tmp_path / "healed")},
        circuit_breaker=breaker,
    )


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls"
    return path.read_text().split() if path.exists() else []


async def attempt(backend: RayAgentBackend, agent: str, number: int) -> tuple[str, AttemptOutcome]:
    async with backend.lease(agent) as lease:
        request = AttemptRequest("exec-1", f"task-{number}", 1, {"n": number})
        return lease.replica, await backend.invoke(lease, request)


def replica(backend: RayAgentBackend, agent: str, suffix: str) -> ReplicaInfo:
    [found] = [r for r in backend.replicas(agent) if r.name.endswith(suffix)]
    return found


def test_a_failing_replica_is_circuit_broken_gets_no_attempts_and_recovers_after_cool_down(
    ray_namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ray_backend.replica_conditions")

    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(breakable("breakable", tmp_path, 2, BREAKER))
        broken = replica(backend, "breakable", "/0").name
        # Least outstanding: sequential attempts go to the idle replica with the lowest index,
        # the broken one, until its breaker opens.
        started = time.monotonic()
        for number in range(3):
            where, outcome = await attempt(backend, "breakable", number)
            assert where == broken and not outcome.ok
        opened_within = time.monotonic() - started
        info = replica(backend, "breakable", "/0")
        assert info.breaker is BreakerState.OPEN
        assert opened_within < BREAKER.window_s
        assert info.last_error == f"RuntimeError: {broken} is broken"
        assert info.breaker_change_time is not None
        for number in range(3, 8):
            where, outcome = await attempt(backend, "breakable", number)
            assert where != broken and outcome.ok, outcome.error
        assert calls(tmp_path).count(broken) == 3  # no attempt reached it while open

        # Cool-down over, not healed: the one probe attempt fails and opens it again.
        await until(
            lambda: replica(backend, "breakable", "/0").breaker is BreakerState.HALF_OPEN,
            what="half-open after the cool-down",
        )
        where, outcome = await attempt(backend, "breakable", 8)
        assert where == broken and not outcome.ok
        assert replica(backend, "breakable", "/0").breaker is BreakerState.OPEN
        where, outcome = await attempt(backend, "breakable", 9)
        assert where != broken and outcome.ok

        (tmp_path / "healed").touch()
        await until(
            lambda: replica(backend, "breakable", "/0").breaker is BreakerState.HALF_OPEN,
            what="half-open again",
        )
        where, outcome = await attempt(backend, "breakable", 10)
        assert where == broken and outcome.ok, outcome.error
        assert replica(backend, "breakable", "/0").breaker is BreakerState.CLOSED
        where, outcome = await attempt(backend, "breakable", 11)
        assert where == broken and outcome.ok  # it takes attempts again
        assert calls(tmp_path).count(broken) == 6
        assert replica(backend, "breakable", "/0").latency_p50_s is not None

    run(ray_namespace, body)
    transitions = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert [t.split(": circuit breaker ")[1].split(" (")[0] for t in transitions] == [
        "CLOSED -> OPEN",
        "OPEN -> HALF_OPEN",
        "HALF_OPEN -> OPEN",
        "OPEN -> HALF_OPEN",
        "HALF_OPEN -> CLOSED",
    ]


def test_with_no_usable_replica_leases_wait_saying_why_and_give_up_at_their_limit(
    ray_namespace: str, tmp_path: Path
) -> None:
    breaker = CircuitBreaker(consecutive_failures=2, failure_rate=0.0, cool_down_s=3.0)

    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(breakable("lonely", tmp_path, 1, breaker))
        for number in range(2):
            _, outcome = await attempt(backend, "lonely", number)
            assert not outcome.ok
        why = backend.waiting_reason("lonely")
        assert why.startswith("no usable replica of agent 'lonely': lonely/v1/")
        assert "circuit breaker open for" in why and "RuntimeError" in why
        started = time.monotonic()
        with pytest.raises(NoUsableReplica, match=r"waited 0\.5s .* circuit breaker open"):
            async with backend.lease("lonely", unusable_timeout_s=0.5):
                pass
        assert time.monotonic() - started < 2.5  # gave up at its limit, not at the cool-down
        (tmp_path / "healed").touch()
        # A lease without a limit waits for the cool-down, then takes the probe attempt.
        where, outcome = await asyncio.wait_for(attempt(backend, "lonely", 3), 20)
        assert outcome.ok, outcome.error
        assert backend.waiting_reason("lonely") == ""
        assert backend.replicas("lonely")[0].breaker is BreakerState.CLOSED
        assert calls(tmp_path) == [where] * 3

    run(ray_namespace, body)


def test_errors_no_retry_can_cure_do_not_open_the_breaker(ray_namespace: str) -> None:
    service = HttpAgentService()
    spec = AgentSpec(
        name="strict",
        version="v1",
        endpoint=service.url("any"),
        replicas=1,
        resources=NO_CPU,
        circuit_breaker=replace(BREAKER, consecutive_failures=2),
    )

    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec)
        for number in range(4):
            async with backend.lease("strict") as lease:
                request = AttemptRequest("exec-1", f"task-{number}", 1, {"mode": "bad"})
                outcome = await backend.invoke(lease, request)
            assert not outcome.ok and not outcome.retryable, outcome
        [info] = backend.replicas("strict")
        assert info.breaker is BreakerState.CLOSED  # a 400 is the request's fault
        assert "input.text is required" in info.last_error

    try:
        run(ray_namespace, body)
    finally:
        service.stop()


def test_a_replica_whose_health_fails_is_unhealthy_after_the_threshold_and_healthy_again(
    ray_namespace: str, tmp_path: Path
) -> None:
    sick = tmp_path / "sick"
    spec = AgentSpec(
        name="sickly",
        version="v1",
        import_path="tests.support.health_agents:SicklyAgent",
        replicas=2,
        resources=NO_CPU,
        config={"sick_file": str(sick)},
        health_check=HealthCheck(
            interval_s=0.2, timeout_s=0.2, failure_threshold=2, success_threshold=2
        ),
    )

    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec)
        await until(
            lambda: replica(backend, "sickly", "/0").health_response_time_s is not None,
            what="a first probe answered",
        )
        sick.touch()
        await until(
            lambda: replica(backend, "sickly", "/0").health is HealthStatus.UNHEALTHY,
            what="UNHEALTHY",
        )
        info = replica(backend, "sickly", "/0")
        assert info.last_error == "health() answered ok: false (disk full)"
        assert info.health_change_time is not None
        assert replica(backend, "sickly", "/1").health is HealthStatus.HEALTHY
        for number in range(4):
            where, outcome = await attempt(backend, "sickly", number)
            assert where.endswith("/1") and outcome.ok
        sick.unlink()
        await until(
            lambda: replica(backend, "sickly", "/0").health is HealthStatus.HEALTHY,
            what="HEALTHY again",
        )
        where, _ = await attempt(backend, "sickly", 4)
        assert where.endswith("/0")

    run(ray_namespace, body)


def test_executions_succeed_as_failed_attempts_are_retried_off_the_broken_replica(
    server: ServerThread, tmp_path: Path
) -> None:
    with OrchestratorClient(server.address, timeout_s=30) as client:
        # A long cool-down: no probe attempt reaches the broken replica during the test.
        long_open = replace(BREAKER, cool_down_s=60.0)
        client.deploy_agent(breakable("flaky-fleet", tmp_path, 2, long_open))
        client.create_workflow(
            """
name: resilient
tasks:
  - id: work
    agent: flaky-fleet
    retry: {max_attempts: 5, initial_interval: 10ms}
"""
        )
        first = client.start_execution("resilient").result(timeout=60)
        assert first.status is ExecutionStatus.SUCCEEDED, first.error
        attempts = first.tasks["work"].attempts
        broken = [r.name for r in client.get_agent("flaky-fleet").replicas if r.name[-2:] == "/0"]
        assert [a.replica for a in attempts[:3]] == broken * 3
        assert attempts[3].replica != broken[0] and len(attempts) == 4
        view = client.get_agent("flaky-fleet")
        shown = {r.name: r for r in view.replicas}
        assert shown[broken[0]].breaker is BreakerState.OPEN
        assert "is broken" in shown[broken[0]].last_error
        for _ in range(3):
            done = client.start_execution("resilient").result(timeout=60)
            assert done.status is ExecutionStatus.SUCCEEDED
            assert len(done.tasks["work"].attempts) == 1
            assert done.tasks["work"].attempts[0].replica != broken[0]
        assert calls(tmp_path).count(broken[0]) == 3
