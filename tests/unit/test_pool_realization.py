"""Pools and reservations realised through the CapacityBackend (an in-process fake here; the
Ray one is exercised in tests/integration/test_pools_ray.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from controlplane.app import ControlPlane
from controlplane.config import ServerConfig
from models.agents import AgentSpec, ReplicaResources
from models.capacity import PoolSpec, ReservationState
from models.errors import FailedPrecondition, InvalidArgument
from models.resources import NodeSelector, RealizationState, ResourceAmounts
from tests.unit.fake_backend import FakeBackend
from tests.unit.fake_capacity import FakeCapacity
from tests.unit.test_resources import NODES

Body = Callable[[ControlPlane, FakeCapacity, list[float]], Awaitable[None]]
ZONE_B = PoolSpec("zone-b", NodeSelector(labels={"zone": "b"}), share=ResourceAmounts(cpu=4))


def run(body: Body, tmp_path: Path, capacity: FakeCapacity | None = None) -> None:
    clock = [1000.0]
    fake = capacity if capacity is not None else FakeCapacity()

    async def main() -> None:
        backend = FakeBackend()
        backend.nodes = list(NODES)
        config = ServerConfig(
            data_dir=tmp_path,
            port=0,
            host="127.0.0.1",
            reservation_interval_s=0,
            pool_reconcile_interval_s=0,
        )
        cp = ControlPlane(config, backend, clock=lambda: clock[0], capacity=fake)
        await cp.start()
        try:
            await body(cp, fake, clock)
        finally:
            await cp.stop()

    asyncio.run(main())


def test_pool_is_realised_updated_and_removed(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        view = await cp.pools.create_pool(ZONE_B)
        assert view.state is RealizationState.READY
        assert view.realization is not None
        assert view.realization.placement_group_id == "pg-pool:zone-b:1000000"
        request = fake.groups["pool:zone-b:1000000"]
        assert request.labels == {"zone": "b"} and len(request.bundles) == 4

        # Same spec again: nothing new. A changed spec: a new generation replaces the old.
        await cp.pools.update_pool(ZONE_B)
        assert list(fake.groups) == ["pool:zone-b:1000000"]
        clock[0] = 1000.0  # same clock reading: the generation still moves on
        bigger = PoolSpec(ZONE_B.name, ZONE_B.selector, share=ResourceAmounts(cpu=6))
        updated = await cp.pools.update_pool(bigger)
        assert list(fake.groups) == ["pool:zone-b:1000001"]
        assert updated.realization is not None and updated.capacity.cpu == 6

        fake.placeable = False
        pending = await cp.pools.get_pool("zone-b")
        assert pending.state is RealizationState.PENDING and "no room" in pending.state_message

        fake.groups.clear()  # lost (say, the cluster restarted)
        missing = await cp.pools.get_pool("zone-b")
        assert missing.realization is None and "the pool loop creates it" in missing.message

        await cp.pools.delete_pool("zone-b")
        assert fake.groups == {}

    run(body, tmp_path)


def test_restore_reattaches_recreates_and_drops_deleted_pools(tmp_path: Path) -> None:
    fake = FakeCapacity()

    async def first(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        await cp.pools.create_pool(PoolSpec("gone", NodeSelector(labels={"zone": "a"})))

    run(first, tmp_path, fake)
    created = list(fake.created)
    # While no control plane ran: a pool's group was lost and a deleted pool's group stayed.
    del fake.groups["pool:zone-b:1000000"]
    fake.groups["pool:deleted:5"] = fake.groups["pool:gone:1000000"]

    async def second(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        assert set(fake.groups) == {"pool:zone-b:1000000", "pool:gone:1000000"}
        assert fake.created == [*created, "pool:zone-b:1000000"]  # re-created, not duplicated
        assert (await cp.pools.get_pool("gone")).state is RealizationState.READY

    run(second, tmp_path, fake)


def test_reservation_lifecycle_pending_active_expired(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        r = await cp.reservations.reserve("ns", "zone-b", ResourceAmounts(cpu=2), 1010.0, 20.0, "")
        await cp.reservation_loop.run_once()
        assert cp.reservations.get_reservation(r.reservation_id).state is ReservationState.PENDING
        assert f"reservation:{r.reservation_id}" not in fake.groups

        clock[0] = 1010.0
        await cp.reservation_loop.run_once()
        active = cp.reservations.get_reservation(r.reservation_id)
        assert active.state is ReservationState.ACTIVE
        assert active.placement_group_id == f"pg-reservation:{r.reservation_id}"
        request = fake.groups[f"reservation:{r.reservation_id}"]
        assert request.labels == {"zone": "b"}  # inside the pool's nodes
        assert request.bundles == (ResourceAmounts(cpu=1), ResourceAmounts(cpu=1))

        fake.groups.pop(f"reservation:{r.reservation_id}")  # lost: held again
        await cp.reservation_loop.run_once()
        assert f"reservation:{r.reservation_id}" in fake.groups

        clock[0] = 1030.0
        await cp.reservation_loop.run_once()
        expired = cp.reservations.get_reservation(r.reservation_id)
        assert expired.state is ReservationState.EXPIRED
        assert f"reservation:{r.reservation_id}" not in fake.groups
        await cp.pools.delete_pool("zone-b")  # nothing holds it any more

    run(body, tmp_path)


def test_unplaceable_reservation_stays_pending_then_fails(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        fake.placeable = False
        r = await cp.reservations.reserve("ns", "zone-b", ResourceAmounts(cpu=2), None, 20.0, "")
        await cp.reservation_loop.run_once()
        waiting = cp.reservations.get_reservation(r.reservation_id)
        assert waiting.state is ReservationState.PENDING
        assert "waiting for Ray" in waiting.message and "no room" in waiting.message

        clock[0] = 1020.0
        await cp.reservation_loop.run_once()
        failed = cp.reservations.get_reservation(r.reservation_id)
        assert failed.state is ReservationState.FAILED and "no room" in failed.message
        assert f"reservation:{r.reservation_id}" not in fake.groups

    run(body, tmp_path)


def test_cancel_releases_at_once_and_orphans_are_released(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        await cp.pools.create_pool(ZONE_B)
        r = await cp.reservations.reserve("ns", "zone-b", ResourceAmounts(cpu=1), None, 60.0, "")
        await cp.reservation_loop.run_once()
        assert f"reservation:{r.reservation_id}" in fake.groups
        cancelled = await cp.reservations.cancel_reservation(r.reservation_id)
        assert cancelled.state is ReservationState.CANCELLED
        assert f"reservation:{r.reservation_id}" not in fake.groups

        fake.groups["reservation:stray"] = fake.groups["pool:zone-b:1000000"]
        actions = await cp.reservation_loop.run_once()
        assert [(a.kind.value, a.reservation_id) for a in actions] == [("RELEASE", "stray")]
        assert "reservation:stray" not in fake.groups

    run(body, tmp_path)


def test_agents_name_an_existing_pool_and_request_resources(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, fake: FakeCapacity, clock: list[float]) -> None:
        one_cpu = ReplicaResources(num_cpus=1)
        spec = AgentSpec("worker", "1", "samples.agents:EchoAgent", resources=one_cpu)
        with pytest.raises(FailedPrecondition) as missing:
            await cp.agents.deploy(AgentSpec(**{**spec.__dict__, "pool": "zone-b"}))
        assert [v.field for v in missing.value.violations] == ["agent.pool"]
        with pytest.raises(InvalidArgument) as bad:
            await cp.agents.deploy(AgentSpec(**{**spec.__dict__, "pool": "Zone B"}))
        assert [v.field for v in bad.value.violations] == ["agent.pool"]

        await cp.pools.create_pool(ZONE_B)
        with pytest.raises(InvalidArgument) as free:
            await cp.agents.deploy(
                AgentSpec(**{**spec.__dict__, "pool": "zone-b", "resources": ReplicaResources()})
            )
        assert [v.field for v in free.value.violations] == ["agent.resources"]

        pooled = AgentSpec(**{**spec.__dict__, "pool": "zone-b", "replicas": 2})
        await cp.agents.deploy(pooled)
        view = await cp.pools.get_pool("zone-b")
        assert view.allocated == ResourceAmounts(cpu=2)
        state = await cp.cluster.cluster_state()
        assert [p.allocated for p in state.pools] == [ResourceAmounts(cpu=2)]
        with pytest.raises(FailedPrecondition) as busy:
            await cp.pools.delete_pool("zone-b")
        assert "worker" in busy.value.message

    run(body, tmp_path)
