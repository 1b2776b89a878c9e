"""The audit log through a real gRPC server (in-process backend): every mutating RPC of the
table leaves one record (caller, namespace, RPC, resource, the code the client got) that is
in the store when the answer arrives; reads leave none; secrets and large inputs never reach
the log; ListAuditEvents filters and pages."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from controlplane.api.client import ClientError, OrchestratorClient, admin_calls
from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    resource_pb2,
    scaling_pb2,
    schedule_pb2,
    scheduler_pb2,
    workflow_pb2,
)
from controlplane.api.interceptors.mutations import RPCS
from models.agents import AgentSpec, EndpointOptions
from models.audit import AuditFilter
from models.security import AuditEvent
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend
from tests.unit.test_audit_table import every_method

WORKFLOW = "name: wf\ntasks: [{id: a, agent: coder}]\n"

# The request each mutating RPC is called with, and the resource and namespace its record
# names. An RPC without a sample is called with its empty request.
SAMPLES: dict[str, tuple[Message, str, str]] = {
    "AgentService/DeployAgent": (
        agent_pb2.DeployAgentRequest(
            agent=agent_pb2.AgentSpec(name="coder", version="v1", import_path="m:Coder")
        ),
        "coder",
        "",
    ),
    "AgentService/DeleteAgent": (agent_pb2.DeleteAgentRequest(name="ghost"), "ghost", ""),
    "AgentService/ScaleAgent": (agent_pb2.ScaleAgentRequest(name="coder", replicas=2), "coder", ""),
    "AgentService/RollbackAgent": (agent_pb2.RollbackAgentRequest(name="coder"), "coder", ""),
    "WorkflowService/CreateWorkflow": (
        workflow_pb2.CreateWorkflowRequest(definition=WORKFLOW),
        "wf",
        "",
    ),
    "WorkflowService/StartExecution": (
        workflow_pb2.StartExecutionRequest(workflow="wf"),
        "wf",
        "",
    ),
    "WorkflowService/CancelExecution": (
        workflow_pb2.CancelExecutionRequest(execution_id="nope"),
        "nope",
        "",
    ),
    "ResourceService/CreatePool": (
        resource_pb2.CreatePoolRequest(pool=resource_pb2.PoolSpec(name="Not A Name")),
        "Not A Name",
        "",
    ),
    "ResourceService/DeletePool": (resource_pb2.DeletePoolRequest(name="gpu"), "gpu", ""),
    "ResourceService/SetQuota": (
        resource_pb2.SetQuotaRequest(
            quota=resource_pb2.Quota(namespace="team-b", max_concurrent_executions=3)
        ),
        "team-b",
        "team-b",
    ),
    "ResourceService/Reserve": (
        resource_pb2.ReserveRequest(namespace="team-c", pool="gpu"),
        "gpu",
        "team-c",
    ),
    "SchedulerService/Plan": (
        scheduler_pb2.PlanRequest(namespace="team-d", adopt=True),
        "team-d",
        "team-d",
    ),
    "ScalingService/SetScalingPolicy": (
        scaling_pb2.SetScalingPolicyRequest(policy=scaling_pb2.ScalingPolicy(agent="coder")),
        "coder",
        "",
    ),
    "ScheduleService/CreateSchedule": (
        schedule_pb2.CreateScheduleRequest(
            schedule=schedule_pb2.Schedule(
                name="nightly", workflow="wf", cron="@daily", namespace="team-e"
            ),
            namespace="team-e",
        ),
        "nightly",
        "team-e",
    ),
    "ScheduleService/DeleteSchedule": (
        schedule_pb2.DeleteScheduleRequest(name="nightly"),
        "nightly",
        "",
    ),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=FakeBackend(), overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20, retry=None) as c:
        yield c


def call(channel: grpc.Channel, method: MethodDescriptor, request: Message) -> str:
    """Calls `method` and returns the status code name it answered with."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    response = message_factory.GetMessageClass(method.output_type)
    try:
        if method.client_streaming:
            upload = channel.stream_unary(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response.FromString,
            )
            upload(iter([request]), timeout=20)
        else:
            unary = channel.unary_unary(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response.FromString,
            )
            unary(request, timeout=20)
    except grpc.RpcError as exc:
        return str(exc.code().name)
    return "OK"


def events_after(client: OrchestratorClient, sequence: int) -> list[AuditEvent]:
    return [e for e in client.list_audit_events() if e.sequence > sequence]


def last_sequence(client: OrchestratorClient) -> int:
    newest = client.list_audit_events(limit=1)
    return newest[0].sequence if newest else 0


def test_each_mutating_rpc_leaves_one_record_with_the_code_it_answered(
    server: ServerThread, client: OrchestratorClient
) -> None:
    codes: dict[str, str] = {}
    with grpc.insecure_channel(server.address) as channel:
        for rpc, method in every_method().items():
            if not RPCS[rpc].mutating:
                continue
            request_class = message_factory.GetMessageClass(method.input_type)
            request, resource, namespace = SAMPLES.get(rpc, (request_class(), "", None))
            before = last_sequence(client)
            code = call(channel, method, request)
            codes[rpc] = code
            new = events_after(client, before)
            assert len(new) == 1, (rpc, new)
            event = new[0]
            assert (event.rpc, event.code) == (rpc, code)
            assert event.caller.startswith("ipv4:127.0.0.1:"), event.caller
            if rpc in SAMPLES:
                if not namespace and "namespace" in type(request).DESCRIPTOR.fields_by_name:
                    namespace = "default"  # a namespaced request that names none
                assert (event.resource, event.namespace) == (resource, namespace), rpc
            assert event.request_summary.startswith("{")
    # Accepted and refused calls alike.
    assert codes["AgentService/DeployAgent"] == "OK"
    assert codes["WorkflowService/StartExecution"] == "OK"
    assert codes["WorkflowService/CancelExecution"] == "NOT_FOUND"
    assert codes["ResourceService/CreatePool"] == "INVALID_ARGUMENT"


def test_reads_leave_no_record(server: ServerThread, client: OrchestratorClient) -> None:
    with grpc.insecure_channel(server.address) as channel:
        call(
            channel,
            every_method()["AgentService/DeployAgent"],
            SAMPLES["AgentService/DeployAgent"][0],
        )
        before = last_sequence(client)
        for rpc, method in every_method().items():
            if RPCS[rpc].mutating or method.server_streaming:
                continue
            call(channel, method, message_factory.GetMessageClass(method.input_type)())
        plan = scheduler_pb2.PlanRequest(namespace="team-d")  # without adopt: a read
        call(channel, every_method()["SchedulerService/Plan"], plan)
    assert events_after(client, before) == []


def test_the_record_is_in_the_store_when_the_answer_arrives(
    server: ServerThread, client: OrchestratorClient
) -> None:
    database = server.control_plane.config.store.database_path

    def committed(resource: str) -> list[tuple[str, str]]:
        with sqlite3.connect(database) as reader:  # another connection: only what is committed
            return reader.execute(
                "SELECT rpc, code FROM audit_events WHERE resource = ?", (resource,)
            ).fetchall()

    for name in ("a", "b", "c"):
        client.deploy_agent(AgentSpec(f"agent-{name}", "v1", "m:Agent"))
        assert committed(f"agent-{name}") == [("AgentService/DeployAgent", "OK")]
        with pytest.raises(ClientError):
            client.delete_agent(f"ghost-{name}")
        assert committed(f"ghost-{name}") == [("AgentService/DeleteAgent", "NOT_FOUND")]


def test_secrets_are_redacted_and_large_inputs_cut(client: OrchestratorClient) -> None:
    client.deploy_agent(
        AgentSpec(
            "coder",
            "v1",
            "m:Coder",
            runtime_env={"env_vars": {"OPENAI_API_KEY": "sk-secret-1"}},
            config={"api_key": "sk-secret-2", "model": "m"},
        )
    )
    client.deploy_agent(
        AgentSpec(
            "remote",
            "v1",
            endpoint="http://agent.internal:8080/run",
            endpoint_options=EndpointOptions(headers={"Authorization": "Bearer sk-secret-3"}),
        )
    )
    client.create_workflow(
        "name: wf\ninputs: {blob: {type: string}, password: {type: string}}\n"
        "tasks: [{id: a, agent: coder}]\n"
    )
    client.start_execution("wf", {"blob": "y" * 50_000, "password": "sk-secret-4"})
    events = client.list_audit_events(AuditFilter(rpc="DeployAgent"))
    events += client.list_audit_events(AuditFilter(rpc="StartExecution"))
    assert len(events) == 3
    for event in events:
        assert event.code == "OK"
        assert "sk-secret" not in event.request_summary
        assert len(event.request_summary.encode()) <= 4096
    start = next(e for e in events if e.rpc.endswith("StartExecution"))
    assert "... (50000 characters)" in start.request_summary


def test_an_invalid_request_is_recorded_with_its_code(client: OrchestratorClient) -> None:
    with pytest.raises(ClientError) as refused:
        client.create_workflow("name: broken\ntasks: [{id: a}]\n")
    assert refused.value.code_name == "INVALID_ARGUMENT"
    (event,) = client.list_audit_events(AuditFilter(rpc="WorkflowService/CreateWorkflow"))
    assert (event.resource, event.code) == ("broken", "INVALID_ARGUMENT")


def test_list_filters_and_pages_newest_first(
    server: ServerThread, client: OrchestratorClient
) -> None:
    client.deploy_agent(_spec("coder"))
    client.create_workflow(WORKFLOW)
    for namespace in ("team-a", "team-b", "team-a"):
        # Refused (the workflow is default's): recorded all the same.
        with pytest.raises(ClientError):
            client.start_execution("wf", namespace=namespace)
    everything = client.list_audit_events()
    assert [e.rpc.rpartition("/")[2] for e in everything] == [
        "StartExecution",
        "StartExecution",
        "StartExecution",
        "CreateWorkflow",
        "DeployAgent",
    ]
    assert [e.sequence for e in everything] == sorted(
        (e.sequence for e in everything), reverse=True
    )
    team_a = client.list_audit_events(AuditFilter(namespace="team-a"))
    assert [e.sequence for e in team_a] == [everything[0].sequence, everything[2].sequence]
    assert client.list_audit_events(AuditFilter(rpc="AgentService/DeployAgent")) == [everything[4]]
    assert client.list_audit_events(AuditFilter(caller="someone-else")) == []
    caller = everything[0].caller
    assert client.list_audit_events(AuditFilter(caller=caller)) == everything
    middle = everything[2].time
    assert client.list_audit_events(AuditFilter(start_time=middle)) == everything[:3]
    assert client.list_audit_events(AuditFilter(end_time=middle)) == everything[3:]
    with OrchestratorClient(server.address, page_size=2) as paging:
        assert list(paging.iter_audit_events()) == everything
        assert paging.list_audit_events(limit=3) == everything[:3]


def test_a_page_token_of_another_query_and_a_reversed_range_are_refused(
    client: OrchestratorClient,
) -> None:
    for _ in range(3):
        with pytest.raises(ClientError):
            client.delete_agent("ghost")
    first = client._run(admin_calls.list_audit_events(AuditFilter(), 2)(""))
    assert first.next_page_token
    other = admin_calls.list_audit_events(AuditFilter(rpc="DeleteAgent"), 2)
    with pytest.raises(ClientError) as refused:
        client._run(other(first.next_page_token))
    assert refused.value.code_name == "INVALID_ARGUMENT"
    with pytest.raises(ClientError) as reversed_range:
        client.list_audit_events(AuditFilter(start_time=2.0, end_time=1.0))
    assert reversed_range.value.code_name == "INVALID_ARGUMENT"


def _spec(name: str) -> AgentSpec:
    return AgentSpec(name, "v1", "m:Agent")
