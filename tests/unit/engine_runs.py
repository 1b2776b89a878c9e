"""Running test bodies against a real ControlPlane (real SQLite, real gRPC on port 0) on the
in-process backend, on a fresh event loop: the harness of the engine's unit tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, ServerConfig, StoreConfig
from models.agents import AgentSpec
from models.executions import ExecutionRecord
from tests.unit.fake_backend import FakeBackend

Body = Callable[[ControlPlane, FakeBackend], Awaitable[None]]
AGENTS = ("worker", "undo", "notifier", "flaky", "slow")


def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        store=StoreConfig(data_dir=tmp_path),
        grpc=GrpcConfig(host="127.0.0.1", port=0, shutdown_grace_s=0.1),
    )


def run(
    body: Body,
    tmp_path: Path,
    backend: FakeBackend | None = None,
    agents: Iterable[str] = AGENTS,
) -> None:
    """Runs `body` against a control plane on `tmp_path` with `agents` deployed; `backend`,
    when given, answers from the start (before a restarted control plane resumes anything)."""

    async def main() -> None:
        fake = backend or FakeBackend()
        cp = ControlPlane(config(tmp_path), fake)
        await cp.start()
        try:
            for name in agents:
                await cp.agents.deploy(AgentSpec(name=name, version="v1", import_path="m:W"))
            await body(cp, fake)
        finally:
            await cp.stop()

    asyncio.run(main())


async def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def finished(cp: ControlPlane, execution_id: str) -> ExecutionRecord:
    def check() -> ExecutionRecord | None:
        record = cp.executions.get(execution_id)
        return record if record.status.terminal else None

    result: ExecutionRecord = await eventually(check)
    return result


async def start(cp: ControlPlane, text: str, inputs: dict[str, Any] | None = None) -> str:
    """Creates the workflow `text` and starts it; the execution id."""
    await cp.catalog.create(text)
    name = text.split("name:", 1)[1].split()[0]
    record, _ = await cp.executions.start(name, 0, inputs or {}, "")
    return record.execution_id
