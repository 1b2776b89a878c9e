"""An agent deploy is a rollout: SUCCEEDED when the new replicas start, else FAILED with the
previous spec restored or, for a new agent, the agent removed again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from controlplane.engine.agents.registry import AgentManager
from controlplane.store import SqliteStore
from models.agents import AgentSpec, RolloutState, RolloutStrategy, StrategyKind, VersionState
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


def test_a_rollout_resumes_at_its_step_after_a_restart(tmp_path: Path) -> None:
    """Blue-green: DeployAgent answers once traffic has switched; the control plane stops
    during the rollback window; a new one finds the step stored, applies it again, and ends
    the rollout when the window is over."""
    store_path = tmp_path / "db.sqlite"
    strategy = RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=1.0)

    async def first_run() -> None:
        agents = AgentManager(SqliteStore(store_path), FakeBackend(), time.time)
        await agents.deploy(spec("echo", "v1"))
        view = await agents.deploy(spec("echo", "v2"), strategy)
        assert view.rollout is not None and view.rollout.state is RolloutState.PROGRESSING
        assert view.rollout.step == 1 and "100% of attempts to v2" in view.rollout.message
        await agents.stop()

    async def second_run() -> None:
        backend = FakeBackend()
        agents = AgentManager(SqliteStore(store_path), backend, time.time)
        await agents.reconcile()
        switched = [(t.spec.version, t.weight) for t in backend.applied[0][1]]
        assert switched == [("v1", 0.0), ("v2", 1.0)]
        deadline = time.monotonic() + 10
        while (rollout := agents.get("echo").rollout) is not None and rollout.active:
            assert time.monotonic() < deadline, rollout
            await asyncio.sleep(0.05)
        assert rollout is not None and rollout.state is RolloutState.SUCCEEDED
        assert [(t.spec.version, t.weight) for t in backend.targets["echo"]] == [("v2", None)]
        states = {v.spec.version: v.state for v in agents.list_versions("echo")}
        assert states == {"v1": VersionState.RETIRED, "v2": VersionState.ACTIVE}
        await agents.stop()

    asyncio.run(first_run())
    asyncio.run(second_run())


def test_a_rollout_refuses_other_changes_until_rolled_back(tmp_path: Path) -> None:
    backend = FakeBackend()
    agents = AgentManager(SqliteStore(tmp_path / "db.sqlite"), backend, time.time)
    strategy = RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=600)

    async def body() -> None:
        await agents.deploy(spec("echo", "v1"))
        await agents.deploy(spec("echo", "v2"), strategy)
        with pytest.raises(FailedPrecondition, match="rolling out version v2"):
            await agents.scale("echo", 3)
        with pytest.raises(FailedPrecondition, match="rolling out version v2"):
            await agents.deploy(spec("echo", "v3"))
        view = await agents.rollback("echo")
        assert view.record.spec.version == "v1"
        assert view.rollout is not None and view.rollout.state is RolloutState.ROLLED_BACK
        assert [(t.spec.version, t.weight) for t in backend.targets["echo"]] == [("v1", None)]
        states = {v.spec.version: v.state for v in agents.list_versions("echo")}
        assert states == {"v1": VersionState.ACTIVE, "v2": VersionState.ROLLED_BACK}
        await agents.scale("echo", 3)  # the rollout is over
        await agents.stop()

    asyncio.run(body())
