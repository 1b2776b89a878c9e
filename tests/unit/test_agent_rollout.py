"""An agent deploy is a rollout: SERVING when its replicas start, else the previous spec is
restored (ROLLED_BACK) or, for a new agent, the agent is removed again (WITHDRAWN)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from controlplane.engine.agents.registry import AgentManager
from controlplane.store import SqliteStore
from models.agents import AgentSpec
from models.errors import FailedPrecondition
from tests.unit.fake_backend import FakeBackend


class FailingVersions(FakeBackend):
    """Replicas of the versions in ``broken`` never start."""

    def __init__(self, broken: set[str]) -> None:
        super().__init__()
        self.broken = broken

    async def deploy(self, spec: AgentSpec) -> None:
        if spec.version in self.broken:
            raise RuntimeError(f"version {spec.version} does not import")
        await super().deploy(spec)


def spec(name: str, version: str) -> AgentSpec:
    return AgentSpec(name=name, version=version, import_path="samples.agents:EchoAgent")


def phases(caplog: pytest.LogCaptureFixture, agent: str) -> list[str]:
    prefix = f"agent {agent} version "
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def test_rollouts_serve_roll_back_or_withdraw(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FailingVersions({"v2"})
    agents = AgentManager(SqliteStore(tmp_path / "db.sqlite"), backend, lambda: 1.0)
    caplog.set_level(logging.INFO, logger="controlplane.engine.agents.registry")

    async def body() -> None:
        await agents.deploy(spec("echo", "v1"))
        with pytest.raises(FailedPrecondition, match="failed to start"):
            await agents.deploy(spec("echo", "v2"))
        assert agents.get("echo").record.spec.version == "v1"
        assert backend.specs["echo"].version == "v1"
        with pytest.raises(FailedPrecondition):
            await agents.deploy(spec("fresh", "v2"))
        assert "fresh" not in agents.names() and backend.removed == ["fresh"]

    asyncio.run(body())
    assert phases(caplog, "echo") == [
        "agent echo version v1: SERVING",
        "agent echo version v2: ROLLING_BACK",
        "agent echo version v2: ROLLED_BACK",
    ]
    assert phases(caplog, "fresh") == [
        "agent fresh version v2: ROLLING_BACK",
        "agent fresh version v2: WITHDRAWN",
    ]
