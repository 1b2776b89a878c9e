"""Pure parts of live dispatching: node eligibility, one-task placement and rolling plans."""

from __future__ import annotations

import pytest

from models.resources import NodeInfo, ResourceAmounts
from scheduler import registry
from scheduler.placement.constraints import (
    PlacementContext,
    eligible_nodes,
    no_eligible_node_reason,
)
from scheduler.placement.live import Candidate, place_task
from scheduler.rolling import PlanSlot, PlanTask, build_problem, read_plan

GiB = 2**30


def _node(node_id: str, alive: bool = True, **labels: str) -> NodeInfo:
    cap = ResourceAmounts(cpu=4, memory=8 * GiB)
    return NodeInfo(node_id, "", alive, labels, cap, cap)


def test_eligible_nodes_apply_labels_replicas_affinity_and_spread() -> None:
    nodes = [_node("a", zone="x"), _node("b", zone="y"), _node("c", zone="y"), _node("d", False)]
    everywhere = PlacementContext(replica_nodes={"a", "b", "c", "d"})
    assert [n.node_id for n in eligible_nodes(nodes, {}, everywhere)] == ["a", "b", "c"]
    assert [n.node_id for n in eligible_nodes(nodes, {"zone": "y"}, everywhere)] == ["b", "c"]
    assert [n.node_id for n in eligible_nodes(nodes, {"zone": "!y"}, everywhere)] == ["a"]
    only_b = PlacementContext(replica_nodes={"b"})
    assert [n.node_id for n in eligible_nodes(nodes, {}, only_b)] == ["b"]
    near = PlacementContext(replica_nodes={"a", "b", "c"}, affinity_nodes={"c"})
    assert [n.node_id for n in eligible_nodes(nodes, {}, near)] == ["c"]
    far = PlacementContext(replica_nodes={"a", "b", "c"}, anti_affinity_nodes={"a", "c"})
    assert [n.node_id for n in eligible_nodes(nodes, {}, far)] == ["b"]
    split = PlacementContext(replica_nodes={"a", "b", "c"}, affinity_nodes={"a", "b"})
    assert eligible_nodes(nodes, {}, split) == []  # cannot be on two nodes at once
    loaded = PlacementContext(replica_nodes={"a", "b", "c"}, execution_load={"a": 2, "b": 1})
    assert [n.node_id for n in eligible_nodes(nodes, {}, loaded, spread=True)] == ["c"]


def test_the_reason_no_node_is_eligible_names_the_constraint_that_rules_all_out() -> None:
    nodes = [_node("a", zone="x"), _node("b", zone="y"), _node("c", zone="y"), _node("d", False)]
    hosts = {"a", "b", "c"}

    def why(
        labels: dict[str, str],
        context: PlacementContext,
        targets: dict[str, str] | None = None,
        scope: str = "the cluster",
    ) -> str:
        assert eligible_nodes(nodes, labels, context) == []
        return no_eligible_node_reason(nodes, labels, context, targets, scope)

    split = PlacementContext(hosts, affinity_nodes={"a", "b"})
    assert why({}, split, {"t1": "a", "t2": "b", "t3": "b"}) == (
        "affinity targets t1, t2, t3 ran on different nodes (a, b): the task can never be placed"
    )
    assert why({"zone": "z"}, PlacementContext(hosts), scope="pool 'gpu'") == (
        "no alive node in pool 'gpu' matches node_labels {zone: z}"
    )
    assert why({"zone": "y"}, PlacementContext({"a"})) == (
        "no alive node matching node_labels {zone: y} hosts a ready replica of its agent"
    )
    near_d = PlacementContext(hosts, affinity_nodes={"d"})
    assert why({}, near_d, {"t1": "d"}) == "affinity target t1 ran on node d, which is not alive"
    near_a = PlacementContext(hosts, affinity_nodes={"a"})
    assert why({"zone": "y"}, near_a, {"t1": "a"}) == (
        "affinity target t1 ran on node a, which does not match node_labels {zone: y}"
    )
    both = PlacementContext(hosts, affinity_nodes={"a"}, anti_affinity_nodes={"a"})
    assert why({}, both).endswith("ran on node a, which also runs an anti-affinity target")
    far = PlacementContext(hosts, anti_affinity_nodes=hosts)
    assert why({}, far) == "every node that hosts a ready replica runs an anti-affinity target"


def _candidate(node_id: str, cpu_free: float, gpu: float = 0, gpu_free: float = 0) -> Candidate:
    cap = ResourceAmounts(cpu=8, memory=16 * GiB, gpu=gpu)
    return Candidate(node_id, cap, ResourceAmounts(cpu=cpu_free, memory=16 * GiB, gpu=gpu_free))


def test_place_task_follows_the_policy_and_respects_capacity() -> None:
    nodes = [_candidate("roomy", 8), _candidate("tight", 2), _candidate("gpu", 8, 2, 1.5)]
    one_cpu = ResourceAmounts(cpu=1)
    assert place_task(nodes, one_cpu, "best-fit") == "tight"
    assert place_task(nodes, one_cpu, "first-fit") == "roomy"
    assert place_task(nodes, ResourceAmounts(cpu=1, gpu=0.5), "best-fit") == "gpu"
    assert place_task(nodes, ResourceAmounts(cpu=1, gpu=2), "best-fit") is None  # 1.5 free
    assert place_task(nodes, ResourceAmounts(cpu=3), "best-fit") in {"roomy", "gpu"}
    assert place_task(nodes, ResourceAmounts(cpu=9), "worst-fit") is None
    custom = [
        Candidate(
            "acc",
            ResourceAmounts(cpu=1, custom={"acc": 1}),
            ResourceAmounts(cpu=1, custom={"acc": 1}),
        )
    ]
    assert place_task(nodes + custom, ResourceAmounts(custom={"acc": 1}), "best-fit") == "acc"
    with pytest.raises(ValueError, match="unknown placement policy"):
        place_task(nodes, one_cpu, "magic")


def test_rolling_plan_keeps_dependencies_and_maps_back_to_tasks_and_nodes() -> None:
    tasks = [
        PlanTask("e1", "a", "work", 500, ready=True),
        PlanTask("e1", "b", "work", 300, ready=True),
        PlanTask("e1", "c", "work", 200, depends_on=("a", "b")),
        PlanTask("e2", "x", "gone", 100, ready=True),  # no replica: not planned
    ]
    slots = [PlanSlot("work", "w0", "n1"), PlanSlot("work", "w1", "n2")]
    live = build_problem("live", tasks, slots)
    assert live is not None
    assert live.dropped == (("e2", "x"),)
    for name in ("cpsat", "ga", "ml", "mwkr"):
        plan = read_plan(live, registry.solve(live.problem, name, 2.0, 0))
        assert set(plan) == {("e1", "a"), ("e1", "b"), ("e1", "c")}
        assert plan["e1", "c"].start >= max(plan["e1", "a"].end, plan["e1", "b"].end)
        assert {p.node for p in plan.values()} <= {"n1", "n2"}
    assert build_problem("none", tasks[3:], slots) is None


@pytest.mark.parametrize("policy", ["first-fit", "best-fit", "worst-fit"])
def test_scalar_placement_picks_what_the_array_policies_pick(policy: str) -> None:
    import random

    from scheduler.placement import live

    rng = random.Random(policy)
    for _ in range(400):
        candidates = []
        for i in range(rng.randrange(1, 7)):
            cap = ResourceAmounts(
                cpu=rng.choice([2, 4, 8, 16]),
                memory=rng.choice([4, 8, 64]) * GiB,
                gpu=rng.choice([0.0, 0.0, 1.0, 2.5]),
            )
            free = ResourceAmounts(
                cpu=cap.cpu - rng.randrange(0, int(cap.cpu) + 2) * rng.choice([0.5, 1.0]),
                memory=cap.memory - rng.randrange(0, 5) * GiB,
                gpu=max(0.0, cap.gpu - rng.choice([0.0, 0.5, 1.0])),
            )
            candidates.append(live.Candidate(f"n{i}", cap, free))
        demand = ResourceAmounts(cpu=rng.choice([0.5, 1.0, 2.0]), memory=rng.choice([1, 2]) * GiB)
        pod = live._pod("task", demand)
        expected = live._place_with_arrays(candidates, pod, demand, policy, ())
        assert place_task(candidates, demand, policy) == expected
