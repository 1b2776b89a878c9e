"""`orchestrator audit list` against a real server (in-process backend): its filters, the
table and `-o json`; the times it accepts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli.client.audit_commands import moment_arg
from controlplane.cli.main import main
from controlplane.cli.parser import build_parser
from models.agents import AgentSpec
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


@pytest.fixture
def address(tmp_path: Path) -> Iterator[str]:
    server = ServerThread(
        tmp_path, "unused", backend=FakeBackend(), overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("coder", "v1", "m:Coder"))
            with pytest.raises(ClientError):
                client.delete_agent("ghost")
        yield server.address
    finally:
        server.stop()


def test_list_as_json_with_filters(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--address", address, "audit", "list", "-o", "json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["rpc"], e["resource"], e["code"]) for e in events] == [
        ("AgentService/DeleteAgent", "ghost", "NOT_FOUND"),
        ("AgentService/DeployAgent", "coder", "OK"),
    ]
    assert main(["--address", address, "audit", "list", "--json", "--rpc", "DeployAgent"]) == 0
    assert [e["resource"] for e in json.loads(capsys.readouterr().out)] == ["coder"]
    argv = ["--address", address, "audit", "list", "--json", "--limit", "1", "--since", "1h"]
    assert main(argv) == 0
    assert [e["resource"] for e in json.loads(capsys.readouterr().out)] == ["ghost"]
    assert main(["--address", address, "audit", "list", "--json", "--until", "1h"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["--address", address, "audit", "list", "--json", "--only-namespace", "x"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_list_as_a_table(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--address", address, "audit", "list", "--caller", "nobody"]) == 0
    assert "RESOURCE" in capsys.readouterr().out
    assert main(["--address", address, "audit", "list"]) == 0
    out = capsys.readouterr().out
    assert "AgentService/DeployAgent" in out and "NOT_FOUND" in out


def test_times_are_iso_or_a_duration_before_now() -> None:
    assert (
        moment_arg("2026-03-09T09:30:00+00:00")
        == datetime.fromisoformat("2026-03-09T09:30:00+00:00").timestamp()
    )
    assert abs(moment_arg("2h") - (time.time() - 7200)) < 5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["audit", "list", "--since", "yesterday-ish"])
