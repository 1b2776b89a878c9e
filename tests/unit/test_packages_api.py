"""UploadPackage and package references through a real gRPC server (in-process backend):
packages stored whole under their sha256 and answered again at once, every mismatch refused
naming the field with nothing left behind, and deploys that name code the replicas could not
load refused before anything is stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from controlplane.api.client import AsyncOrchestratorClient, ClientError, OrchestratorClient
from controlplane.api.client.package_upload import CHUNK_BYTES
from controlplane.api.client.packaging import build_package
from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc
from controlplane.cli.main import EXIT_REJECTED, EXIT_USAGE, main
from models.agents import AgentSpec
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def server(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path / "data", "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    yield server
    server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address) as client:
        yield client


@pytest.fixture
def stub(server: ServerThread) -> Iterator[agent_pb2_grpc.AgentServiceStub]:
    with grpc.insecure_channel(server.address) as channel:
        yield agent_pb2_grpc.AgentServiceStub(channel)


def code_dir(root: Path, text: str = "class Agent: ...\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "agent.py").write_text(text)
    return root


def a_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def packages_dir(server: ServerThread) -> Path:
    return server.control_plane.config.store.data_dir / "packages"


def raw_upload(
    stub: agent_pb2_grpc.AgentServiceStub, messages: list[agent_pb2.UploadPackageRequest]
) -> agent_pb2.UploadPackageResponse:
    response: agent_pb2.UploadPackageResponse = stub.UploadPackage(iter(messages), timeout=10)
    return response


def refused(stub: agent_pb2_grpc.AgentServiceStub, messages: list[object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        raw_upload(stub, messages)  # type: ignore[arg-type]
    return failure.value


def test_a_package_is_stored_under_its_sha256_and_answered_again_at_once(
    client: OrchestratorClient, server: ServerThread, stub: agent_pb2_grpc.AgentServiceStub,
    tmp_path: Path,
) -> None:  # fmt: skip
    source = code_dir(tmp_path / "code")
    (source / "blob.bin").write_bytes(os.urandom(3 * CHUNK_BYTES))  # several chunks
    package = build_package(source)
    stored = client.upload_package(source)
    assert stored.created and stored.sha256 == package.sha256
    assert stored.uri == f"package://sha256-{package.sha256}"
    assert stored.size_bytes == package.size_bytes
    kept = packages_dir(server) / f"sha256-{package.sha256}.zip"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == package.sha256

    again = client.upload_package(package.data)
    assert again.uri == stored.uri and not again.created
    # Held already: answered from the first message, whatever would have followed it.
    first = agent_pb2.UploadPackageRequest(sha256=package.sha256, size_bytes=package.size_bytes)
    garbage = agent_pb2.UploadPackageRequest(data=b"not the package")
    answer = raw_upload(stub, [first, garbage])
    assert answer.uri == stored.uri and not answer.created
    assert sorted(p.name for p in packages_dir(server).iterdir()) == [kept.name]


def test_the_async_client_uploads_too(server: ServerThread, tmp_path: Path) -> None:
    source = code_dir(tmp_path / "code", "A = 1\n")

    async def upload() -> tuple[str, bool, bool]:
        async with AsyncOrchestratorClient(server.address) as client:
            first = await client.upload_package(source)
            second = await client.upload_package(Path(source))
            return first.uri, first.created, second.created

    uri, created, created_again = asyncio.run(upload())
    assert uri == f"package://sha256-{build_package(source).sha256}"
    assert created and not created_again


def _declared(data: bytes, **changes: object) -> agent_pb2.UploadPackageRequest:
    fields: dict[str, object] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "data": data,
    }
    fields.update(changes)
    return agent_pb2.UploadPackageRequest(**fields)  # type: ignore[arg-type]


GOOD = a_zip({"agent.py": b"class Agent: ...\n"})


@pytest.mark.parametrize(
    ("messages", "field", "words"),
    [
        ([_declared(GOOD, sha256=hashlib.sha256(b"other").hexdigest())], "sha256", "the data's"),
        ([_declared(GOOD, size_bytes=len(GOOD) + 5)], "size_bytes", "the stream ended after"),
        (
            [_declared(GOOD), agent_pb2.UploadPackageRequest(data=b"more")],
            "size_bytes",
            "more data arrived",
        ),
        ([_declared(b"plain text, not a zip")], "data", "is not a zip file"),
        ([_declared(a_zip({"../escape.py": b"x"}))], "data", "'../escape.py' is not a relative"),
        ([_declared(a_zip({"/etc/cron.d/x": b"x"}))], "data", "is not a relative path"),
        ([_declared(GOOD, sha256="ABC")], "sha256", "64 lower-case hex digits"),
        ([_declared(GOOD, size_bytes=0)], "size_bytes", "more than 0"),
        ([_declared(GOOD, size_bytes=600 * 2**20)], "size_bytes", "over the limit"),
        ([], "sha256", "the stream was empty"),
    ],
)
def test_an_upload_that_is_not_what_it_declares_is_refused_and_nothing_stays(
    stub: agent_pb2_grpc.AgentServiceStub,
    server: ServerThread,
    messages: list[object],
    field: str,
    words: str,
) -> None:
    error = refused(stub, messages)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}: ") and words in (error.details() or "")
    held = packages_dir(server)
    assert not held.exists() or list(held.iterdir()) == []


def test_leftovers_of_a_cut_upload_are_removed_at_start(tmp_path: Path) -> None:
    held = tmp_path / "data" / "packages"
    held.mkdir(parents=True)
    (held / "sha256-abc.zip.0123.part").write_bytes(b"half")
    server = ServerThread(tmp_path / "data", "unused", backend=FakeBackend())
    try:
        assert list(held.iterdir()) == []
    finally:
        server.stop()


def test_a_deploy_naming_a_package_not_held_is_refused_naming_the_field(
    client: OrchestratorClient, backend: FakeBackend, tmp_path: Path
) -> None:
    stored = client.upload_package(code_dir(tmp_path / "code"))
    unknown = "package://sha256-" + "0" * 64
    spec = AgentSpec("coded", "v1", "agent:Agent", runtime_env={"working_dir": unknown})
    with pytest.raises(ClientError) as failure:
        client.deploy_agent(spec)
    assert failure.value.code_name == "FAILED_PRECONDITION"
    assert failure.value.violations == [
        (
            "agent.runtime_env.working_dir",
            f"no package {unknown} is held by this control plane: upload it first",
        )
    ]
    env = {"working_dir": stored.uri, "py_modules": [stored.uri, unknown]}
    with pytest.raises(ClientError) as failure:
        client.deploy_agent(AgentSpec("coded", "v1", "agent:Agent", runtime_env=env))
    assert [f for f, _ in failure.value.violations] == ["agent.runtime_env.py_modules[1]"]
    assert "coded" not in backend.specs

    env = {"working_dir": stored.uri, "py_modules": [stored.uri, "s3://bucket/lib.zip"]}
    view = client.deploy_agent(AgentSpec("coded", "v1", "agent:Agent", runtime_env=env))
    assert view.record.spec.runtime_env == env and backend.specs["coded"].runtime_env == env


@pytest.mark.parametrize(
    ("runtime_env", "field", "words"),
    [
        ({"working_dir": "/home/me/agents"}, "agent.runtime_env.working_dir", "--working-dir"),
        ({"working_dir": "."}, "agent.runtime_env.working_dir", "is a local path"),
        ({"py_modules": ["./mylib"]}, "agent.runtime_env.py_modules[0]", "--py-module"),
        ({"py_modules": "s3://b/x.zip"}, "agent.runtime_env.py_modules", "a list of URIs"),
        ({"working_dir": 7}, "agent.runtime_env.working_dir", "must be a URI string"),
        ({"working_dir": "package://sha256-xyz"}, "agent.runtime_env.working_dir", "64 lower"),
    ],
)
def test_code_replicas_could_not_load_is_invalid(
    client: OrchestratorClient, runtime_env: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ClientError) as failure:
        client.deploy_agent(AgentSpec("local", "v1", "agent:Agent", runtime_env=runtime_env))
    assert failure.value.code_name == "INVALID_ARGUMENT"
    assert [f for f, _ in failure.value.violations] == [field]
    assert words in failure.value.violations[0][1]


def cli(server: ServerThread, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--address", server.address, *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_the_cli_ships_directories_and_merges_the_environment(
    server: ServerThread, backend: FakeBackend, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    source = code_dir(tmp_path / "code")
    module = code_dir(tmp_path / "mylib")
    args = (
        "agents", "deploy", "coded", "--import-path", "agent:Agent",
        "--working-dir", str(source), "--py-module", str(module),
        "--pip", "requests==2.32.3", "--env", "MODE=fast", "--env", "EMPTY=",
        "--runtime-env", '{"env_vars": {"KEEP": "1"}, "py_modules": ["s3://b/x.zip"]}',
    )  # fmt: skip
    code, out = cli(server, capsys, *args)
    assert code == 0, out
    work = build_package(source).sha256
    lib = build_package(module, as_module=True).sha256
    assert f"--working-dir {source}: package://sha256-{work} (1 file, " in out
    assert "uploaded" in out
    spec = backend.specs["coded"]
    assert spec.runtime_env == {
        "working_dir": f"package://sha256-{work}",
        "py_modules": ["s3://b/x.zip", f"package://sha256-{lib}"],
        "pip": ["requests==2.32.3"],
        "env_vars": {"KEEP": "1", "MODE": "fast", "EMPTY": ""},
    }
    assert spec.version.startswith("code-") and len(spec.version) == 17

    code, out = cli(server, capsys, *args)
    assert code == 0 and "already held" in out and backend.specs["coded"] == spec
    (source / "agent.py").write_text("class Agent: changed = True\n")
    assert cli(server, capsys, *args)[0] == 0
    assert backend.specs["coded"].version != spec.version


def test_cli_problems_with_the_code_are_one_line_and_send_nothing(
    server: ServerThread, backend: FakeBackend, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    source = code_dir(tmp_path / "code")
    (source / "model.bin").write_bytes(os.urandom(64 * 1024))
    deploy = ("agents", "deploy", "coded", "--import-path", "agent:Agent")
    code, out = cli(
        server, capsys, *deploy, "--working-dir", str(source), "--max-package-size", "16Ki"
    )
    assert code == EXIT_USAGE and out.count("\n") == 1, out
    assert out.startswith(f"error: --working-dir: {source} packs to more than 0.0 MiB"), out
    assert "model.bin" in out
    code, out = cli(server, capsys, *deploy, "--working-dir", str(tmp_path / "nope"))
    assert code == EXIT_USAGE and "is not a directory" in out
    code, out = cli(
        server, capsys, *deploy, "--working-dir", str(source),
        "--runtime-env", '{"working_dir": "s3://b/x.zip"}',
    )  # fmt: skip
    assert code == EXIT_USAGE and "not both" in out
    assert not packages_dir(server).exists() and backend.specs == {}

    code, out = cli(server, capsys, *deploy, "--runtime-env", '{"working_dir": "/home/me/agents"}')
    assert code == EXIT_REJECTED and out.count("\n") == 1, out
    assert "agent.runtime_env.working_dir" in out and "--working-dir DIR" in out
