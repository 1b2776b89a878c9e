"""Agents that cannot start, through a real server on real Ray: one short line with the root
cause first, as soon as Ray reports the replica dead; the whole traceback in GetAgent and
`orchestrator agents get`; resources no node has refused before anything is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
import ray
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc
from controlplane.cli.main import EXIT_REJECTED, main
from tests.support.server_thread import ServerThread

# Well under the readiness deadline (60 s): a worker process starts and its constructor raises.
FAST_S = 30.0
NEEDS_KEY = "tests.support.broken_agents:NeedsKey"


@pytest.fixture(scope="module")
def agents(channel: grpc.Channel) -> Iterator[agent_pb2_grpc.AgentServiceStub]:
    yield agent_pb2_grpc.AgentServiceStub(channel)


def deploy(
    stub: agent_pb2_grpc.AgentServiceStub, name: str, version: str = "v1", **fields: object
) -> agent_pb2.Agent:
    spec = agent_pb2.AgentSpec(name=name, version=version, replicas=1, **fields)
    return stub.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=120).agent


def refused(stub: agent_pb2_grpc.AgentServiceStub, name: str, **fields: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        deploy(stub, name, **fields)
    return failure.value


def violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    found: list[str] = []
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend(v.field for v in bad.field_violations)
    return found


def replica_actors(namespace: str, agent: str) -> list[str]:
    return [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == namespace and entry["name"].startswith(agent + "/")
    ]


def test_a_constructor_that_raises_fails_the_deploy_at_once_in_one_line(
    agents: agent_pb2_grpc.AgentServiceStub, server: ServerThread, ray_namespace: str
) -> None:
    started = time.monotonic()
    error = refused(agents, "keyless", import_path=NEEDS_KEY)
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
    message = error.details() or ""
    assert message.startswith(
        "agent 'keyless' failed to start: ValueError: api_key is required "
        "(in NeedsKey.__init__, broken_agents.py:"
    ), message
    assert "\n" not in message and "\x1b" not in message and len(message) < 400
    assert replica_actors(ray_namespace, "keyless") == []

    agent = agents.GetAgent(agent_pb2.GetAgentRequest(name="keyless"), timeout=10).agent
    assert agent.state == agent_pb2.AGENT_STATE_FAILED and not agent.replicas
    failure = agent.start_failure
    assert message.endswith(failure.summary) and failure.version == "v1"
    assert 'broken_agents.py", line' in failure.detail and "in __init__" in failure.detail
    assert 'raise ValueError("api_key is required")' in failure.detail
    assert "\x1b" not in failure.detail and len(failure.detail) <= 16 * 1024

    listed = agents.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    entry = next(a for a in listed if a.spec.name == "keyless")
    assert entry.start_failure.summary == failure.summary and entry.start_failure.detail == ""


def test_a_process_that_dies_while_starting_fails_the_deploy_at_once(
    agents: agent_pb2_grpc.AgentServiceStub, ray_namespace: str
) -> None:
    started = time.monotonic()
    error = refused(agents, "dier", import_path="tests.support.broken_agents:DiesAtStart")
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
    assert (error.details() or "").startswith(
        "agent 'dier' failed to start: its process died while the agent was being built"
    )
    assert replica_actors(ray_namespace, "dier") == []


def test_cli_shows_the_line_then_the_traceback(
    server: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--address", server.address, "--timeout", "120", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = cli(
        "agents", "deploy", "--name", "cli-keyless", "--version", "v1",
        "--import-path", NEEDS_KEY,
    )  # fmt: skip
    assert code == EXIT_REJECTED and err.count("\n") == 1, err
    assert err.startswith(
        "error: FAILED_PRECONDITION: agent 'cli-keyless' failed to start: ValueError: "
        "api_key is required (in NeedsKey.__init__"
    ), err
    code, out, _ = cli("agents", "get", "cli-keyless")
    assert code == 0 and "FAILED" in out and "start failure (version v1" in out
    assert 'broken_agents.py", line' in out and "ValueError: api_key is required" in out
    assert "START FAILURE" in cli("agents", "list")[1]
    assert cli("agents", "delete", "cli-keyless")[0] == 0
    assert cli("agents", "get", "cli-keyless")[0] == EXIT_REJECTED


def test_a_failed_version_leaves_the_previous_one_serving(
    agents: agent_pb2_grpc.AgentServiceStub,
) -> None:
    deploy(agents, "keyed", import_path=NEEDS_KEY, config=_config("k1"))
    error = refused(agents, "keyed", version="v2", import_path=NEEDS_KEY)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    agent = agents.GetAgent(agent_pb2.GetAgentRequest(name="keyed"), timeout=10).agent
    assert agent.spec.version == "v1" and agent.state == agent_pb2.AGENT_STATE_READY
    assert agent.start_failure.version == "v2"
    assert agent.start_failure.summary.startswith("ValueError: api_key is required")

    fixed = deploy(agents, "keyed", version="v2", import_path=NEEDS_KEY, config=_config("k2"))
    assert fixed.spec.version == "v2" and not fixed.HasField("start_failure")
    agents.DeleteAgent(agent_pb2.DeleteAgentRequest(name="keyed"), timeout=120)


def test_an_import_path_that_does_not_import_names_the_field(
    agents: agent_pb2_grpc.AgentServiceStub,
) -> None:
    started = time.monotonic()
    error = refused(agents, "ghost", import_path="tests.support.no_such_module:Nope")
    assert time.monotonic() - started < FAST_S
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (error.details() or "") == (
        "agent 'ghost' failed to start: agent.import_path: ModuleNotFoundError: "
        "No module named 'tests.support.no_such_module'"
    )
    assert violations(error) == ["agent.import_path"]


@pytest.mark.parametrize(
    ("resources", "field", "why"),
    [
        (
            agent_pb2.ReplicaResources(num_cpus=1e6),
            "agent.resources.num_cpus",
            "1000000 exceeds the largest node (2 CPUs)",
        ),
        (
            agent_pb2.ReplicaResources(num_gpus=8),
            "agent.resources.num_gpus",
            "8 exceeds the largest node (no node has GPUs)",
        ),
        (
            agent_pb2.ReplicaResources(custom={"tpu": 1}),
            "agent.resources.custom[tpu]",
            "1 exceeds the largest node (no node has the resource 'tpu')",
        ),
    ],
)
def test_resources_no_node_has_are_refused_at_once(
    agents: agent_pb2_grpc.AgentServiceStub,
    ray_namespace: str,
    resources: agent_pb2.ReplicaResources,
    field: str,
    why: str,
) -> None:
    started = time.monotonic()
    error = refused(agents, "huge", import_path="samples.agents:EchoAgent", resources=resources)
    assert time.monotonic() - started < 5.0
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{field}: {why}" in (error.details() or "")
    assert violations(error) == [field]
    with pytest.raises(grpc.RpcError) as missing:
        agents.GetAgent(agent_pb2.GetAgentRequest(name="huge"), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert replica_actors(ray_namespace, "huge") == []


def test_a_malformed_amount_is_invalid(agents: agent_pb2_grpc.AgentServiceStub) -> None:
    error = refused(
        agents,
        "nan",
        import_path="samples.agents:EchoAgent",
        resources=agent_pb2.ReplicaResources(num_cpus=float("nan")),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == ["agent.resources.num_cpus"]


def _config(api_key: str) -> struct_pb2.Struct:
    config = struct_pb2.Struct()
    config.update({"api_key": api_key})
    return config
