"""Agents of namespaces, through a real gRPC server on the in-process backend: the same name in
two namespaces is two agents with their own replicas, versions, events and scaling policy; a
task runs on the agent of its execution's namespace; another namespace's agent is NOT_FOUND;
ListAgents filters by namespace (`*`: every one); agents stored before namespaces are the
default namespace's and go on working."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from controlplane.api.client import AsyncOrchestratorClient, ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    scaling_pb2,
    scaling_pb2_grpc,
)
from controlplane.store import SqliteStore
from controlplane.store.agent_keys import in_namespace, key_condition
from controlplane.store.load_history import LoadHistoryStore
from models.agent_events import AgentEventType
from models.agents import AgentRecord, AgentSpec
from models.backend import AttemptRequest, ReplicaChange, ReplicaEvent
from models.executions import ExecutionStatus
from models.load import RAW, LoadSample
from models.scaling import ScalingPolicy
from ray_backend.replica_set import parse_replica_name, replica_name
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

T = TypeVar("T")
PIPELINE = """
name: pipeline
tasks:
  - id: build
    agent: coder
    input: {spec: x}
outputs: {built_by: "${tasks.build.output}"}
"""


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def server(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path,
        "unused",
        backend=backend,
        overrides={"grpc.shutdown_grace_s": 0.1, "loops.scaling_interval_s": 0},
    )
    try:
        yield server
    finally:
        server.stop()


def client_of(server: ServerThread, namespace: str = "default") -> OrchestratorClient:
    return OrchestratorClient(server.address, timeout_s=20, namespace=namespace)


def eventually(check: Callable[[], T | None], timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def answers(text: str) -> Callable[[Any, AttemptRequest], Any]:
    async def behaviour(value: Any, request: AttemptRequest) -> Any:
        return text

    return behaviour


def refused(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as error:
        call()
    return error.value


def test_the_same_name_in_two_namespaces_is_two_agents(
    server: ServerThread, backend: FakeBackend
) -> None:
    with client_of(server, "team-a") as a, client_of(server, "team-b") as b:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A", replicas=2))
        b.deploy_agent(AgentSpec("coder", "v7", "m:B", replicas=1))
        b.deploy_agent(AgentSpec("coder", "v8", "m:B", replicas=1))

        mine, theirs = a.get_agent("coder"), b.get_agent("coder")
        # Models carry the agent's key: its name after its namespace.
        assert mine.record.spec.name == "team-a/coder"
        assert (mine.record.spec.version, len(mine.replicas)) == ("v1", 2)
        assert (theirs.record.spec.version, len(theirs.replicas)) == ("v8", 1)
        assert not {r.name for r in mine.replicas} & {r.name for r in theirs.replicas}
        assert set(backend.specs) == {"team-a/coder", "team-b/coder"}
        assert [v.spec.version for v in a.list_agent_versions("coder")] == ["v1"]
        assert [v.spec.version for v in b.list_agent_versions("coder")] == ["v8", "v7"]

        # The wire carries the namespace and the bare name.
        stub = agent_pb2_grpc.AgentServiceStub(grpc.insecure_channel(server.address))
        got = stub.GetAgent(agent_pb2.GetAgentRequest(namespace="team-a", name="coder"))
        assert (got.agent.spec.namespace, got.agent.spec.name) == ("team-a", "coder")
        assert (got.agent.rollout.namespace, got.agent.rollout.agent) == ("team-a", "coder")

        # Scaling and deleting one leaves the other as it was.
        a.scale_agent("coder", 3)
        assert len(b.get_agent("coder").replicas) == 1
        b.delete_agent("coder")
        assert len(a.get_agent("coder").replicas) == 3
        assert refused(lambda: b.get_agent("coder")).code_name == "NOT_FOUND"
        assert backend.removed == ["team-b/coder"]


def test_another_namespaces_agent_is_not_found(server: ServerThread) -> None:
    with client_of(server, "team-a") as a, client_of(server, "team-b") as b:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A"))
        a.set_scaling_policy(ScalingPolicy(agent="coder", min_replicas=1, max_replicas=4))
        for call in (
            lambda: b.get_agent("coder"),
            lambda: b.scale_agent("coder", 2),
            lambda: b.delete_agent("coder"),
            lambda: b.list_agent_versions("coder"),
            lambda: b.rollback_agent("coder"),
            lambda: b.list_agent_events("coder"),
            lambda: b.get_scaling_policy("coder"),
            lambda: b.delete_scaling_policy("coder"),
            lambda: b.get_scaling_status("coder"),
        ):
            assert refused(call).code_name == "NOT_FOUND"
        # A policy needs the agent deployed in the request's namespace.
        missing = refused(lambda: b.set_scaling_policy(ScalingPolicy(agent="coder")))
        assert missing.code_name == "FAILED_PRECONDITION"
        assert b.list_scaling_events("coder", include_holds=True) == []
        # Nothing of team-a's agent was touched.
        agent = a.get_agent("coder")
        assert (agent.record.spec.replicas, agent.state.value) == (1, "READY")
        policy = a.get_scaling_policy("coder").policy
        assert (policy.agent, policy.max_replicas) == ("team-a/coder", 4)


def test_a_bad_namespace_or_a_name_reaching_into_another_is_invalid(
    server: ServerThread,
) -> None:
    with client_of(server, "team-a") as a:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A"))
    stub = agent_pb2_grpc.AgentServiceStub(grpc.insecure_channel(server.address))
    scaling = scaling_pb2_grpc.ScalingServiceStub(grpc.insecure_channel(server.address))
    for send, field in (
        (
            lambda: stub.GetAgent(agent_pb2.GetAgentRequest(namespace="Team A", name="c")),
            "namespace",
        ),
        (lambda: stub.ListAgents(agent_pb2.ListAgentsRequest(namespace="a/b")), "namespace"),
        (lambda: stub.GetAgent(agent_pb2.GetAgentRequest(name="team-a/coder")), "name"),
        (
            lambda: stub.GetAgent(agent_pb2.GetAgentRequest(namespace="*", name="coder")),
            "namespace",
        ),
        (
            lambda: stub.ScaleAgent(agent_pb2.ScaleAgentRequest(name="team-a/coder", replicas=0)),
            "name",
        ),
        (
            lambda: stub.DeployAgent(
                agent_pb2.DeployAgentRequest(
                    agent=agent_pb2.AgentSpec(name="team-a/coder", version="v2", import_path="m:X")
                )
            ),
            "agent.name",
        ),
        (
            lambda: stub.DeployAgent(
                agent_pb2.DeployAgentRequest(
                    namespace="team-b",
                    agent=agent_pb2.AgentSpec(
                        namespace="team-a", name="coder", version="v2", import_path="m:X"
                    ),
                )
            ),
            "agent.namespace",
        ),
        (
            lambda: scaling.GetScalingStatus(
                scaling_pb2.GetScalingStatusRequest(agent="team-a/coder")
            ),
            "agent",
        ),
        (
            lambda: scaling.SetScalingPolicy(
                scaling_pb2.SetScalingPolicyRequest(
                    namespace="team-b",
                    policy=scaling_pb2.ScalingPolicy(namespace="team-a", agent="coder"),
                )
            ),
            "policy.namespace",
        ),
    ):
        with pytest.raises(grpc.RpcError) as error:
            send()
        assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT, field
        assert f"{field}:" in (error.value.details() or ""), (field, error.value.details())
    with client_of(server, "team-a") as a:
        assert a.get_agent("coder").record.spec.version == "v1"


def test_list_agents_filters_by_namespace_and_star_lists_every_one(server: ServerThread) -> None:
    with client_of(server) as default, client_of(server, "team-a") as a:
        default.deploy_agent(AgentSpec("coder", "v1", "m:D"))
        default.deploy_agent(AgentSpec("zeta", "v1", "m:D"))
        for name in ("alpha", "coder", "omega"):
            a.deploy_agent(AgentSpec(name, "v1", "m:A"))
        assert [v.record.spec.name for v in default.list_agents()] == ["coder", "zeta"]
        assert [v.record.spec.name for v in a.list_agents()] == [
            "team-a/alpha",
            "team-a/coder",
            "team-a/omega",
        ]
        assert client_of(server, "team-b").list_agents() == []
        everything = [v.record.spec.name for v in a.list_agents("*")]
        assert sorted(everything) == everything
        assert set(everything) == {"coder", "zeta", "team-a/alpha", "team-a/coder", "team-a/omega"}
        # Pages stay in their namespace.
        with OrchestratorClient(server.address, page_size=1, namespace="team-a") as paged:
            assert len(list(paged.iter_agents())) == 3
        with OrchestratorClient(server.address, page_size=2) as paged:
            assert len(list(paged.iter_agents("*"))) == 5
        # A key a response carried names its own namespace.
        assert default.get_agent("team-a/omega").record.spec.name == "team-a/omega"


def test_a_task_runs_on_the_agent_of_its_executions_namespace(
    server: ServerThread, backend: FakeBackend
) -> None:
    backend.behaviours["team-a/coder"] = answers("coder of team-a")
    backend.behaviours["team-b/coder"] = answers("coder of team-b")
    backend.behaviours["coder"] = answers("coder of default")
    with client_of(server, "team-a") as a, client_of(server, "team-b") as b:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A"))
        b.deploy_agent(AgentSpec("coder", "v1", "m:B"))
        a.create_workflow(PIPELINE)
        b.create_workflow(PIPELINE)
        runs = {"team-a": a.start_execution("pipeline"), "team-b": b.start_execution("pipeline")}
        for ns, handle in runs.items():
            done = handle.result(timeout=30)
            assert done.status is ExecutionStatus.SUCCEEDED, done.error
            assert done.outputs == {"built_by": f"coder of {ns}"}
    # The default namespace has no coder, nor has team-c.
    for ns in ("default", "team-c"):
        with client_of(server, ns) as other:
            other.create_workflow(PIPELINE)
            missing = refused(lambda other=other: other.start_execution("pipeline"))
            assert missing.code_name == "FAILED_PRECONDITION"
            assert missing.violations[0][0] == "tasks[0].agent"
    with client_of(server) as default:
        default.deploy_agent(AgentSpec("coder", "v1", "m:D"))
        done = default.start_execution("pipeline").result(timeout=30)
        assert done.outputs == {"built_by": "coder of default"}
    leased = [agent for agent, _ in backend.routing_keys]
    assert sorted(leased) == ["coder", "team-a/coder", "team-b/coder"]


def test_agent_events_and_scaling_decisions_stay_in_their_namespace(
    server: ServerThread, backend: FakeBackend
) -> None:
    with client_of(server, "team-a") as a, client_of(server) as default:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A", replicas=1))
        default.deploy_agent(AgentSpec("coder", "v1", "m:D", replicas=1))
        event = ReplicaEvent(
            agent="team-a/coder",
            replica="team-a/coder/v1/abc/0",
            version="v1",
            change=ReplicaChange.BREAKER,
            time=time.time(),
            before="CLOSED",
            after="OPEN",
            reason="3 failures",
        )
        server.loop.call_soon_threadsafe(backend.report, event)
        opened = eventually(
            lambda: [
                e
                for e in a.list_agent_events("coder")
                if e.type is AgentEventType.REPLICA_BREAKER_CHANGED
            ]
        )
        assert opened[0].agent == "team-a/coder"
        assert not [
            e
            for e in default.list_agent_events("coder")
            if e.type is AgentEventType.REPLICA_BREAKER_CHANGED
        ]

        # Each namespace's policy scales its own agent.
        a.set_scaling_policy(ScalingPolicy(agent="coder", min_replicas=3, max_replicas=5))
        default.set_scaling_policy(ScalingPolicy(agent="coder", min_replicas=2, max_replicas=2))
        decided = server.call(server.control_plane.scaling_loop.run_once())
        assert {(e.decision.agent, e.decision.desired) for e in decided} == {
            ("team-a/coder", 3),
            ("coder", 2),
        }
        assert a.get_scaling_status("coder").desired == 3
        assert default.get_scaling_status("coder").desired == 2
        assert [e.decision.agent for e in a.list_scaling_events("coder")] == ["team-a/coder"]
        eventually(lambda: len(a.get_agent("coder").replicas) == 3)
        eventually(lambda: len(default.get_agent("coder").replicas) == 2)

        # Load history is the agent's, by its key.
        now = time.time()
        LoadHistoryStore(server.control_plane.store).append(
            [LoadSample("team-a/coder", now - 60, RAW, arrivals=7.0)]
        )
        mine = a.get_load_history("coder", RAW, now - 120, now)
        assert [(x.agent, x.arrivals) for x in mine] == [("team-a/coder", 7.0)]
        assert all(
            x.agent == "coder" for x in default.get_load_history("coder", RAW, now - 120, now)
        )
        assert all(
            x.arrivals != 7.0 for x in default.get_load_history("coder", RAW, now - 120, now)
        )


def test_agents_stored_before_namespaces_are_the_default_namespaces(
    tmp_path: Path, backend: FakeBackend
) -> None:
    # A data directory written before namespaces: the agent's row is keyed by its bare name.
    store = SqliteStore(tmp_path / "orchestrator.db")
    store.put_agent(AgentRecord(AgentSpec("coder", "v3", "m:Old", replicas=2), 1.0, 1.0))
    store.close()
    backend.behaviours["coder"] = answers("the old coder")
    server = ServerThread(tmp_path, "unused", backend=backend)
    try:
        with client_of(server) as default, client_of(server, "team-a") as a:
            old = default.get_agent("coder")
            assert (old.record.spec.version, len(old.replicas)) == ("v3", 2)
            assert [v.record.spec.name for v in default.list_agents()] == ["coder"]
            assert a.list_agents() == []
            assert refused(lambda: a.get_agent("coder")).code_name == "NOT_FOUND"
            default.create_workflow(PIPELINE)
            done = default.start_execution("pipeline").result(timeout=30)
            assert done.outputs == {"built_by": "the old coder"}
    finally:
        server.stop()


def test_replica_names_of_agents_of_two_namespaces_never_collide() -> None:
    # Agent `team-a` of the default namespace, and agent `coder` of namespace `team-a`.
    theirs = replica_name("team-a/coder", "v1", "abc", 0)
    assert parse_replica_name("team-a", theirs) is None
    assert parse_replica_name("team-a/coder", theirs) == ("v1", "abc", 0)
    assert parse_replica_name("team-a", replica_name("team-a", "v1", "abc", 0)) == (
        "v1",
        "abc",
        0,
    )


def test_which_keys_belong_to_a_namespace(tmp_path: Path) -> None:
    assert in_namespace("coder", "default") and not in_namespace("coder", "team-a")
    assert in_namespace("team-a/coder", "team-a") and not in_namespace("team-a/coder", "team")
    assert in_namespace("team-a/coder", "*") and in_namespace("coder", "*")
    store = SqliteStore(tmp_path / "orchestrator.db")
    try:
        for key in ("coder", "team/x", "team-a/coder", "team-a0", "team-ab/y", "team-a/z"):
            store.put_agent(AgentRecord(AgentSpec(key, "v1", "m:C"), 1.0, 1.0))
        listed = {
            ns: [r.spec.name for r in store.list_agents(namespace=ns)]
            for ns in ("default", "team-a", "team")
        }
        assert listed == {
            "default": ["coder", "team-a0"],
            "team-a": ["team-a/coder", "team-a/z"],
            "team": ["team/x"],
        }
        assert key_condition("name", "*") == ("1", ())
    finally:
        store.close()


def test_the_async_client_names_agents_in_its_namespace(server: ServerThread) -> None:
    async def main() -> None:
        async with AsyncOrchestratorClient(server.address, namespace="team-a") as a:
            await a.deploy_agent(AgentSpec("coder", "v1", "m:A"))
            await a.set_scaling_policy(ScalingPolicy(agent="coder", max_replicas=3))
            assert (await a.get_agent("coder")).record.spec.name == "team-a/coder"
            assert (await a.get_scaling_policy("coder")).policy.agent == "team-a/coder"
            assert [v.record.spec.name for v in await a.list_agents("*")] == ["team-a/coder"]
        async with AsyncOrchestratorClient(server.address) as default:
            assert await default.list_agents() == []
            with pytest.raises(ClientError) as missing:
                await default.get_scaling_policy("coder")
            assert missing.value.code_name == "NOT_FOUND"

    asyncio.run(main())


def test_validation_knows_the_agents_of_the_workflows_namespace(server: ServerThread) -> None:
    with client_of(server, "team-a") as a, client_of(server, "team-b") as b:
        a.deploy_agent(AgentSpec("coder", "v1", "m:A"))
        in_a = a.validate_workflow(PIPELINE)
        in_b = b.validate_workflow(PIPELINE)
    assert not [p for p in in_a.problems if "unknown agent" in p.message]
    assert [p.path for p in in_b.problems if "unknown agent" in p.message] == ["tasks[0].agent"]
