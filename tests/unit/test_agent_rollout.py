"""An agent deploy is a rollout: SUCCEEDED when the new replicas start, else FAILED with the
previous spec restored or, for a new agent, the agent removed again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controlplane.engine.agents.registry import AgentManager
from controlplane.store import SqliteStore
from models.agents import AgentSpec, RolloutState
from models.errors import FailedPrecondition
from tests.unit.fake_backend import FakeBackend


def spec(name: str, version: str) -> AgentSpec:
    return AgentSpec(name=name, version=version, import_path="samples.agents:EchoAgent")


def test_rollouts_succeed_fail_back_or_withdraw(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.start_errors["v2"] = RuntimeError("version v2 does not import")
    agents = AgentManager(SqliteStore(tmp_path / "db.sqlite"), backend, lambda: 1.0)

    async def body() -> None:
        view = await agents.deploy(spec("echo", "v1"))
        assert view.rollout is not None and view.rollout.state is RolloutState.SUCCEEDED
        with pytest.raises(FailedPrecondition, match=r"failed to start.*does not import"):
            await agents.deploy(spec("echo", "v2"))
        view = agents.get("echo")
        assert view.record.spec.version == "v1"
        assert backend.specs["echo"].version == "v1"
        assert view.rollout is not None and view.rollout.state is RolloutState.FAILED
        assert "does not import" in view.rollout.message
        with pytest.raises(FailedPrecondition):
            await agents.deploy(spec("fresh", "v2"))
        assert "fresh" not in agents.names() and backend.removed == ["fresh"]

    asyncio.run(body())
