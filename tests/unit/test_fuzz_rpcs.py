"""Every RPC of every service, with requests hypothesis builds from the message descriptors
(huge, unicode and control-character strings, extreme integers, NaN and infinities, nested
messages and Struct values, repeated and map fields, enum numbers out of range), sent to a real
server on a socket (in-process backend): never INTERNAL or UNKNOWN, a refused request stores
nothing, and the server still answers SERVING afterwards.

`HYPOTHESIS_PROFILE=long` runs fifty times the examples with a fresh seed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as pb_descriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given
from hypothesis import strategies as st

from controlplane.api.client import OrchestratorClient
from controlplane.api.server import SERVICE_FILES
from models.agents import AgentSpec
from tests.support.fuzzing import fuzz_settings, messages
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

METHODS = [
    method
    for file in SERVICE_FILES
    for service in file.services_by_name.values()
    for method in service.methods
]
# Refusals are what bad input earns; these two would be the server's own fault.
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
UNARY_TIMEOUT_S = 30.0
STREAM_TIMEOUT_S = 1.0
STREAM_ITEMS = 5
# Written by design whatever a call's outcome (the audit log records refusals too).
UNCOUNTED_TABLES = ("audit",)
SEEDED = """
name: w
inputs: {x: {type: any, required: false}}
tasks:
  - {id: gate, wait_for_signal: go}
  - {id: a, agent: work, input: "${inputs.x}", depends_on: [gate]}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    server = ServerThread(
        data_dir,
        "unused",
        backend=FakeBackend(),
        overrides={
            "grpc.shutdown_grace_s": 0.1,
            # Nothing writes on its own between two calls.
            "loops.capacity_interval_s": 3600.0,
            "loops.reservation_interval_s": 0,
            "loops.pool_reconcile_interval_s": 0,
            "loops.load_interval_s": 0,
            "loops.scaling_interval_s": 0,
            "loops.schedule_interval_s": 0,
            # The fuzzer is one fast caller: its requests are to reach the handlers.
            "limits.requests_per_second": 1e9,
            "limits.burst": 1_000_000_000,
        },
    )
    try:
        with OrchestratorClient(server.address, timeout_s=20) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:Agent"))
            client.create_workflow(SEEDED)
            client.start_execution("w", {"x": 1})
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    options = [("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(server.address, options=options) as channel:
        yield channel


class Rows:
    """Row counts of every table of the server's store, read through a connection of its own."""

    def __init__(self, database: Path) -> None:
        self._connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)

    def counts(self) -> dict[str, int]:
        names = [
            name
            for (name,) in self._connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
            if not name.startswith(("sqlite_", *UNCOUNTED_TABLES))
        ]
        return {
            name: self._connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in names
        }

    def settled(self, timeout_s: float = 5.0) -> dict[str, int]:
        """The counts once no write lands any more (an accepted call may go on writing, as a
        deployment records its replicas' events)."""
        deadline = time.monotonic() + timeout_s
        last = self.counts()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            now = self.counts()
            if now == last:
                return now
            last = now
        return last


@pytest.fixture(scope="module")
def rows(server: ServerThread) -> Iterator[Rows]:
    rows = Rows(server.control_plane.config.store.database_path)
    rows.settled()  # the seeded execution has reached its signal
    yield rows
    rows._connection.close()


def _identity(data: bytes) -> bytes:
    return data


def _call(
    channel: grpc.Channel, method: pb_descriptor.MethodDescriptor, requests: list[Any]
) -> Any:
    """Sends the requests; the status code the call ended with (OK when answered)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    payloads = [request.SerializeToString() for request in requests]
    kinds = (method.client_streaming, method.server_streaming)
    try:
        if kinds == (False, False):
            channel.unary_unary(path, _identity, _identity)(payloads[0], timeout=UNARY_TIMEOUT_S)
        elif kinds == (True, False):
            channel.stream_unary(path, _identity, _identity)(
                iter(payloads), timeout=UNARY_TIMEOUT_S
            )
        else:
            stream = channel.unary_stream(path, _identity, _identity)(
                payloads[0], timeout=STREAM_TIMEOUT_S
            )
            for count, _ in enumerate(stream, 1):
                if count >= STREAM_ITEMS:
                    stream.cancel()
                    return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
        if code is grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming:
            return grpc.StatusCode.OK  # a watch that waits for more is what a watch does
        details = exc.details() or ""  # type: ignore[attr-defined]
        assert code not in NEVER, f"{path}: {code.name}: {details}"
        # The client refusing the answer's trailers: the error did not arrive as itself.
        assert "metadata size" not in details, f"{path}: {details}"
        return code
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m.containing_service.name}.{m.name}")
def test_no_request_makes_the_server_fail(
    method: pb_descriptor.MethodDescriptor, channel: grpc.Channel, rows: Rows
) -> None:
    count = st.integers(1, 3) if method.client_streaming else st.just(1)

    @fuzz_settings(examples=12)
    @given(
        requests=count.flatmap(
            lambda n: st.lists(messages(method.input_type), min_size=n, max_size=n)
        )
    )
    def one(requests: list[Any]) -> None:
        before = rows.counts()
        code = _call(channel, method, requests)
        if code is grpc.StatusCode.OK:
            rows.settled()
            return
        assert rows.counts() == before, f"{method.full_name} was refused ({code.name}) but wrote"

    one()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_an_error_echoing_a_long_non_ascii_input_arrives_as_itself(channel: grpc.Channel) -> None:
    """Its message and violations are cut to fit the trailers a client accepts (8 KiB)."""
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc

    stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
    for text in ("é☃𝄞" * 20_000, "\x00" * 5_000, "\u202e" * 3_000):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ResumeExecution(workflow_pb2.ResumeExecutionRequest(execution_id=text))
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
