"""The reservation loop's pure decision and the bundles pools and reservations ask for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.engine.capacity.requests import (
    NoLiveMembers,
    pool_generation,
    pool_request,
    reservation_request,
    split_bundles,
)
from controlplane.engine.capacity.reservation_loop import Action, ActionKind, decide, ended
from models.capacity import PoolRecord, PoolSpec, Reservation, ReservationState
from models.resources import NodeInfo, NodeSelector, PlacementStrategy, ResourceAmounts

PENDING, ACTIVE = ReservationState.PENDING, ReservationState.ACTIVE


def res(rid: str, start: float, duration: float, state: ReservationState) -> Reservation:
    return Reservation(rid, "ns", "p", ResourceAmounts(cpu=1), start, duration, state, 0.0)


def kinds(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.kind.value, a.reservation_id) for a in actions]


def test_pending_waits_for_its_window_then_activates() -> None:
    r = res("r", 100, 50, PENDING)
    assert decide([r], 99.9) == []
    assert decide([r], 100) == [Action(ActionKind.ACTIVATE, "r")]
    assert decide([r], 149, held=set()) == [Action(ActionKind.ACTIVATE, "r")]


def test_window_end_ends_active_and_pending_alike() -> None:
    active, pending = res("a", 0, 10, ACTIVE), res("p", 0, 10, PENDING)
    assert kinds(decide([active, pending], 10)) == [("END", "a"), ("END", "p")]
    expired = replace(active, state=ReservationState.EXPIRED, message="the window ended")
    assert ended(active, 10) == expired
    failed = ended(pending, 12)
    assert failed is not None and failed.state is ReservationState.FAILED
    assert ended(active, 9.99) is None
    assert ended(res("x", 0, 10, ReservationState.CANCELLED), 20) is None


def test_active_with_its_group_needs_nothing_but_a_lost_group_is_held_again() -> None:
    r = res("r", 0, 100, ACTIVE)
    assert decide([r], 50, held={"r"}) == []
    assert decide([r], 50) == []  # unknown what is held: nothing to conclude
    assert decide([r], 50, held=set()) == [Action(ActionKind.ACTIVATE, "r")]


def test_groups_without_a_live_reservation_are_released() -> None:
    live = res("live", 0, 100, ACTIVE)
    done = res("done", 0, 10, ReservationState.EXPIRED)
    actions = decide([live, done], 50, held={"live", "done", "unknown"})
    assert kinds(actions) == [("RELEASE", "done"), ("RELEASE", "unknown")]


def test_terminal_reservations_are_ignored_and_order_is_by_start() -> None:
    rs = [
        res("late", 20, 10, PENDING),
        res("early", 10, 10, PENDING),
        res("gone", 0, 100, ReservationState.CANCELLED),
    ]
    assert kinds(decide(rs, 25)) == [("END", "early"), ("ACTIVATE", "late")]


# ------------------------------------------------------------------------- bundles


def node(node_id: str, cpu: float, labels: dict[str, str], **custom: float) -> NodeInfo:
    capacity = ResourceAmounts(cpu=cpu, memory=1000, custom=custom)
    return NodeInfo(node_id, "10.0.0.1", True, labels, capacity, capacity)


A = node("a", 2, {"tier": "cpu"})
B = node("b", 1, {"tier": "cpu"})
C = node("c", 1, {"tier": "accel"}, accel=2)


def test_split_bundles_by_greatest_common_divisor() -> None:
    assert split_bundles(ResourceAmounts(cpu=4)) == [ResourceAmounts(cpu=1)] * 4
    two = split_bundles(ResourceAmounts(cpu=4, gpu=2, memory=7))
    assert [(b.cpu, b.gpu, b.memory) for b in two] == [(2, 1, 4), (2, 1, 3)]
    assert split_bundles(ResourceAmounts(cpu=1, custom={"accel": 2})) == [
        ResourceAmounts(cpu=1, custom={"accel": 2})
    ]
    assert split_bundles(ResourceAmounts(cpu=1.5)) == [ResourceAmounts(cpu=1.5)]
    assert len(split_bundles(ResourceAmounts(cpu=128))) == 64
    assert split_bundles(ResourceAmounts(memory=10)) == [ResourceAmounts(memory=10)]
    assert split_bundles(ResourceAmounts()) == []
    total = ResourceAmounts.total(split_bundles(ResourceAmounts(cpu=6, memory=100)))
    assert total == ResourceAmounts(cpu=6, memory=100)


def test_share_pool_by_label_moves_freely_among_matching_nodes() -> None:
    spec = PoolSpec("p", NodeSelector(labels={"tier": "cpu"}), share=ResourceAmounts(cpu=2))
    request = pool_request(spec, [A, B])
    assert request.bundles == (ResourceAmounts(cpu=1), ResourceAmounts(cpu=1))
    assert request.labels == {"tier": "cpu"} and request.node_ids == ()
    assert request.strategy is PlacementStrategy.PACK


def test_whole_node_pool_has_one_node_shaped_bundle_per_member() -> None:
    spec = PoolSpec("p", NodeSelector(labels={"tier": "cpu"}))
    request = pool_request(spec, [A, B])
    assert request.bundles == (A.capacity, B.capacity)
    assert request.strategy is PlacementStrategy.STRICT_SPREAD
    with pytest.raises(NoLiveMembers):
        pool_request(spec, [])


def test_selection_labels_cannot_express_is_by_member_node_ids() -> None:
    by_ids = PoolSpec("p", NodeSelector(node_ids=("a", "b")), share=ResourceAmounts(cpu=1))
    assert pool_request(by_ids, [A, B]).node_ids == ("a", "b")
    by_resource = PoolSpec(
        "q", NodeSelector(custom_resources=("accel",)), share=ResourceAmounts(cpu=1)
    )
    assert pool_request(by_resource, [C]).node_ids == ("c",)  # the bundle lacks accel
    with pytest.raises(NoLiveMembers):
        pool_request(by_resource, [])
    whole = PoolSpec("r", NodeSelector(custom_resources=("accel",)))
    assert pool_request(whole, [C]).node_ids == ()  # its bundle asks for accel itself
    reservation = res("r", 0, 10, PENDING)
    assert reservation_request(reservation, by_resource, [C]).node_ids == ("c",)
    assert reservation_request(reservation, by_ids, [A, B]).bundles == (ResourceAmounts(cpu=1),)


def test_every_update_is_a_new_generation() -> None:
    spec = PoolSpec("p")
    assert pool_generation(PoolRecord(spec, 1.0, 1.5)) == 1500
    assert pool_generation(PoolRecord(spec, 1.0, 1.501)) == 1501
