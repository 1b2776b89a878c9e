"""Health, circuit-breaker and load-balancing settings through a real gRPC server (in-process
backend): stored and shown with their defaults, refused with the field named, deployable from
the CLI; the routing key resolved from the task input; tasks of an agent with no usable replica
wait saying why, and time out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc
from controlplane.cli.main import main
from controlplane.engine.agents.registry import agent_state
from models.agents import AgentSpec, AgentState, ReplicaInfo, ReplicaState
from models.executions import ExecutionStatus, TaskStatus
from models.replica_health import (
    BreakerState,
    CircuitBreaker,
    HealthCheck,
    HealthStatus,
    LoadBalancing,
    LoadBalancingStrategy,
)
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

HASHED = LoadBalancing(LoadBalancingStrategy.CONSISTENT_HASH, "${input.user.id}/${input.day}")


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def server(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20) as c:
        yield c


def test_settings_are_stored_and_shown_and_unset_ones_read_as_the_defaults(
    client: OrchestratorClient, server: ServerThread
) -> None:
    spec = AgentSpec(
        "coder",
        "v1",
        "m:Agent",
        health_check=HealthCheck(interval_s=2.0, timeout_s=0.5, failure_threshold=4),
        circuit_breaker=CircuitBreaker(consecutive_failures=0, failure_rate=0.3, cool_down_s=9.0),
        load_balancing=HASHED,
    )
    shown = client.deploy_agent(spec).record.spec
    assert shown == spec
    assert client.get_agent("coder").record.spec == spec
    # A client that knows nothing of these settings deploys with the defaults.
    stub = agent_pb2_grpc.AgentServiceStub(grpc.insecure_channel(server.address))
    plain = agent_pb2.AgentSpec(name="plain", version="v1", import_path="m:Agent", replicas=1)
    answer = stub.DeployAgent(agent_pb2.DeployAgentRequest(agent=plain), timeout=10)
    assert answer.agent.spec.health_check.interval.seconds == 10
    assert answer.agent.spec.circuit_breaker.consecutive_failures == 5
    assert answer.agent.spec.load_balancing.strategy == (
        agent_pb2.LOAD_BALANCING_STRATEGY_LEAST_OUTSTANDING
    )
    defaults = client.get_agent("plain").record.spec
    assert defaults.health_check == HealthCheck()
    assert defaults.circuit_breaker == CircuitBreaker()
    assert defaults.load_balancing == LoadBalancing()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"health_check": HealthCheck(interval_s=0.01)}, "health_check.interval", "at least"),
        (
            {"health_check": HealthCheck(interval_s=2.0, timeout_s=5.0)},
            "health_check.timeout",
            "not be longer",
        ),
        ({"health_check": HealthCheck(failure_threshold=0)}, "failure_threshold", "between 1"),
        ({"circuit_breaker": CircuitBreaker(failure_rate=1.5)}, "failure_rate", "[0, 1]"),
        ({"circuit_breaker": CircuitBreaker(cool_down_s=-1.0)}, "cool_down", "positive"),
        (
            {"circuit_breaker": CircuitBreaker(consecutive_failures=0, failure_rate=0.0)},
            "circuit_breaker",
            "disabled",
        ),
        (
            {"load_balancing": LoadBalancing(LoadBalancingStrategy.CONSISTENT_HASH)},
            "load_balancing.hash_key",
            "required",
        ),
        (
            {"load_balancing": LoadBalancing(hash_key="${input.user}")},
            "load_balancing.hash_key",
            "only used by",
        ),
        (
            {
                "load_balancing": LoadBalancing(
                    LoadBalancingStrategy.CONSISTENT_HASH, "${inputs.user}"
                )
            },
            "load_balancing.hash_key",
            "must start with 'input'",
        ),
        (
            {"load_balancing": LoadBalancing(LoadBalancingStrategy.CONSISTENT_HASH, "user")},
            "load_balancing.hash_key",
            "must reference the task's input",
        ),
        (
            {"load_balancing": replace(HASHED, load_factor=0.5)},
            "load_balancing.load_factor",
            "[1, 100]",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    client: OrchestratorClient, change: dict[str, object], field: str, words: str
) -> None:
    spec = replace(AgentSpec("coder", "v1", "m:Agent"), **change)  # type: ignore[arg-type]
    with pytest.raises(ClientError) as caught:
        client.deploy_agent(spec)
    error = caught.value
    assert error.code_name == "INVALID_ARGUMENT"
    assert [f for f, _ in error.violations if f.endswith(field)], error.violations
    assert any(words in why for _, why in error.violations), error.violations
    with pytest.raises(ClientError):
        client.get_agent("coder")


def test_an_unknown_strategy_number_is_refused_naming_the_field(server: ServerThread) -> None:
    stub = agent_pb2_grpc.AgentServiceStub(grpc.insecure_channel(server.address))
    spec = agent_pb2.AgentSpec(name="coder", version="v1", import_path="m:Agent")
    spec.load_balancing.strategy = 99  # type: ignore[assignment]
    with pytest.raises(grpc.RpcError) as caught:
        stub.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "agent.load_balancing.strategy" in str(caught.value.details())


def test_the_cli_deploys_the_settings(
    server: ServerThread, client: OrchestratorClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--address", server.address, "agents", "deploy", "--name", "coder", "--version",
            "v1", "--import-path", "m:Agent", "--hash-key", "${input.user.id}/${input.day}",
            "--health-interval", "2s", "--health-timeout", "500ms",
            "--health-failure-threshold", "4", "--breaker-failures", "0",
            "--breaker-failure-rate", "0.3", "--breaker-cool-down", "9s",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "consistent_hash on ${input.user.id}/${input.day}" in out
    assert "30% failed of >= 10 in 60s" in out
    spec = client.get_agent("coder").record.spec
    assert spec.load_balancing == HASHED
    assert spec.health_check == HealthCheck(interval_s=2.0, timeout_s=0.5, failure_threshold=4)
    assert spec.circuit_breaker == CircuitBreaker(
        consecutive_failures=0, failure_rate=0.3, cool_down_s=9.0
    )
    assert main(["--address", server.address, "agents", "deploy", "--name", "x", "--version",
                 "v1", "--import-path", "m:A", "--no-circuit-breaker"]) == 0  # fmt: skip
    assert not client.get_agent("x").record.spec.circuit_breaker.enabled
    code = main(["--address", server.address, "agents", "deploy", "--name", "y", "--version",
                 "v1", "--import-path", "m:A", "--breaker-failure-rate", "2"])  # fmt: skip
    assert code != 0
    assert "--breaker-failure-rate: must be within [0, 1]" in capsys.readouterr().err


def test_the_routing_key_is_resolved_from_the_task_input(
    client: OrchestratorClient, backend: FakeBackend
) -> None:
    client.deploy_agent(AgentSpec("sticky", "v1", "m:Agent", load_balancing=HASHED))
    client.deploy_agent(AgentSpec("plain", "v1", "m:Agent"))
    client.create_workflow(
        """
name: affinity
inputs: {user: {type: object}}
tasks:
  - {id: a, agent: sticky, input: {user: "${inputs.user}", day: 3}}
  - {id: b, agent: sticky, input: {user: "${inputs.user}"}}
  - {id: c, agent: plain, input: {user: "${inputs.user}", day: 3}}
"""
    )
    done = client.start_execution("affinity", {"user": {"id": "u-7"}}).result(timeout=10)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    # b has no `day`: it routes without a key; plain hashes nothing.
    assert sorted(backend.routing_keys) == [("plain", ""), ("sticky", ""), ("sticky", "u-7/3")]


def test_tasks_wait_saying_no_replica_is_usable_and_their_timeout_applies(
    client: OrchestratorClient, backend: FakeBackend
) -> None:
    client.deploy_agent(AgentSpec("broken", "v1", "m:Agent"))
    why = "no usable replica of agent 'broken': broken/v1/x/0 circuit breaker open for 30s more"
    backend.unusable["broken"] = why
    client.create_workflow(
        """
name: patient
tasks:
  - {id: waits, agent: broken}
  - {id: gives-up, agent: broken, timeout: 300ms, retry: {max_attempts: 1}}
"""
    )
    handle = client.start_execution("patient")
    deadline = time.monotonic() + 10
    while True:
        record = client.get_execution(handle.execution_id)
        if record.tasks["waits"].waiting_reason == why:
            break
        assert time.monotonic() < deadline, record.tasks["waits"]
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while record.tasks["gives-up"].status is not TaskStatus.TIMED_OUT:
        assert time.monotonic() < deadline, record.tasks["gives-up"]
        time.sleep(0.02)
        record = client.get_execution(handle.execution_id)
    [attempt] = record.tasks["gives-up"].attempts
    assert attempt.error is not None and attempt.error.type == "NoUsableReplica"
    assert why in attempt.error.message and "0.3s" in attempt.error.message
    assert record.tasks["waits"].status is TaskStatus.SCHEDULED
    client.cancel_execution(handle.execution_id)


def test_an_agent_with_an_unusable_ready_replica_is_degraded() -> None:
    ready = ReplicaInfo("a/0", "v1", ReplicaState.READY)
    assert agent_state([ready, replace(ready, name="a/1")], 2) is AgentState.READY
    for broken in (
        replace(ready, name="a/1", breaker=BreakerState.OPEN),
        replace(ready, name="a/1", breaker=BreakerState.HALF_OPEN),
        replace(ready, name="a/1", health=HealthStatus.UNHEALTHY),
    ):
        assert agent_state([ready, broken], 2) is AgentState.DEGRADED
