"""Authentication and roles on a real server: keys, revocation, namespace roles, policies,
and the permission table walked RPC by RPC (refused one role below, allowed at it)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.api.client import ClientError, Credentials, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from controlplane.api.interceptors.mutations import kind_of
from controlplane.api.permissions import PERMISSIONS
from controlplane.api.server import SERVICE_NAMES
from controlplane.engine.security.bootstrap import create_first_admin_key
from models.agents import AgentSpec
from models.audit import AuditFilter
from models.errors import FailedPrecondition
from models.security import AccessPolicy, Role, RoleBinding, Scope
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

README = Path(__file__).resolve().parents[2] / "README.md"
WORKFLOW = "name: echo\ntasks:\n  - {id: say, agent: work, input: hi}\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str]]:
    data_dir = tmp_path_factory.mktemp("auth")
    _, admin_token = create_first_admin_key(data_dir / "orchestrator.db")
    server = ServerThread(
        data_dir,
        "unused",
        backend=FakeBackend(),
        overrides={"auth.enabled": True, "grpc.shutdown_grace_s": 0.1},
    )
    try:
        yield server, admin_token
    finally:
        server.stop()


def _client(
    server: ServerThread, token: str | None, namespace: str = "default"
) -> OrchestratorClient:
    credentials = Credentials(api_key=token)
    return OrchestratorClient(
        server.address, retry=None, credentials=credentials, namespace=namespace
    )


_TOKENS: dict[tuple[int, str], str] = {}


def _key(served: tuple[ServerThread, str], name: str, role: Role, namespace: str) -> str:
    """A working key of that name (made once per server: scrypt is slow on purpose)."""
    server, admin = served
    cached = _TOKENS.get((id(server), name))
    if cached is not None:
        return cached
    with _client(server, admin) as client:
        for key in client.list_api_keys():
            if key.name == name:
                client.revoke_api_key(key.key_id)
        token = client.create_api_key(name, role, namespace)[1]
    if name != "short-lived":
        _TOKENS[(id(server), name)] = token
    return token


def test_a_call_without_a_valid_key_is_unauthenticated_but_health_stays_open(
    served: tuple[ServerThread, str],
) -> None:
    server, admin = served
    for token in (None, "ork_0000000000000000_" + "x" * 43, "not a key"):
        with _client(server, token) as client, pytest.raises(ClientError) as refused:
            client.list_agents()
        assert refused.value.code_name == "UNAUTHENTICATED"
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    with _client(server, admin) as client:
        caller, enabled = client.who_am_i()
    assert enabled and caller.identity == "key:admin"
    assert caller.bindings == (RoleBinding("*", Role.ADMIN),)


def test_a_revoked_key_stops_working_at_once(served: tuple[ServerThread, str]) -> None:
    server, admin = served
    token = _key(served, "short-lived", Role.VIEWER, "default")
    with _client(server, token) as client:
        assert client.list_agents() == []
        with _client(server, admin) as admin_client:
            revoked = admin_client.revoke_api_key("short-lived")
        assert revoked.revoke_time is not None
        with pytest.raises(ClientError) as refused:
            client.list_agents()
        assert refused.value.code_name == "UNAUTHENTICATED"
    with _client(server, admin) as client:
        listed = client.list_api_keys(include_revoked=True)
    assert any(k.name == "short-lived" and k.revoke_time for k in listed)
    assert not any(k.name == "short-lived" for k in client_keys(server, admin))


def client_keys(server: ServerThread, admin: str) -> list[Any]:
    with _client(server, admin) as client:
        return client.list_api_keys()


def test_roles_hold_in_their_namespace_only(served: tuple[ServerThread, str]) -> None:
    server, admin = served
    for namespace in ("team-a", "team-b"):
        with _client(server, admin, namespace) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:Work"))
            client.create_workflow(WORKFLOW)
    operator = _key(served, "team-a-operator", Role.OPERATOR, "team-a")
    with _client(server, operator, "team-a") as client:
        started = client.start_execution("echo")
        assert started.execution.namespace == "team-a"
        with pytest.raises(ClientError) as refused:
            client.start_execution("echo", namespace="team-b")
        assert refused.value.code_name == "PERMISSION_DENIED"
        assert "operator role in namespace 'team-b'" in refused.value.message
        with pytest.raises(ClientError) as refused:
            client.create_workflow(WORKFLOW)
        assert refused.value.code_name == "PERMISSION_DENIED"
        with pytest.raises(ClientError) as refused:
            client.list_executions(namespace="*")
        assert refused.value.code_name == "PERMISSION_DENIED"
        assert client.list_namespaces() == ["team-a"]


def test_a_namespace_policy_limits_what_its_developers_deploy(
    served: tuple[ServerThread, str],
) -> None:
    server, admin = served
    with _client(server, admin) as client:
        client.set_namespace_policy(
            AccessPolicy(
                "default",
                allowed_import_prefixes=("team_a",),
                allowed_endpoint_hosts=("*.team-a.example.com",),
                deny_package_installs=True,
            )
        )
        try:
            client.deploy_agent(AgentSpec("ok", "v1", "team_a.agents:Ok"))
            for spec, field in (
                (AgentSpec("bad", "v1", "team_ab.agents:Bad"), "agent.import_path"),
                (AgentSpec("bad", "v1", "os:system"), "agent.import_path"),
                (
                    AgentSpec("bad", "v1", endpoint="https://evil.example.com/x"),
                    "agent.endpoint",
                ),
                (
                    AgentSpec("bad", "v1", "team_a.x:Y", runtime_env={"pip": ["evil"]}),
                    "agent.runtime_env.pip",
                ),
            ):
                with pytest.raises(ClientError) as refused:
                    client.deploy_agent(spec)
                assert refused.value.code_name == "PERMISSION_DENIED"
                assert refused.value.violations[0][0] == field
            client.deploy_agent(AgentSpec("ext", "v1", endpoint="https://a.team-a.example.com/"))
        finally:
            client.set_namespace_policy(AccessPolicy("default"))


# -- the permission table, walked -------------------------------------------------------------


def _readme_table() -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"^\| `(\w+Service/\w+)` \| (\w+|-) \| ([\w ]+) \| (yes|no) \|$", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3), match.group(4))
    return rows


def test_the_readme_table_is_the_permission_table() -> None:
    expected = {
        rpc: (
            p.role.label if p.role else "-",
            p.scope.value,
            "yes" if kind_of(rpc).mutating else "no",
        )
        for rpc, p in PERMISSIONS.items()
    }
    assert _readme_table() == expected


def test_every_rpc_of_every_service_has_a_permission() -> None:
    served_rpcs = set()
    for full_name in SERVICE_NAMES:
        short = full_name.rpartition(".")[2]
        module = importlib.import_module(
            "controlplane.api.gen.orchestrator.v1."
            + {
                "AgentService": "agent_pb2",
                "WorkflowService": "workflow_pb2",
                "ResourceService": "resource_pb2",
                "SchedulerService": "scheduler_pb2",
                "ScalingService": "scaling_pb2",
                "ScheduleService": "schedule_pb2",
                "AuthService": "auth_pb2",
                "AdminService": "admin_pb2",
            }[short]
        )
        for method in module.DESCRIPTOR.services_by_name[short].methods:
            served_rpcs.add(f"{short}/{method.name}")
    assert served_rpcs == set(PERMISSIONS)


_BELOW = {Role.OPERATOR: Role.VIEWER, Role.DEVELOPER: Role.OPERATOR, Role.ADMIN: Role.DEVELOPER}


def _code(server: ServerThread, token: str, rpc: str) -> grpc.StatusCode:
    """What calling `rpc` with an empty request answers (OK counts as allowed)."""
    service, method = rpc.split("/")
    path = f"/orchestrator.v1.{service}/{method}"
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(server.address) as channel:
        try:
            if rpc == "AgentService/UploadPackage":
                call = channel.stream_unary(
                    path, request_serializer=lambda m: m.SerializeToString()
                )
                call(iter([agent_pb2.UploadPackageRequest()]), metadata=metadata, timeout=5)
            elif method.startswith(("Watch", "Read")):
                stream = channel.unary_stream(path, request_serializer=lambda b: b)
                next(iter(stream(b"", metadata=metadata, timeout=1)), None)
            else:
                channel.unary_unary(path, request_serializer=lambda b: b)(
                    b"", metadata=metadata, timeout=5
                )
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("rpc", sorted(PERMISSIONS))
def test_each_rpc_is_refused_below_its_role_and_allowed_at_it(
    served: tuple[ServerThread, str], rpc: str
) -> None:
    server, _ = served
    permission = PERMISSIONS[rpc]
    if permission.role is None:
        token = _key(served, "nobody-here", Role.VIEWER, "elsewhere")
        assert _code(server, token, rpc) not in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
        )
        return
    # Keys on every namespace hold in the request's namespace ("default" when empty).
    at = _key(served, f"at-{permission.role.label}", permission.role, "*")
    assert _code(server, at, rpc) not in (
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    )
    below_role = _BELOW.get(permission.role)
    if below_role is not None:
        below = _key(served, f"at-{below_role.label}", below_role, "*")
        assert _code(server, below, rpc) is grpc.StatusCode.PERMISSION_DENIED
    if permission.scope in (Scope.NAMESPACE, Scope.CLUSTER):
        # The role itself, but in another namespace only.
        elsewhere = _key(served, f"elsewhere-{permission.role.label}", permission.role, "other")
        assert _code(server, elsewhere, rpc) is grpc.StatusCode.PERMISSION_DENIED


def test_auth_init_refuses_a_data_dir_that_has_keys(served: tuple[ServerThread, str]) -> None:
    server, _ = served
    with pytest.raises(FailedPrecondition, match="already has API keys"):
        create_first_admin_key(server.control_plane.config.store.database_path)


def test_the_audit_names_the_caller_of_an_accepted_and_a_refused_call(
    served: tuple[ServerThread, str],
) -> None:
    server, admin = served
    operator = _key(served, "auditee", Role.OPERATOR, "default")
    with _client(server, operator) as client, pytest.raises(ClientError):
        client.create_workflow("name: nope\ntasks: [{id: a, agent: work}]\n")
    with _client(server, None) as client, pytest.raises(ClientError):
        client.create_workflow("name: nope\ntasks: [{id: a, agent: work}]\n")
    with _client(server, admin) as client:
        mine = client.list_audit_events(AuditFilter(caller="key:auditee"))
        anonymous = client.list_audit_events(AuditFilter(rpc="CreateWorkflow"))[0]
        with _client(server, operator) as denied, pytest.raises(ClientError) as refused:
            denied.list_audit_events()
    assert [(e.rpc, e.code) for e in mine] == [
        ("WorkflowService/CreateWorkflow", "PERMISSION_DENIED")
    ]
    assert anonymous.code == "UNAUTHENTICATED" and anonymous.caller.startswith("ipv4:")
    assert refused.value.code_name == "PERMISSION_DENIED"


def test_the_cluster_state_shows_a_caller_only_its_namespaces(
    served: tuple[ServerThread, str],
) -> None:
    server, admin = served
    gate = Gate()
    backend: Any = server.control_plane.backend
    backend.behaviours["held"] = gate
    try:
        with _client(server, admin, "team-c") as client:
            client.deploy_agent(AgentSpec("held", "v1", "m:Held"))
            client.create_workflow("name: wait\ntasks: [{id: a, agent: held}]\n")
            running = client.start_execution("wait")
            every = {n.namespace for n in client.cluster_state().namespaces}
        viewer = _key(served, "team-a-viewer", Role.VIEWER, "team-a")
        with _client(server, viewer) as client:
            seen = {n.namespace for n in client.cluster_state().namespaces}
        assert "team-c" in every
        assert seen <= {"team-a"}
    finally:
        gate.open.set()
    with _client(server, admin, "team-c") as client:
        assert client.get_execution(running.execution_id) is not None


def test_a_closed_client_with_a_key_refuses_calls_instead_of_crashing(
    served: tuple[ServerThread, str],
) -> None:
    server, admin = served
    client = _client(server, admin)
    assert client.list_agents() is not None
    client.close()
    with pytest.raises(ValueError, match="closed channel"):
        client.list_agents()
