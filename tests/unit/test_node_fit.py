"""A replica no node of the cluster can hold is named, field by field, with the largest
node's capacity of that resource."""

from __future__ import annotations

from controlplane.engine.agents.node_fit import fits_nowhere_message, impossible_demands
from models.agents import ReplicaResources
from models.resources import NodeInfo, ResourceAmounts

GIB = 1 << 30


def node(name: str, alive: bool = True, **capacity: object) -> NodeInfo:
    amounts = ResourceAmounts(**capacity)  # type: ignore[arg-type]
    return NodeInfo(name, "10.0.0.1", alive, capacity=amounts, free=amounts)


NODES = [
    node("a", cpu=2.0, memory=4 * GIB),
    node("b", cpu=8.0, memory=2 * GIB, custom={"tpu": 4.0}),
    node("dead", alive=False, cpu=64.0, gpu=8.0, memory=512 * GIB),
]


def problems(**resources: object) -> list[tuple[str, str]]:
    found = impossible_demands(ReplicaResources(**resources), NODES)  # type: ignore[arg-type]
    return [(p.field, p.description) for p in found]


def test_each_resource_is_checked_against_the_largest_live_node() -> None:
    assert problems(num_cpus=1e6) == [
        ("agent.resources.num_cpus", "1000000 exceeds the largest node (8 CPUs)")
    ]
    assert problems(num_cpus=8.5, num_gpus=8) == [
        ("agent.resources.num_cpus", "8.5 exceeds the largest node (8 CPUs)"),
        ("agent.resources.num_gpus", "8 exceeds the largest node (no node has GPUs)"),
    ]
    assert problems(memory=5 * GIB) == [
        ("agent.resources.memory", "5.0 GiB exceeds the largest node (4.0 GiB)")
    ]
    assert problems(custom={"accel": 1.0}) == [
        (
            "agent.resources.custom[accel]",
            "1 exceeds the largest node (no node has the resource 'accel')",
        )
    ]


def test_what_fits_on_some_node_passes() -> None:
    assert problems() == []
    assert problems(num_cpus=8, custom={"tpu": 4.0}) == []
    assert problems(num_cpus=2, memory=4 * GIB) == []


def test_a_demand_no_single_node_holds_together_is_refused() -> None:
    # 8 CPUs only on b, 4 GiB only on a.
    assert problems(num_cpus=8, memory=3 * GIB) == [
        ("agent.resources", "no node has 8 CPUs, 3.0 GiB together (checked 2 nodes)")
    ]


def test_no_live_node_known_refuses_nothing() -> None:
    assert impossible_demands(ReplicaResources(num_cpus=1e6), []) == []
    dead_only = [node("dead", alive=False, cpu=1.0)]
    assert impossible_demands(ReplicaResources(num_cpus=1e6), dead_only) == []


def test_message_names_the_agent_and_every_field() -> None:
    found = impossible_demands(ReplicaResources(num_cpus=1e6), [node("a", cpu=2.0)])
    assert fits_nowhere_message("big", found) == (
        "agent 'big' cannot be placed on this cluster: "
        "agent.resources.num_cpus: 1000000 exceeds the largest node (2 CPUs)"
    )
