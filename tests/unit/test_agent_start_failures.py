"""Agent start failures through the registry: refused with one line naming the root cause,
kept with their detail for GetAgent (a new agent as FAILED until deployed again or deleted),
and impossible or malformed resource requests refused before anything is stored or started."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from controlplane.engine.agents.registry import AgentManager
from controlplane.store import SqliteStore
from models.agents import AgentSpec, AgentState, ReplicaResources, VersionTarget
from models.backend import ReplicaStartError
from models.errors import FailedPrecondition, InvalidArgument, NotFound
from models.resources import NodeInfo, ResourceAmounts
from tests.unit.fake_backend import FakeBackend

DETAIL = 'Traceback:\n  File "keys.py", line 3, in __init__\nValueError: api_key is required'
SUMMARY = "ValueError: api_key is required (in NeedsKey.__init__, keys.py:3)"


class BrokenVersions(FakeBackend):
    """Replicas of the versions in ``broken`` fail to start; scaling past ``max_replicas``
    fails too."""

    def __init__(self, broken: set[str], max_replicas: int = 100) -> None:
        super().__init__()
        self.broken = broken
        self.max_replicas = max_replicas
        self.deployed: list[AgentSpec] = []
        self.nodes = [
            NodeInfo("n1", "10.0.0.1", True, capacity=ResourceAmounts(cpu=2.0, memory=1 << 30))
        ]

    async def apply(self, name: str, targets: Sequence[VersionTarget]) -> None:
        self.deployed.extend(t.spec for t in targets)
        if any(t.spec.version in self.broken and t.replicas for t in targets):
            raise ReplicaStartError(SUMMARY, DETAIL)
        await super().apply(name, targets)

    async def scale(self, name: str, replicas: int) -> None:
        await super().scale(name, replicas)
        if replicas > self.max_replicas:
            raise ReplicaStartError("RuntimeError: the node is gone")


def spec(name: str, version: str = "v1", **resources: float) -> AgentSpec:
    return AgentSpec(
        name=name,
        version=version,
        import_path="keys:NeedsKey",
        resources=ReplicaResources(**resources),  # type: ignore[arg-type]
    )


def manager(tmp_path: Path, backend: FakeBackend) -> AgentManager:
    return AgentManager(SqliteStore(tmp_path / "db.sqlite"), backend, lambda: 100.0)


def test_a_new_agent_that_fails_is_shown_failed_with_its_traceback(tmp_path: Path) -> None:
    backend = BrokenVersions({"v1"})
    agents = manager(tmp_path, backend)

    async def body() -> None:
        with pytest.raises(FailedPrecondition) as refused:
            await agents.deploy(spec("keyless"))
        assert refused.value.message == f"agent 'keyless' failed to start: {SUMMARY}"
        assert "keyless" not in agents.names() and backend.removed == ["keyless"]
        with pytest.raises(NotFound):
            agents.get("keyless")  # what the engine sees: not deployed

        shown = agents.show("keyless")
        assert shown.state is AgentState.FAILED and shown.replicas == []
        assert shown.start_failure is not None
        assert shown.start_failure.summary == SUMMARY and shown.start_failure.detail == DETAIL
        assert shown.start_failure.version == "v1"
        assert [v.record.spec.name for v in agents.list(10, "")[0]] == ["keyless"]
        with pytest.raises(FailedPrecondition, match="its deploy failed"):
            await agents.scale("keyless", 2)

        backend.broken.clear()
        fixed = await agents.deploy(spec("keyless"))
        assert fixed.state is AgentState.READY and fixed.start_failure is None
        await agents.delete("keyless")
        with pytest.raises(NotFound):
            agents.show("keyless")

    asyncio.run(body())


def test_a_failed_version_keeps_the_previous_one_and_its_failure(tmp_path: Path) -> None:
    backend = BrokenVersions({"v2"})
    agents = manager(tmp_path, backend)

    async def body() -> None:
        await agents.deploy(spec("echo"))
        with pytest.raises(FailedPrecondition):
            await agents.deploy(spec("echo", "v2"))
        view = agents.get("echo")
        assert view.record.spec.version == "v1" and view.state is AgentState.READY
        assert view.start_failure is not None and view.start_failure.version == "v2"
        listed = agents.list(10, "")[0]
        assert [v.start_failure.summary for v in listed if v.start_failure] == [SUMMARY]

    asyncio.run(body())


def test_list_pages_over_stored_and_failed_agents(tmp_path: Path) -> None:
    backend = BrokenVersions({"bad"})
    agents = manager(tmp_path, backend)

    async def body() -> None:
        for name, version in [("a", "v1"), ("b", "bad"), ("c", "v1"), ("d", "bad"), ("e", "v1")]:
            with contextlib.suppress(FailedPrecondition):
                await agents.deploy(spec(name, version))
        seen: list[str] = []
        token = ""
        while True:
            views, token = agents.list(2, token)
            seen.extend(v.record.spec.name for v in views)
            if not token:
                break
        assert seen == ["a", "b", "c", "d", "e"]

    asyncio.run(body())


def test_impossible_resources_are_refused_before_anything_happens(tmp_path: Path) -> None:
    backend = BrokenVersions(set())
    agents = manager(tmp_path, backend)

    async def body() -> None:
        with pytest.raises(FailedPrecondition) as refused:
            await agents.deploy(spec("big", num_cpus=1e6))
        assert "agent.resources.num_cpus: 1000000 exceeds the largest node (2 CPUs)" in (
            refused.value.message
        )
        assert [v.field for v in refused.value.violations] == ["agent.resources.num_cpus"]
        assert backend.deployed == [] and agents.names() == set()
        with pytest.raises(NotFound):
            agents.show("big")

        # Scaling up an agent whose replica no longer fits anywhere is refused the same way.
        await agents.deploy(spec("small", num_cpus=1))
        backend.nodes = [NodeInfo("n2", "10.0.0.2", True, capacity=ResourceAmounts(cpu=0.5))]
        with pytest.raises(FailedPrecondition, match="exceeds the largest node"):
            await agents.scale("small", 3)
        assert agents.get("small").record.spec.replicas == 1
        await agents.scale("small", 0)  # scaling down is never refused

    asyncio.run(body())


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"num_cpus": math.nan}, "agent.resources.num_cpus"),
        ({"num_gpus": math.inf}, "agent.resources.num_gpus"),
        ({"num_cpus": -1.0}, "agent.resources.num_cpus"),
    ],
)
def test_malformed_amounts_are_invalid(
    tmp_path: Path, resources: dict[str, float], field: str
) -> None:
    agents = manager(tmp_path, BrokenVersions(set()))
    with pytest.raises(InvalidArgument) as invalid:
        asyncio.run(agents.deploy(spec("odd", **resources)))
    assert [v.field for v in invalid.value.violations] == [field]


def test_rays_own_resources_are_not_custom(tmp_path: Path) -> None:
    agents = manager(tmp_path, BrokenVersions(set()))
    bad = AgentSpec("odd", "v1", "keys:NeedsKey", resources=ReplicaResources(custom={"CPU": 1}))
    with pytest.raises(InvalidArgument) as invalid:
        asyncio.run(agents.deploy(bad))
    assert [v.field for v in invalid.value.violations] == ["agent.resources.custom[CPU]"]


def test_a_scale_up_that_fails_to_start_is_undone(tmp_path: Path) -> None:
    backend = BrokenVersions(set(), max_replicas=2)
    agents = manager(tmp_path, backend)

    async def body() -> None:
        await agents.deploy(spec("work"))
        with pytest.raises(FailedPrecondition) as refused:
            await agents.scale("work", 5)
        assert refused.value.message == (
            "agent 'work' failed to start: RuntimeError: the node is gone"
        )
        assert agents.get("work").record.spec.replicas == 1
        assert backend.scale_calls == [("work", 5), ("work", 1)]
        failure = agents.get("work").start_failure
        assert failure is not None and failure.summary == "RuntimeError: the node is gone"
        await agents.scale("work", 2)
        assert agents.get("work").start_failure is None

    asyncio.run(body())


def test_restoring_stored_agents_records_what_fails(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    first = AgentManager(store, BrokenVersions(set()), lambda: 1.0)
    asyncio.run(first.deploy(spec("echo", "v9")))
    restarted = AgentManager(store, BrokenVersions({"v9"}), lambda: 2.0)
    asyncio.run(restarted.reconcile())
    failure = restarted.get("echo").start_failure
    assert failure is not None and failure.summary == SUMMARY and failure.time == 2.0
