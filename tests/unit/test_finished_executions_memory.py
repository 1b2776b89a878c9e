"""Finished executions leave the engine's memory (a real control plane, in-process backend):
no runner, and the event hub holds the last sequence of only the most recently finished ones;
their watches still replay every stored event to the terminal one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.engine.executions import event_hub
from models.agents import AgentSpec
from models.executions import EventType, ExecutionStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    monkeypatch.setattr(event_hub, "KEEP_FINISHED", 3)
    server = ServerThread(
        tmp_path, "unused", backend=FakeBackend(), overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server
    finally:
        server.stop()


def test_finished_executions_leave_the_engine_and_still_replay(server: ServerThread) -> None:
    with OrchestratorClient(server.address, timeout_s=20, retry=None) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:Agent"))
        client.create_workflow("name: plain\ntasks: [{id: a, agent: work}, {id: b, agent: work}]\n")
        ids = []
        for _ in range(10):
            handle = client.start_execution("plain")
            assert handle.result(timeout=20) is not None
            ids.append(handle.execution_id)
        plane = server.control_plane
        deadline = time.monotonic() + 10
        while plane.hub.remembered() > 3:
            assert time.monotonic() < deadline, plane.hub.remembered()
            time.sleep(0.02)
        assert not plane.executions._runners
        started = time.monotonic()
        replayed = list(client.watch_execution(ids[0]))
        assert time.monotonic() - started < 2.0  # from the store, no wait for a wake-up
        assert replayed[-1].type is EventType.EXECUTION_SUCCEEDED
        assert [e.sequence for e in replayed] == list(range(1, len(replayed) + 1))
        assert client.get_execution(ids[0]).status is ExecutionStatus.SUCCEEDED
