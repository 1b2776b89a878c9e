"""Per-caller request rate and open streams: the token bucket and the bounded caller table on
their own, then through a real server (in-process backend): RESOURCE_EXHAUSTED naming the
setting with RetryInfo, no fresh allowance for a new connection, health exempt, and a stream
slot given back when a stream ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from controlplane.api.client import OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.api.interceptors.limits import (
    CallerState,
    CallerTable,
    TokenBucket,
    peer_host,
    streaming_methods,
)
from controlplane.api.server import SERVICE_FILES
from models.agents import AgentSpec
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend


def test_a_bucket_lets_a_burst_through_then_says_when_the_next_token_is_there() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.25) == pytest.approx(0.25)
    assert bucket.take(100.5) == 0.0
    assert bucket.take(50.0) == pytest.approx(0.5)  # a clock stepping back refills nothing
    assert bucket.take(1000.0) == 0.0  # refilled to the burst, not beyond
    assert [bucket.take(1000.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_the_caller_table_is_bounded_but_keeps_callers_with_open_streams() -> None:
    table = CallerTable(capacity=3)

    def fresh() -> CallerState:
        return CallerState(TokenBucket(1.0, 1, 0.0))

    streaming = table.get("watcher", fresh)
    streaming.streams = 1
    for i in range(1000):
        table.get(f"peer-{i}", fresh)
    assert len(table) == 4  # three recent ones and the one still streaming
    assert table.get("watcher", fresh) is streaming
    table.stream_ended("watcher", streaming)
    assert len(table) == 3
    assert table.get("watcher", fresh) is not streaming  # forgotten once idle


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:10.0.0.7:53211", "10.0.0.7"),
        ("ipv6:[::1]:53211", "::1"),
        ("ipv6:[fe80::1%25eth0]:1", "fe80::1%25eth0"),
        ("unix:/tmp/orchestrator.sock", "unix:/tmp/orchestrator.sock"),
        ("", ""),
    ],
)
def test_a_peer_is_keyed_by_its_host(peer: str, host: str) -> None:
    assert peer_host(peer) == host


def test_the_streaming_methods_come_from_the_contract() -> None:
    methods = streaming_methods(SERVICE_FILES)
    assert "/orchestrator.v1.WorkflowService/WatchExecution" in methods
    assert "/orchestrator.v1.WorkflowService/ReadExecutionValue" in methods
    assert "/orchestrator.v1.AgentService/WatchAgentEvents" in methods
    assert "/orchestrator.v1.AgentService/UploadPackage" in methods
    assert "/orchestrator.v1.WorkflowService/GetExecution" not in methods


def _server(tmp_path: Path, settings: dict[str, object]) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path,
        "unused",
        backend=FakeBackend(),
        overrides={"grpc.shutdown_grace_s": 0.1, **settings},
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[ServerThread]:
    yield from _server(tmp_path, {"limits.requests_per_second": 0.5, "limits.burst": 2})


def _retry_delay(error: grpc.RpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    raise AssertionError("no RetryInfo in the status")


def test_over_the_rate_is_resource_exhausted_with_a_retry_delay(
    slow_server: ServerThread,
) -> None:
    with grpc.insecure_channel(slow_server.address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        stub.ListWorkflows(workflow_pb2.ListWorkflowsRequest())
        stub.ListWorkflows(workflow_pb2.ListWorkflowsRequest())
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListWorkflows(workflow_pb2.ListWorkflowsRequest())
        error: Any = refused.value
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limits.requests_per_second (0.5)" in error.details()
        assert "limits.burst (2)" in error.details()
        assert 1.0 <= _retry_delay(error) <= 2.0
        # Probes always get through.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    # A new connection from the same host is the same caller.
    with grpc.insecure_channel(slow_server.address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListWorkflows(workflow_pb2.ListWorkflowsRequest())
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


@pytest.fixture
def narrow_server(tmp_path: Path) -> Iterator[ServerThread]:
    yield from _server(tmp_path, {"limits.streams_per_caller": 2})


WAITS = "name: waits\ntasks: [{id: gate, wait_for_signal: go}]\n"


def _watch(stub: Any, execution_id: str) -> Any:
    call = stub.WatchExecution(workflow_pb2.WatchExecutionRequest(execution_id=execution_id))
    next(call)  # the first event: the stream is open on the server
    return call


def test_streams_over_the_limit_are_refused_until_one_ends(narrow_server: ServerThread) -> None:
    with OrchestratorClient(narrow_server.address) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:Agent"))
        client.create_workflow(WAITS)
        execution_id = client.start_execution("waits", {}).execution_id
    with grpc.insecure_channel(narrow_server.address) as channel:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        first, second = _watch(stub, execution_id), _watch(stub, execution_id)
        with pytest.raises(grpc.RpcError) as refused:
            _watch(stub, execution_id)
        error: Any = refused.value
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limits.streams_per_caller (2)" in error.details()
        # Unary calls are not streams.
        stub.GetExecution(workflow_pb2.GetExecutionRequest(execution_id=execution_id))
        first.cancel()
        deadline = time.monotonic() + 10
        while True:  # the server hears of the cancellation a moment later
            try:
                third = _watch(stub, execution_id)
                break
            except grpc.RpcError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError("the ended stream's slot never came back") from exc
                time.sleep(0.02)
        second.cancel()
        third.cancel()
