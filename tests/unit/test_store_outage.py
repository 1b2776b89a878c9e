"""A store that refuses writes (SQLite's own "database or disk is full", provoked with
`PRAGMA max_page_count`) is an outage, not a failure: health turns NOT_SERVING, new executions
and cancels are UNAVAILABLE, the execution in flight waits, and once writes succeed again everything
continues by itself, with nothing lost and no restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.api.client import ClientError, OrchestratorClient
from models.agents import AgentSpec
from models.executions import ExecutionStatus
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

BIG = "x" * 200_000  # needs new pages, so a full store refuses it


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate(output={"blob": BIG})
    yield gate
    gate.open.set()


@pytest.fixture
def server(tmp_path: Path, gate: Gate) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["gated"] = gate
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server
    finally:
        set_max_pages(server, 1 << 30)
        server.stop()


def set_max_pages(server: ServerThread, pages: int | None) -> None:
    """Caps the database at its current size (None) or at `pages`."""
    store: Any = server.control_plane.store
    with store._write_lock:
        conn = store._writer
        if pages is None:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")


def health(server: ServerThread) -> int:
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status)


def eventually(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_a_full_store_pauses_work_and_everything_continues_once_it_takes_writes(
    server: ServerThread, gate: Gate
) -> None:
    with OrchestratorClient(server.address, timeout_s=10, retry=None) as client:
        client.deploy_agent(AgentSpec("gated", "v1", "m:Gated"))
        client.create_workflow("name: big\ntasks: [{id: a, agent: gated}]\n")
        handle = client.start_execution("big")
        eventually(lambda: client.get_execution(handle.execution_id).tasks["a"].attempts)

        set_max_pages(server, None)
        gate.open.set()  # the outcome (200 KB) cannot be written now
        eventually(lambda: health(server) == health_pb2.HealthCheckResponse.NOT_SERVING)
        with pytest.raises(ClientError) as refused:
            client.start_execution("big")
        assert refused.value.code_name == "UNAVAILABLE"
        assert "store refuses writes" in refused.value.message
        with pytest.raises(ClientError) as cancel_refused:
            client.cancel_execution(handle.execution_id)
        assert cancel_refused.value.code_name == "UNAVAILABLE"
        running = client.get_execution(handle.execution_id)
        assert running.status is ExecutionStatus.RUNNING  # nothing recorded as failed

        set_max_pages(server, 1 << 30)
        done = handle.result(timeout=20)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.tasks["a"].output == {"blob": BIG}
        assert len(done.tasks["a"].attempts) == 1  # waited, not re-run
        eventually(lambda: health(server) == health_pb2.HealthCheckResponse.SERVING)
        again = client.start_execution("big")
        assert again.created


def test_a_start_that_meets_an_outage_first_is_answered_not_held(server: ServerThread) -> None:
    """Nothing had shown the outage yet (health still SERVING): the start's own write meets it,
    and the start is answered UNAVAILABLE at once rather than held until the store takes
    writes (it was not acknowledged, so nothing is lost); the same request later starts
    exactly one execution."""
    with OrchestratorClient(server.address, timeout_s=10, retry=None) as client:
        client.deploy_agent(AgentSpec("gated", "v1", "m:Gated"))
        client.create_workflow(
            "name: takes\ninputs: {blob: {type: string}}\ntasks: [{id: a, agent: gated}]\n"
        )
        set_max_pages(server, None)
        assert health(server) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(ClientError) as refused:
            client.start_execution("takes", {"blob": BIG}, request_id="once")
        assert refused.value.code_name == "UNAVAILABLE"
        assert "database or disk is full" in refused.value.message

        set_max_pages(server, 1 << 30)
        started = eventually(lambda: retried_start(client))
        assert started.created
        again = client.start_execution("takes", {"blob": BIG}, request_id="once")
        assert not again.created and again.execution_id == started.execution_id
        assert len(client.list_executions("takes")) == 1


def retried_start(client: OrchestratorClient) -> Any:
    """The start, or None while the control plane still says UNAVAILABLE."""
    try:
        return client.start_execution("takes", {"blob": BIG}, request_id="once")
    except ClientError as exc:
        assert exc.code_name == "UNAVAILABLE"
        return None
