"""What an agent says about its own failure reaches the retry decision: `retryable=False`
fails the task at once whatever its policy, and a Retry-After lengthens the wait before the
next attempt; the attempt's deadline reaches the backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, ServerConfig, StoreConfig
from models.agents import AgentSpec
from models.backend import AttemptOutcome, AttemptRequest, HeartbeatListener, ReplicaLease
from models.executions import AttemptStatus, ErrorInfo, EventType, ExecutionStatus
from tests.unit.fake_backend import FakeBackend
from tests.unit.test_engine import wait_terminal


class ScriptedBackend(FakeBackend):
    """Answers attempts with the given outcomes in order, then succeeds."""

    def __init__(self, outcomes: list[AttemptOutcome]) -> None:
        super().__init__()
        self.outcomes = list(outcomes)
        self.times: list[float] = []

    async def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> AttemptOutcome:
        self.calls.append(request)
        self.times.append(time.monotonic())
        if self.outcomes:
            return self.outcomes.pop(0)
        return AttemptOutcome(ok=True, output={"attempt": request.attempt})


def run(body: Callable[[ControlPlane, ScriptedBackend], Awaitable[None]], tmp_path: Path) -> None:
    async def main() -> None:
        backend = ScriptedBackend([])
        config = ServerConfig(
            store=StoreConfig(data_dir=tmp_path), grpc=GrpcConfig(host="127.0.0.1", port=0)
        )
        cp = ControlPlane(config, backend)
        await cp.start()
        try:
            await cp.agents.deploy(AgentSpec(name="echo", version="v1", import_path="m:Echo"))
            await body(cp, backend)
        finally:
            await cp.stop()

    asyncio.run(main())


def test_a_failure_the_agent_calls_final_is_not_retried(tmp_path: Path) -> None:
    text = """
name: final
tasks:
  - {id: a, agent: echo, retry: {max_attempts: 5, initial_interval: 10ms}}
"""
    refused = AttemptOutcome(
        ok=False, error=ErrorInfo("HttpClientError", "HTTP 400"), retryable=False
    )

    async def body(cp: ControlPlane, backend: ScriptedBackend) -> None:
        backend.outcomes = [refused]
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("final", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert [a.status for a in done.tasks["a"].attempts] == [AttemptStatus.FAILED]
        assert done.error is not None and done.error.type == "HttpClientError"

    run(body, tmp_path)


def test_retry_after_lengthens_the_wait_and_the_deadline_reaches_the_backend(
    tmp_path: Path,
) -> None:
    text = """
name: later
tasks:
  - {id: a, agent: echo, timeout: 30s, retry: {max_attempts: 3, initial_interval: 10ms}}
"""
    busy = AttemptOutcome(
        ok=False, error=ErrorInfo("HttpTooManyRequests", "HTTP 429"), retry_after_s=0.5
    )

    async def body(cp: ControlPlane, backend: ScriptedBackend) -> None:
        backend.outcomes = [busy]
        await cp.catalog.create(text)
        before = time.time()
        record, _ = await cp.executions.start("later", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        retrying = [
            e
            for e in cp.store.read_events(record.execution_id)
            if e.type is EventType.TASK_RETRYING
        ]
        assert [e.details["delay_s"] for e in retrying] == [0.5]
        first, second = backend.times
        assert second - first >= 0.5
        deadline = backend.calls[0].deadline
        assert deadline is not None and before + 30 <= deadline <= time.time() + 30

    run(body, tmp_path)
