"""Pools, quotas and reservations in the engine, over nodes the in-process backend reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from controlplane.app import ControlPlane
from controlplane.config import ServerConfig
from models.capacity import PoolSpec, Reservation, ReservationState
from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from models.queueing import NamespacePolicy, Quota
from models.resources import NodeInfo, NodeSelector, ResourceAmounts
from scheduler.reservations import find_conflict
from tests.unit.fake_backend import FakeBackend
from tests.unit.fake_capacity import FakeCapacity

NODES = [
    NodeInfo(
        "n1",
        "10.0.0.1",
        True,
        {"zone": "a"},
        ResourceAmounts(cpu=8, memory=32),
        ResourceAmounts(cpu=6, memory=30),
    ),
    NodeInfo("n2", "10.0.0.2", True, {"zone": "b"}, ResourceAmounts(cpu=4), ResourceAmounts(cpu=4)),
    NodeInfo(
        "n3",
        "10.0.0.3",
        True,
        {"zone": "b", "tier": "accel"},
        ResourceAmounts(cpu=2, custom={"accelerator_x": 2}),
        ResourceAmounts(cpu=2, custom={"accelerator_x": 2}),
    ),
]


def run(
    body: Callable[[ControlPlane], Awaitable[None]],
    tmp_path: Path,
    clock: list[float] | None = None,
    capacity: FakeCapacity | None = None,
) -> None:
    async def main() -> None:
        backend = FakeBackend()
        backend.nodes = list(NODES)
        # The reservation loop does not run by itself: tests drive it with run_once.
        config = ServerConfig(data_dir=tmp_path, port=0, host="127.0.0.1", reservation_interval_s=0)
        now = (lambda: clock[0]) if clock is not None else time.time
        fake = capacity if capacity is not None else FakeCapacity()
        cp = ControlPlane(config, backend, clock=now, capacity=fake)
        await cp.start()
        try:
            await body(cp)
        finally:
            await cp.stop()

    asyncio.run(main())


def test_pool_membership_capacity_and_cluster_state(tmp_path: Path) -> None:
    async def body(cp: ControlPlane) -> None:
        zone_b = await cp.pools.create_pool(PoolSpec("zone-b", NodeSelector(labels={"zone": "b"})))
        assert [n.node_id for n in zone_b.nodes] == ["n2", "n3"]
        assert zone_b.capacity.cpu == 6 and zone_b.capacity.custom["accelerator_x"] == 2
        accel = await cp.pools.create_pool(
            PoolSpec(
                "accel",
                NodeSelector(custom_resources=("accelerator_x",)),
                share=ResourceAmounts(cpu=1),
            )
        )
        assert [n.node_id for n in accel.nodes] == ["n3"] and accel.capacity.cpu == 1
        state = await cp.cluster.cluster_state()
        assert {p.record.spec.name for p in state.pools} == {"zone-b", "accel"}
        assert state.fragmentation["cpu"] == pytest.approx(1 - 6 / 12)
        with pytest.raises(AlreadyExists):
            await cp.pools.create_pool(
                PoolSpec("accel", NodeSelector(custom_resources=("accelerator_x",)))
            )
        with pytest.raises(FailedPrecondition) as none:
            await cp.pools.create_pool(PoolSpec("ghost", NodeSelector(labels={"zone": "z"})))
        assert none.value.violations[0].field == "pool.selector"
        with pytest.raises(FailedPrecondition) as big:
            await cp.pools.create_pool(
                PoolSpec("big", NodeSelector(node_ids=("n2",)), share=ResourceAmounts(cpu=5))
            )
        assert big.value.violations[0].field == "pool.share"
        with pytest.raises(InvalidArgument):
            await cp.pools.create_pool(PoolSpec("Bad_Name"))
        await cp.pools.delete_pool("accel")
        with pytest.raises(NotFound):
            await cp.pools.get_pool("accel")

    run(body, tmp_path)


def test_reservations_conflict_expire_and_cancel(tmp_path: Path) -> None:
    clock = [1000.0]

    async def body(cp: ControlPlane) -> None:
        await cp.pools.create_pool(PoolSpec("zone-b", NodeSelector(labels={"zone": "b"})))
        first = await cp.reservations.reserve(
            "team-a", "zone-b", ResourceAmounts(cpu=4), 1100.0, 100.0, "r1"
        )
        again = await cp.reservations.reserve(
            "team-a", "zone-b", ResourceAmounts(cpu=4), 1100.0, 100.0, "r1"
        )
        assert again.reservation_id == first.reservation_id
        # Overlaps [1100, 1200) and 4 + 4 > 6 cpus: rejected, naming the conflicting window.
        with pytest.raises(ResourceExhausted) as err:
            await cp.reservations.reserve(
                "team-b", "zone-b", ResourceAmounts(cpu=4), 1150.0, 100.0, ""
            )
        assert first.reservation_id in err.value.message and "[1100, 1200)" in err.value.message
        # Fits beside it (2 cpus) and after it.
        await cp.reservations.reserve("team-b", "zone-b", ResourceAmounts(cpu=2), 1150.0, 100.0, "")
        later = await cp.reservations.reserve(
            "team-b", "zone-b", ResourceAmounts(cpu=6), 1300.0, 50.0, ""
        )
        with pytest.raises(FailedPrecondition):
            await cp.pools.delete_pool("zone-b")
        cancelled = await cp.reservations.cancel_reservation(later.reservation_id)
        assert cancelled.state is ReservationState.CANCELLED
        with pytest.raises(FailedPrecondition):
            await cp.reservations.cancel_reservation(later.reservation_id)
        clock[0] = 1100.0
        await cp.reservation_loop.run_once()
        assert (
            cp.reservations.get_reservation(first.reservation_id).state is ReservationState.ACTIVE
        )
        clock[0] = 1250.0
        # Reads EXPIRED as soon as the window is over, before the loop has recorded it.
        assert (
            cp.reservations.get_reservation(first.reservation_id).state is ReservationState.EXPIRED
        )
        with pytest.raises(InvalidArgument) as bad:
            await cp.reservations.reserve("team-a", "zone-b", ResourceAmounts(), 2000.0, -1, "")
        assert {v.field for v in bad.value.violations} == {"resources", "duration"}

    run(body, tmp_path, clock)


def test_quota_defaults_and_round_trip(tmp_path: Path) -> None:
    async def body(cp: ControlPlane) -> None:
        assert cp.quotas.get_quota("fresh") == NamespacePolicy("fresh")
        policy = NamespacePolicy(
            "team-a", weight=3, priority=2, quota=Quota(ResourceAmounts(cpu=4), 10, 5)
        )
        await cp.quotas.set_quota(policy)
        assert cp.quotas.get_quota("team-a") == policy

    run(body, tmp_path)


def test_find_conflict_checks_every_start_inside_the_window() -> None:
    def res(rid: str, start: float, dur: float, cpu: float) -> Reservation:
        return Reservation(
            rid, "ns", "p", ResourceAmounts(cpu=cpu), start, dur, ReservationState.PENDING, 0.0
        )

    capacity = ResourceAmounts(cpu=4)
    existing = [res("a", 0, 10, 2), res("b", 5, 10, 2)]
    assert find_conflict(res("c", 12, 5, 2), existing, capacity) is None  # only b overlaps
    conflict = find_conflict(res("c", 3, 5, 2), existing, capacity)
    assert conflict is not None and conflict.at == 5
    assert [r.reservation_id for r in conflict.overlapping] == ["a", "b"]
    assert find_conflict(res("c", 0, 1, 5), [], capacity) is not None  # larger than the pool
