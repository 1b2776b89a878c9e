"""The pool reconciler: its pure decision, and the repair of lost pool groups through the
in-process capacity backend (the Ray one is exercised in tests/integration/test_pools_ray.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.app import ControlPlane
from controlplane.cli.client.capacity_render import pool_dict, repair_text
from controlplane.engine.capacity.pool_loop import (
    PoolAction,
    PoolActionKind,
    PoolObservation,
    decide,
    retry_delay_s,
)
from controlplane.store.capacity import CapacityStore
from models.agents import AgentSpec, ReplicaResources
from models.capacity import PoolInfo, PoolRepair, PoolRepairPhase, PoolSpec
from models.resources import PoolRealization, RealizationState, ResourceAmounts
from tests.unit.fake_backend import FakeBackend
from tests.unit.fake_capacity import FakeCapacity
from tests.unit.test_pool_realization import ZONE_B, run

GROUP = "pool:zone-b:1000000"
READY = PoolRealization("g", (), ResourceAmounts(), "pg", state=RealizationState.READY)
PENDING = PoolRealization(
    "g", (), ResourceAmounts(), "pg", state=RealizationState.PENDING, message="no room"
)
LOST, RECREATED, HEALED = (
    PoolRepairPhase.LOST,
    PoolRepairPhase.RECREATED,
    PoolRepairPhase.HEALED,
)
RECREATE, MOVE = PoolActionKind.RECREATE, PoolActionKind.MOVE_REPLICAS


def repair(phase: PoolRepairPhase, generation: int = 7, retry_time: float = 0.0) -> PoolRepair:
    return PoolRepair("p", generation, phase, 0.0, 0.0, retry_time=retry_time)


def seen(status: PoolRealization | None, known: bool = True) -> list[PoolObservation]:
    return [PoolObservation("p", 7, status, known)]


# ------------------------------------------------------------------------------ decide


def test_a_missing_group_is_created_again_a_placed_one_needs_nothing() -> None:
    assert decide(seen(READY), {}, 0) == []
    assert decide(seen(None), {}, 0) == [PoolAction(RECREATE, "p", 7)]
    assert decide(seen(None, known=False), {}, 0) == []  # Ray did not answer: no conclusion
    # Lost again after an earlier repair finished, or before its replicas moved.
    assert decide(seen(None), {"p": repair(HEALED)}, 0) == [PoolAction(RECREATE, "p", 7)]
    assert decide(seen(None), {"p": repair(RECREATED)}, 0) == [PoolAction(RECREATE, "p", 7)]


def test_a_failed_recreation_backs_off() -> None:
    backing_off = {"p": repair(LOST, retry_time=10.0)}
    assert decide(seen(None), backing_off, 9.9) == []
    assert decide(seen(None), backing_off, 10.0) == [PoolAction(RECREATE, "p", 7)]
    assert [retry_delay_s(n) for n in (1, 2, 3, 8)] == [1.0, 2.0, 4.0, 60.0]


def test_replicas_move_once_the_recreated_group_is_placed() -> None:
    assert decide(seen(PENDING), {"p": repair(RECREATED)}, 0) == []  # Ray keeps placing it
    assert decide(seen(READY), {"p": repair(RECREATED)}, 0) == [PoolAction(MOVE, "p", 7)]
    # Created, but the stop came before RECREATED was recorded: the replicas still move.
    assert decide(seen(READY), {"p": repair(LOST)}, 0) == [PoolAction(MOVE, "p", 7)]
    assert decide(seen(READY), {"p": repair(RECREATED, retry_time=5.0)}, 4) == []
    assert decide(seen(READY), {"p": repair(HEALED)}, 0) == []
    # A record of an older generation is stale: the pool update moved its replicas itself.
    assert decide(seen(READY), {"p": repair(RECREATED, generation=6)}, 0) == []


# ------------------------------------------------------------------------------ the shell


POOLED = AgentSpec(
    "worker",
    "1",
    "samples.agents:EchoAgent",
    replicas=2,
    resources=ReplicaResources(num_cpus=1),
    pool=ZONE_B.name,
)


def _repair(cp: ControlPlane) -> PoolRepair | None:
    return CapacityStore(cp.store).get_pool_repair(ZONE_B.name)


def _backend(cp: ControlPlane) -> FakeBackend:
    assert isinstance(cp.backend, FakeBackend)
    return cp.backend


def _moved(cp: ControlPlane) -> bool:
    """The pooled agent was scaled to zero, then deployed again as stored."""
    backend = _backend(cp)
    return backend.scale_calls == [("worker", 0)] and backend.specs["worker"].replicas == 2


def _get_pool_over_grpc(cp: ControlPlane) -> PoolInfo:
    with OrchestratorClient(cp.address, timeout_s=10) as client:
        return client.get_pool(ZONE_B.name)


def test_a_lost_group_is_recorded_then_created_again_and_the_replicas_move(
    tmp_path: Path,
) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.agents.deploy(POOLED)
        assert await cp.pool_loop.run_once() == []  # held: nothing to do

        del fake.groups[GROUP]  # removed behind the control plane's back
        recorded: list[PoolRepair | None] = []
        fake.before_create = lambda name: recorded.append(_repair(cp))
        actions = await cp.pool_loop.run_once()

        assert actions == [PoolAction(RECREATE, ZONE_B.name, 1000000)]
        assert GROUP in fake.groups  # the same generation, under the same name
        # The loss was stored before Ray was asked to create the group.
        assert [r.phase if r else None for r in recorded] == [LOST]
        # Placed at once, so the replicas were replaced in the same round.
        assert _moved(cp)
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED and healed.losses == 1
        assert "worker" in healed.message
        view = await cp.pools.get_pool(ZONE_B.name)
        assert view.state is RealizationState.READY and view.state_message == ""
        # GetPool over gRPC reports the repair as structured fields, and the CLI shows them.
        pool = await asyncio.to_thread(_get_pool_over_grpc, cp)
        assert pool.repair is not None
        assert (pool.repair.phase.value, pool.repair.losses) == ("HEALED", 1)
        assert pool.repair.lost_time == 1000.0 and pool.repair.retry_time == 0.0
        assert "worker" in pool.repair.message
        assert pool_dict(pool)["repair"]["phase"] == "HEALED"
        assert repair_text(pool).startswith("HEALED (lost once, last ")

        assert await cp.pool_loop.run_once() == []
        del fake.groups[GROUP]  # lost a second time
        await cp.pool_loop.run_once()
        again = _repair(cp)
        assert again is not None and again.phase is HEALED and again.losses == 2

    run(body, tmp_path)


def test_an_unplaceable_group_shows_pending_and_replicas_move_once_placed(
    tmp_path: Path,
) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.agents.deploy(POOLED)
        del fake.groups[GROUP]
        fake.placeable = False
        await cp.pool_loop.run_once()

        assert GROUP in fake.groups
        recreated = _repair(cp)
        assert recreated is not None and recreated.phase is RECREATED
        assert _backend(cp).scale_calls == []  # not into a group Ray has not placed
        view = await cp.pools.get_pool(ZONE_B.name)
        assert view.state is RealizationState.PENDING
        assert "created again" in view.state_message and "no room" in view.state_message

        # Ray keeps placing it; the loop only looks (nothing created, nothing moved).
        created = list(fake.created)
        for _ in range(3):
            clock[0] += 2
            assert await cp.pool_loop.run_once() == []
        assert fake.created == created and _backend(cp).scale_calls == []

        fake.placeable = True
        actions = await cp.pool_loop.run_once()
        assert actions == [PoolAction(MOVE, ZONE_B.name, 1000000)]
        assert _moved(cp)
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED

    run(body, tmp_path)


def test_a_failed_recreation_is_retried_with_a_growing_delay(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        del fake.groups[GROUP]
        fake.create_error = "the GCS is unreachable"
        await cp.pool_loop.run_once()
        failed = _repair(cp)
        assert failed is not None and failed.phase is LOST and failed.attempts == 1
        assert failed.retry_time == clock[0] + 1.0
        view = await cp.pools.get_pool(ZONE_B.name)
        assert view.realization is None and "the GCS is unreachable" in view.state_message
        assert "try 1" in view.state_message

        assert await cp.pool_loop.run_once() == []  # backing off, not hot-looping
        clock[0] += 1.0
        assert len(await cp.pool_loop.run_once()) == 1
        second = _repair(cp)
        assert second is not None and second.attempts == 2 and second.losses == 1
        assert second.retry_time == clock[0] + 2.0

        fake.create_error = None
        clock[0] += 2.0
        await cp.pool_loop.run_once()
        assert GROUP in fake.groups
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED and healed.lost_time == 1000.0

    run(body, tmp_path)


def test_update_with_the_same_spec_repairs_and_a_new_spec_makes_the_record_stale(
    tmp_path: Path,
) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.agents.deploy(POOLED)
        del fake.groups[GROUP]
        view = await cp.pools.update_pool(ZONE_B)
        assert view.state is RealizationState.READY and GROUP in fake.groups
        assert _moved(cp)
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED

        # A new generation: the record of the old one is stale, and the loss of the new
        # group is a new repair.
        clock[0] += 10
        bigger = PoolSpec(ZONE_B.name, ZONE_B.selector, share=ResourceAmounts(cpu=6))
        await cp.pools.update_pool(bigger)
        assert await cp.pool_loop.run_once() == []
        fake.groups.clear()
        actions = await cp.pool_loop.run_once()
        assert actions == [PoolAction(RECREATE, ZONE_B.name, 1010000)]
        latest = _repair(cp)
        assert latest is not None and latest.generation == 1010000 and latest.losses == 2

        await cp.agents.delete("worker")
        await cp.pools.delete_pool(ZONE_B.name)
        assert _repair(cp) is None

    run(body, tmp_path)


def test_a_group_lost_while_stopped_is_repaired_on_start(tmp_path: Path) -> None:
    fake = FakeCapacity()

    async def first(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.agents.deploy(POOLED)

    run(first, tmp_path, fake)
    del fake.groups[GROUP]

    async def second(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        assert GROUP in fake.groups
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED
        assert "started in it again" in healed.message
        # The stale replicas were stopped and the agents' restore started new ones.
        assert _backend(cp).removed == ["worker"]
        assert _backend(cp).specs["worker"].replicas == 2
        assert await cp.pool_loop.run_once() == []

    run(second, tmp_path, fake)


def test_a_failed_move_is_retried_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.agents.deploy(POOLED)
        backend = _backend(cp)

        async def not_ready(spec: AgentSpec) -> None:
            raise RuntimeError("replica worker/1 not ready")

        with monkeypatch.context() as patch:
            patch.setattr(backend, "deploy", not_ready)
            del fake.groups[GROUP]
            await cp.pool_loop.run_once()
            failed = _repair(cp)
            assert failed is not None and failed.phase is RECREATED and failed.attempts == 1
            view = await cp.pools.get_pool(ZONE_B.name)
            assert view.state is RealizationState.READY
            assert "worker could not be moved" in view.state_message
            assert await cp.pool_loop.run_once() == []  # backing off
        clock[0] += 1.0
        actions = await cp.pool_loop.run_once()
        assert actions == [PoolAction(MOVE, ZONE_B.name, 1000000)]
        healed = _repair(cp)
        assert healed is not None and healed.phase is HEALED
        assert backend.specs["worker"].replicas == 2

    run(body, tmp_path)
