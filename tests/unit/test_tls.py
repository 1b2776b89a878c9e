"""TLS and mutual TLS on a real server with certificates the test makes: a client that trusts
the CA talks, one that does not cannot; with a client CA, the certificate's subject is the
caller and holds the roles granted to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from controlplane.api.client import ClientError, Credentials, OrchestratorClient
from controlplane.engine.security.bootstrap import create_first_admin_key
from models.security import CallerKind, Role, RoleBinding
from tests.support.certificates import CertificateAuthority
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


def _serve(data_dir: Path, authority: CertificateAuthority, mutual: bool) -> ServerThread:
    server = authority.issue("server", "localhost", server=True)
    overrides: dict[str, object] = {
        "tls.cert": str(server.cert),
        "tls.key": str(server.key),
        "auth.enabled": True,
        "grpc.shutdown_grace_s": 0.1,
    }
    if mutual:
        overrides["tls.client_ca"] = str(authority.cert)
    return ServerThread(data_dir, "unused", backend=FakeBackend(), overrides=overrides)


@pytest.fixture
def tls_server(
    tmp_path: Path, authority: CertificateAuthority
) -> Iterator[tuple[ServerThread, str]]:
    _, admin = create_first_admin_key(tmp_path / "orchestrator.db")
    server = _serve(tmp_path, authority, mutual=False)
    try:
        yield server, admin
    finally:
        server.stop()


def _address(server: ServerThread) -> str:
    return f"localhost:{server.control_plane.port}"


def test_a_client_that_trusts_the_ca_talks_over_tls(
    tls_server: tuple[ServerThread, str], authority: CertificateAuthority
) -> None:
    server, admin = tls_server
    trusted = Credentials(api_key=admin, tls_ca=authority.cert)
    with OrchestratorClient(_address(server), retry=None, credentials=trusted) as client:
        caller, enabled = client.who_am_i()
    assert caller.identity == "key:admin" and enabled


def test_plaintext_and_untrusting_clients_cannot_talk(
    tls_server: tuple[ServerThread, str], tmp_path: Path
) -> None:
    server, admin = tls_server
    (tmp_path / "other").mkdir()
    stranger = CertificateAuthority(tmp_path / "other", "other-ca")
    for credentials in (
        Credentials(api_key=admin),
        Credentials(api_key=admin, tls_ca=stranger.cert),
    ):
        with (
            OrchestratorClient(
                _address(server), timeout_s=5, retry=None, credentials=credentials
            ) as client,
            pytest.raises(ClientError) as refused,
        ):
            client.who_am_i()
        assert refused.value.code_name == "UNAVAILABLE"


def test_mutual_tls_names_the_caller_by_its_certificate(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    _, admin = create_first_admin_key(tmp_path / "orchestrator.db")
    server = _serve(tmp_path, authority, mutual=True)
    try:
        ci = authority.issue("ci", "ci-bot", organization="team-a")
        as_ci = Credentials(tls_ca=authority.cert, tls_cert=ci.cert, tls_key=ci.key)
        with OrchestratorClient(_address(server), retry=None, credentials=as_ci) as client:
            caller, _ = client.who_am_i()
            assert caller.kind is CallerKind.CERTIFICATE
            assert caller.identity == "O=team-a,CN=ci-bot" and caller.bindings == ()
            with pytest.raises(ClientError) as refused:
                client.list_agents()
            assert refused.value.code_name == "PERMISSION_DENIED"
            as_admin = Credentials(
                api_key=admin, tls_ca=authority.cert, tls_cert=ci.cert, tls_key=ci.key
            )
            with OrchestratorClient(
                _address(server), retry=None, credentials=as_admin
            ) as admin_client:
                admin_client.grant_role(caller.identity, RoleBinding("default", Role.VIEWER))
            assert client.list_agents() == []
        without_certificate = Credentials(api_key=admin, tls_ca=authority.cert)
        with (
            OrchestratorClient(
                _address(server), timeout_s=5, retry=None, credentials=without_certificate
            ) as client,
            pytest.raises(ClientError) as refused,
        ):
            client.who_am_i()
        assert refused.value.code_name == "UNAVAILABLE"
    finally:
        server.stop()


@pytest.mark.parametrize("open_reflection", [True, False])
def test_reflection_is_open_unless_configured_closed(tmp_path: Path, open_reflection: bool) -> None:
    _, admin = create_first_admin_key(tmp_path / "orchestrator.db")
    server = ServerThread(
        tmp_path,
        "unused",
        backend=FakeBackend(),
        overrides={"auth.enabled": True, "auth.reflection": open_reflection},
    )

    def list_services(metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode | list[str]:
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with grpc.insecure_channel(server.address) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            try:
                answer = next(stub.ServerReflectionInfo(iter([request]), metadata=metadata))
            except grpc.RpcError as exc:
                return exc.code()
        return [s.name for s in answer.list_services_response.service]

    try:
        anonymous = list_services(())
        with_key = list_services((("authorization", f"Bearer {admin}"),))
    finally:
        server.stop()
    assert isinstance(with_key, list) and "orchestrator.v1.AuthService" in with_key
    if open_reflection:
        assert anonymous == with_key
    else:
        assert anonymous is grpc.StatusCode.UNAUTHENTICATED
