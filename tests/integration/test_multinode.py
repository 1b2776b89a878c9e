"""Pools, reservations and cluster observation on a 3-node local Ray cluster.

Node A (head): 2 CPUs, zone=a tier=cpu. Node B: 1 CPU, zone=b tier=cpu.
Node C: 1 CPU + accelerator_x=2, small memory, zone=b tier=accel.
Tests that change the cluster's shape (removing node B) run last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from models.resources import NodeInfo, NodeSelector, PlacementStrategy, ResourceAmounts
from ray_backend import pools
from ray_backend.cluster_state import observe_nodes
from scheduler.cluster import fragmentation, select_nodes, total_capacity, total_free
from tests.integration.conftest import eventually

ACCEL = "accelerator_x"
READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class ThreeNodes:
    cluster: Cluster
    a: str
    b: str
    c: str
    b_node: Any  # the ray._private.node.Node handle for cluster.remove_node


@pytest.fixture(scope="module")
def three_nodes() -> Iterator[ThreeNodes]:
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "labels": {"zone": "a", "tier": "cpu"},
            "include_dashboard": False,
        },
    )
    try:
        b = cluster.add_node(num_cpus=1, labels={"zone": "b", "tier": "cpu"})
        c = cluster.add_node(
            num_cpus=1,
            resources={ACCEL: 2},
            labels={"zone": "b", "tier": "accel"},
            memory=256 * 1024 * 1024,
        )
        head = cluster.head_node
        assert head is not None
        ray.init(address=cluster.address, log_to_driver=False)
        eventually(lambda: len([n for n in observe_nodes() if n.alive]) == 3)
        yield ThreeNodes(
            cluster=cluster,
            a=head.node_id,
            b=b.node_id,
            c=c.node_id,
            b_node=b,
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


def _node(nodes: list[NodeInfo], node_id: str) -> NodeInfo:
    return next(n for n in nodes if n.node_id == node_id)


def _free(node_id: str, resource: str) -> float:
    return _node(observe_nodes(), node_id).free.get(resource)


@ray.remote
class WhereAmI:
    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()


def test_observe_nodes_sees_three_alive_nodes_with_labels_and_capacity(
    three_nodes: ThreeNodes,
) -> None:
    # The way the engine calls it: a blocking function run in a worker thread.
    nodes = asyncio.run(asyncio.to_thread(observe_nodes))
    assert [n.alive for n in nodes] == [True, True, True]
    a, b, c = (_node(nodes, i) for i in (three_nodes.a, three_nodes.b, three_nodes.c))
    assert a.labels["zone"] == "a" and a.labels["tier"] == "cpu"
    assert b.labels["zone"] == "b" and b.labels["tier"] == "cpu"
    assert c.labels["zone"] == "b" and c.labels["tier"] == "accel"
    assert c.labels[pools.NODE_ID_LABEL] == three_nodes.c  # Ray's default label
    assert (a.capacity.cpu, b.capacity.cpu, c.capacity.cpu) == (2.0, 1.0, 1.0)
    assert c.capacity.custom == {ACCEL: 2.0}
    assert a.capacity.custom == {} and b.capacity.custom == {}
    assert c.capacity.memory == 256 * 1024 * 1024
    assert all(n.address for n in nodes)
    # Nothing reserved yet: everything is free.
    for node in nodes:
        assert node.free.get("cpu") == node.capacity.cpu
        assert node.free.get(ACCEL) == node.capacity.get(ACCEL)
    assert total_capacity(nodes).cpu == 4.0


def test_select_nodes_by_label_and_custom_resource(three_nodes: ThreeNodes) -> None:
    nodes = observe_nodes()

    def ids(selector: NodeSelector) -> set[str]:
        return {n.node_id for n in select_nodes(nodes, selector)}

    t = three_nodes
    assert ids(NodeSelector(labels={"zone": "b"})) == {t.b, t.c}
    assert ids(NodeSelector(labels={"zone": "b", "tier": "cpu"})) == {t.b}
    assert ids(NodeSelector(labels={"tier": "!accel"})) == {t.a, t.b}
    assert ids(NodeSelector(labels={"zone": "in(a,c)"})) == {t.a}
    assert ids(NodeSelector(labels={"gpu-kind": "!in(h100)"})) == {t.a, t.b, t.c}
    assert ids(NodeSelector(custom_resources=(ACCEL,))) == {t.c}
    assert ids(NodeSelector(custom_resources=("nope",))) == set()
    assert ids(NodeSelector(labels={"zone": "b"}, node_ids=(t.b, t.a))) == {t.b}
    assert ids(NodeSelector()) == {t.a, t.b, t.c}


def test_accel_pool_reserves_accelerator_and_actor_lands_on_node_c(
    three_nodes: ThreeNodes,
) -> None:
    accel_nodes = select_nodes(observe_nodes(), NodeSelector(labels={"tier": "accel"}))
    assert [n.node_id for n in accel_nodes] == [three_nodes.c]
    share = ResourceAmounts(cpu=1, custom={ACCEL: 2})
    pg = pools.create_pool_placement_group(
        "accel-pool",
        [pools.bundle_from_amounts(share)],
        PlacementStrategy.STRICT_PACK,
        [n.node_id for n in accel_nodes],
    )
    try:
        assert pools.wait_ready(pg, READY_TIMEOUT)
        realization = pools.pool_realization("accel-pool", pg)
        assert realization.node_ids == (three_nodes.c,)
        assert realization.capacity == share
        assert realization.placement_group_id == pg.id.hex()
        assert pools.lookup_pool("accel-pool") is not None
        # Ray holds the accelerators for the pool: none is free outside it.
        eventually(lambda: _free(three_nodes.c, ACCEL) == 0.0)
        assert _free(three_nodes.c, "cpu") == 0.0

        actor = WhereAmI.options(  # type: ignore[attr-defined]
            num_cpus=0, resources={ACCEL: 1}, **pools.actor_options_for_pool(pg)
        ).remote()
        assert ray.get(actor.node_id.remote(), timeout=READY_TIMEOUT) == three_nodes.c
        ray.kill(actor)
    finally:
        pools.remove_pool(pg)
    eventually(lambda: _free(three_nodes.c, ACCEL) == 2.0)
    assert pools.lookup_pool("accel-pool") is None


def test_strict_spread_whole_nodes_over_zone_b(three_nodes: ThreeNodes) -> None:
    zone_b = select_nodes(observe_nodes(), NodeSelector(labels={"zone": "b"}))
    assert {n.node_id for n in zone_b} == {three_nodes.b, three_nodes.c}
    pg = pools.create_whole_node_pool("zone-b", zone_b)
    try:
        assert pools.wait_ready(pg, READY_TIMEOUT)
        realization = pools.pool_realization("zone-b", pg)
        assert realization.node_ids == tuple(n.node_id for n in zone_b)
        assert realization.capacity.cpu == 2.0
        assert realization.capacity.get(ACCEL) == 2.0

        def zone_b_taken() -> bool:
            nodes = observe_nodes()
            return all(_node(nodes, n.node_id).free.cpu == 0.0 for n in zone_b)

        eventually(zone_b_taken)
        assert _free(three_nodes.a, "cpu") == 2.0
        # One actor per bundle: each lands on the node its bundle is pinned to.
        for index, node in enumerate(zone_b):
            actor = WhereAmI.options(  # type: ignore[attr-defined]
                num_cpus=1, **pools.actor_options_for_pool(pg, index)
            ).remote()
            assert ray.get(actor.node_id.remote(), timeout=READY_TIMEOUT) == node.node_id
            ray.kill(actor)
    finally:
        pools.remove_pool(pg)
    eventually(lambda: _free(three_nodes.b, "cpu") == 1.0 and _free(three_nodes.c, "cpu") == 1.0)


def test_strict_spread_needs_distinct_nodes(three_nodes: ThreeNodes) -> None:
    zone_b = [three_nodes.b, three_nodes.c]
    # Two bundles over the two zone-b nodes fit; three cannot (STRICT_SPREAD, 2 nodes).
    ok = pools.create_pool_placement_group(
        "spread-2", [{"CPU": 0.5}] * 2, PlacementStrategy.STRICT_SPREAD, zone_b
    )
    too_many = pools.create_pool_placement_group(
        "spread-3", [{"CPU": 0.1}] * 3, PlacementStrategy.STRICT_SPREAD, zone_b
    )
    try:
        assert pools.wait_ready(ok, READY_TIMEOUT)
        assert set(pools.pool_realization("spread-2", ok).node_ids) == set(zone_b)
        assert not pools.wait_ready(too_many, 1.0)
        assert pools.pool_realization("spread-3", too_many).node_ids == ()
    finally:
        pools.remove_pool(ok)
        pools.remove_pool(too_many)
    eventually(lambda: _free(three_nodes.b, "cpu") == 1.0 and _free(three_nodes.c, "cpu") == 1.0)


def test_fragmentation_figure() -> None:
    def node(node_id: str, cpu: float, acc: float = 0.0, alive: bool = True) -> NodeInfo:
        free = ResourceAmounts(cpu=cpu, custom={ACCEL: acc} if acc else {})
        return NodeInfo(node_id, "10.0.0.1", alive, {}, capacity=free, free=free)

    nodes = [node("a", 2.0), node("b", 1.0, acc=2.0), node("c", 1.0), node("d", 8.0, alive=False)]
    # Largest free block 2 of 4 free CPUs on live nodes; the dead node does not count.
    assert fragmentation(nodes, "cpu") == pytest.approx(0.5)
    assert fragmentation(nodes, ACCEL) == 0.0  # all on one node
    assert fragmentation(nodes, "gpu") == 0.0  # nothing free
    assert fragmentation([node("x", 1.0), node("y", 1.0)], "cpu") == pytest.approx(0.5)
    assert fragmentation([node("x", 0.0), node("y", 0.0)], "cpu") == 0.0
    assert fragmentation([], "cpu") == 0.0


def test_fragmentation_on_live_cluster(three_nodes: ThreeNodes) -> None:
    # Earlier tests' groups are removed asynchronously: wait until every CPU is free again.
    def settled() -> list[NodeInfo] | None:
        nodes = observe_nodes()
        return nodes if total_free(nodes).cpu == 4.0 else None

    nodes = eventually(settled)
    assert fragmentation(nodes, "cpu") == pytest.approx(0.5)  # 2 of 4 free CPUs on node A
    assert fragmentation(nodes, ACCEL) == 0.0


def test_release_frees_the_resources(three_nodes: ThreeNodes) -> None:
    total = eventually(lambda: ray.available_resources().get("CPU"))
    handle = pools.reserve([{"CPU": 1.0}, {"CPU": 1.0}], PlacementStrategy.PACK, name="window")
    try:
        assert pools.wait_ready(handle, READY_TIMEOUT)
        eventually(lambda: ray.available_resources().get("CPU", 0.0) == total - 2.0)
        assert total_free(observe_nodes()).cpu == total - 2.0
    finally:
        pools.release(handle)
    eventually(lambda: ray.available_resources().get("CPU", 0.0) == total)
    eventually(lambda: total_free(observe_nodes()).cpu == total)
    pools.release(handle)  # releasing twice (window end + cleanup) is harmless


def test_removed_node_is_reported_dead(three_nodes: ThreeNodes) -> None:
    three_nodes.cluster.remove_node(three_nodes.b_node)

    def b_gone() -> bool:
        nodes = observe_nodes()
        b = [n for n in nodes if n.node_id == three_nodes.b]
        return not b or not b[0].alive

    eventually(b_gone, timeout=30)
    nodes = observe_nodes()
    assert {n.node_id for n in nodes if n.alive} == {three_nodes.a, three_nodes.c}
    assert select_nodes(nodes, NodeSelector(labels={"zone": "b"}))[0].node_id == (three_nodes.c)
    assert total_capacity(nodes).cpu == 3.0
