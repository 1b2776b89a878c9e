"""The version catalogue through a real gRPC server (in-process backend): states as versions
are deployed, fail and are rolled back; live health from the attempts each version ran; the
catalogue survives a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.engine.agents.versions import percentile, version_health
from models.agents import AgentSpec, VersionState
from models.backend import (
    AttemptOutcome,
    AttemptRequest,
    HeartbeatListener,
    ReplicaLease,
    ReplicaStartError,
)
from models.executions import ErrorInfo, ExecutionStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

WORKFLOW = "name: one\ntasks: [{id: a, agent: svc, input: {x: 1}}]\n"


class Versioned(FakeBackend):
    """Version "broken" never starts; version "flaky" fails every attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.start_errors["broken"] = ReplicaStartError("ValueError: api_key is required")

    async def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> AttemptOutcome:
        if lease.agent_version == "flaky":
            return AttemptOutcome(ok=False, error=ErrorInfo("RuntimeError", "flaky version"))
        return await super().invoke(lease, request, on_heartbeat)


def spec(version: str) -> AgentSpec:
    return AgentSpec("svc", version, "m:Svc", replicas=2)


@pytest.fixture
def backend() -> Versioned:
    return Versioned()


@pytest.fixture
def server(tmp_path: Path, backend: Versioned) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    yield server
    server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20) as c:
        yield c


def states(client: OrchestratorClient) -> list[tuple[str, VersionState]]:
    return [(v.spec.version, v.state) for v in client.list_agent_versions("svc")]


def run(client: OrchestratorClient, times: int) -> list[ExecutionStatus]:
    return [client.start_execution("one").result(timeout=20).status for _ in range(times)]


def test_deploys_failures_and_rollbacks_move_version_states(client: OrchestratorClient) -> None:
    client.deploy_agent(spec("v1"))
    client.deploy_agent(spec("v2"))
    assert states(client) == [("v2", VersionState.ACTIVE), ("v1", VersionState.RETIRED)]

    with pytest.raises(ClientError) as caught:
        client.deploy_agent(spec("broken"))
    assert caught.value.code_name == "FAILED_PRECONDITION"
    assert states(client)[0] == ("broken", VersionState.FAILED)
    assert client.get_agent("svc").record.spec.version == "v2"

    view = client.rollback_agent("svc")
    assert view.record.spec.version == "v1" and view.record.spec.replicas == 2
    assert dict(states(client)) == {
        "broken": VersionState.FAILED,
        "v2": VersionState.ROLLED_BACK,
        "v1": VersionState.ACTIVE,
    }
    client.rollback_agent("svc", "v2")
    assert dict(states(client))["v2"] is VersionState.ACTIVE
    assert dict(states(client))["v1"] is VersionState.ROLLED_BACK


def test_a_rollback_that_cannot_be_is_refused_naming_why(client: OrchestratorClient) -> None:
    client.deploy_agent(spec("v1"))
    for version, code, words in [
        ("", "FAILED_PRECONDITION", "no earlier version that served"),
        ("v1", "FAILED_PRECONDITION", "it is the version serving"),
        ("v9", "NOT_FOUND", "has no version 'v9'"),
    ]:
        with pytest.raises(ClientError) as caught:
            client.rollback_agent("svc", version)
        assert caught.value.code_name == code and words in caught.value.message
    with pytest.raises(ClientError) as caught:
        client.deploy_agent(spec("broken"))
    with pytest.raises(ClientError) as caught:
        client.rollback_agent("svc", "broken")
    assert "it never served" in caught.value.message
    with pytest.raises(ClientError) as caught:
        client.list_agent_versions("nobody")
    assert caught.value.code_name == "NOT_FOUND"


def test_each_version_shows_the_health_of_its_own_attempts(client: OrchestratorClient) -> None:
    client.deploy_agent(spec("v1"))
    client.create_workflow(WORKFLOW)
    assert run(client, 3) == [ExecutionStatus.SUCCEEDED] * 3
    client.deploy_agent(spec("flaky"))
    assert run(client, 1) == [ExecutionStatus.FAILED]
    health = {v.spec.version: v.health for v in client.list_agent_versions("svc")}
    v1, flaky = health["v1"], health["flaky"]
    assert v1 is not None and flaky is not None
    assert (v1.attempts, v1.succeeded, v1.success_rate) == (3, 3, 1.0)
    assert v1.p50_latency_s is not None and v1.p95_latency_s is not None
    assert (flaky.attempts, flaky.succeeded, flaky.success_rate) == (3, 0, 0.0)  # 3 tries


def test_the_catalogue_survives_a_restart_and_is_seeded_for_older_agents(
    tmp_path: Path, backend: Versioned
) -> None:
    first = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(first.address) as client:
            client.deploy_agent(spec("v1"))
            client.deploy_agent(spec("v2"))
    finally:
        first.stop()
    # As if the agent had been deployed before versions were catalogued.
    with sqlite3.connect(tmp_path / "orchestrator.db") as db:
        db.execute("DELETE FROM agent_versions WHERE version='v2'")
    second = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(second.address) as client:
            assert states(client) == [("v2", VersionState.ACTIVE), ("v1", VersionState.RETIRED)]
    finally:
        second.stop()


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.95) == 95.0
    assert percentile([], 0.5) is None and percentile([3.0], 0.95) == 3.0
    health = version_health([("SUCCEEDED", 1.0), ("FAILED", 3.0), ("TIMED_OUT", 2.0)], 300.0)
    assert (health.attempts, health.succeeded, health.failed) == (3, 1, 2)
    assert health.p50_latency_s == 2.0
