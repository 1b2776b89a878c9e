"""The engine's queue system on a 3-node Ray cluster, through the gRPC API: placement by
custom resource and labels, quota enforcement, fair share between two namespaces under
contention, and preemption with requeue (real Sleeper replicas, real cancellation).

Node A (head): 2 CPUs, zone=a. Node B: 2 CPUs, zone=b. Node C: no CPU, accelerator_x=2,
zone=c. Every node has one `replica_slot` per namespace, and each replica of a namespace's
sleeper takes one of its namespace's, so each namespace's three replicas run one per node (a
task runs on the agent of its execution's namespace: each namespace deploys its sleeper).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec, ReplicaResources
from models.executions import EventType, ExecutionRecord, ExecutionStatus
from models.queueing import NamespacePolicy, Quota
from models.resources import ResourceAmounts
from ray_backend import cluster as ray_cluster
from ray_backend.cluster_state import observe_nodes
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

ACCEL = "accelerator_x"
NAMESPACES = ("default", "capped", "light", "heavy", "background", "interactive", "planned")
SLOTS = {f"replica_slot_{ns}": 1.0 for ns in NAMESPACES}


@dataclass(frozen=True)
class Setup:
    client: OrchestratorClient
    server: ServerThread
    nodes: dict[str, str]  # zone -> node id


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "resources": SLOTS,
            "labels": {"zone": "a"},
            "include_dashboard": False,
        },
    )
    server = None
    try:
        cluster.add_node(num_cpus=2, resources=SLOTS, labels={"zone": "b"})
        cluster.add_node(num_cpus=0, resources={ACCEL: 2, **SLOTS}, labels={"zone": "c"})
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        ray_cluster.connect(cluster.address, namespace=namespace)
        eventually(lambda: len([n for n in observe_nodes() if n.alive]) == 3)
        zones = {n.labels["zone"]: n.node_id for n in observe_nodes()}
        server = ServerThread(tmp_path_factory.mktemp("cp"), namespace)
        with OrchestratorClient(server.address) as client:
            setup = Setup(client, server, zones)
            with sleepers(setup, "default"):
                yield setup
    finally:
        if server is not None:
            server.stop()
        ray_cluster.disconnect()
        cluster.shutdown()


@contextlib.contextmanager
def sleepers(setup: Setup, *namespaces: str) -> Iterator[None]:
    """The sleeper of each namespace, three replicas one per node, removed afterwards."""
    clients = [OrchestratorClient(setup.server.address, namespace=ns) for ns in namespaces]
    try:
        for client, namespace in zip(clients, namespaces, strict=True):
            slot = {f"replica_slot_{namespace}": 1.0}
            spec = AgentSpec(
                "sleeper",
                "v1",
                "samples.agents:SleeperAgent",
                replicas=3,
                resources=ReplicaResources(custom=slot),
            )
            client.deploy_agent(spec)
            replica_nodes = {r.node_id for r in client.get_agent("sleeper").replicas}
            assert replica_nodes == set(setup.nodes.values()), "one replica per node"
        yield
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                client.delete_agent("sleeper")
            client.close()


def _in(setup: Setup, namespace: str) -> OrchestratorClient:
    """A client of the control plane working in `namespace` (its workflows and executions)."""
    return OrchestratorClient(setup.client.address, namespace=namespace)


def _workflow(name: str, tasks: list[dict[str, Any]]) -> str:
    return json.dumps({"name": name, "tasks": tasks})


def _task(task_id: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "agent": "sleeper", "input": {"seconds": seconds}, **extra}


def _finished(
    client: OrchestratorClient, execution_id: str, timeout: float = 60
) -> ExecutionRecord:
    return eventually(
        lambda: (lambda r: r if r.status.terminal else None)(client.get_execution(execution_id)),
        timeout=timeout,
    )


def _nodes_of(client: OrchestratorClient, execution_id: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in client.watch_execution(execution_id):
        if event.type is EventType.ATTEMPT_STARTED:
            out.setdefault(event.task_id, []).append(str(event.details.get("node", "")))
    return out


def test_tasks_go_where_their_resources_and_labels_are(setup: Setup) -> None:
    client = setup.client
    client.create_workflow(
        _workflow(
            "placed",
            [
                _task("accel", 0.1, resources={ACCEL: 1}),
                _task("zone_b", 0.1, placement={"node_labels": {"zone": "b"}}),
                _task(
                    "big",
                    0.1,
                    resources={"cpu": 2},
                    placement={"anti_affinity": ["zone_b"]},
                    depends_on=["zone_b"],
                ),
            ],
        )
    )
    started = client.start_execution("placed")
    done = _finished(client, started.execution.execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED
    where = _nodes_of(client, done.execution_id)
    assert where["accel"] == [setup.nodes["c"]]
    assert where["zone_b"] == [setup.nodes["b"]]
    assert where["big"] == [setup.nodes["a"]]  # the only other node with 2 CPUs


def _intervals(record: ExecutionRecord) -> list[tuple[float, float]]:
    return sorted(
        (a.start_time, a.end_time or a.start_time)
        for t in record.tasks.values()
        for a in t.attempts
    )


def test_quota_caps_what_a_namespace_runs_at_once(setup: Setup) -> None:
    setup.client.set_quota(NamespacePolicy("capped", quota=Quota(ResourceAmounts(cpu=1))))
    with sleepers(setup, "capped"), _in(setup, "capped") as client:
        client.create_workflow(
            _workflow("four", [_task(f"t{i}", 0.4, resources={"cpu": 1}) for i in range(4)])
        )
        started = client.start_execution("four")
        done = _finished(client, started.execution.execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED
    spans = _intervals(done)
    assert all(end <= nxt_start + 1e-3 for (_, end), (nxt_start, _) in pairwise(spans))


def test_fair_share_converges_to_the_weights(setup: Setup) -> None:
    client = setup.client
    client.set_quota(NamespacePolicy("heavy", weight=3))
    client.set_quota(NamespacePolicy("light", weight=1))
    tasks = [_task(f"t{i}", 0.6, resources={"cpu": 1}) for i in range(12)]
    with (
        sleepers(setup, "light", "heavy"),
        _in(setup, "heavy") as in_heavy,
        _in(setup, "light") as in_light,
    ):
        for team in (in_light, in_heavy):
            team.create_workflow(_workflow("fair", tasks))
        light = in_light.start_execution("fair").execution.execution_id
        heavy = in_heavy.start_execution("fair").execution.execution_id
        samples: list[tuple[int, int]] = []

        def sample() -> bool:
            usage = {n.namespace: n for n in client.cluster_state().namespaces}
            h, lt = usage.get("heavy"), usage.get("light")
            if h is not None and lt is not None and h.queued_tasks and lt.queued_tasks:
                samples.append((h.running_tasks, lt.running_tasks))
            return in_heavy.get_execution(heavy).status.terminal

        eventually(sample, timeout=60, interval=0.1)
        _finished(in_light, light)
    later = samples[len(samples) // 3 :]  # after the first attempts end, DRF decides
    assert later, "both namespaces were backlogged for a while"
    share = sum(h for h, _ in later) / sum(h + lt for h, lt in later)
    assert 0.65 <= share <= 0.85, f"heavy's share of 4 CPUs was {share:.2f}, weights say 0.75"


def test_higher_priority_preempts_and_the_victim_is_requeued(setup: Setup) -> None:
    setup.client.set_quota(NamespacePolicy("background", priority=0))
    setup.client.set_quota(NamespacePolicy("interactive", priority=10))
    with (
        sleepers(setup, "background", "interactive"),
        _in(setup, "background") as client,
        _in(setup, "interactive") as interactive,
    ):
        client.create_workflow(
            _workflow("hog", [_task("hold", 3.0, resources={ACCEL: 2}, retry={"max_attempts": 1})])
        )
        interactive.create_workflow(_workflow("urgent", [_task("now", 0.2, resources={ACCEL: 2})]))
        low = client.start_execution("hog").execution.execution_id
        eventually(lambda: client.get_execution(low).tasks["hold"].attempts)
        high = interactive.start_execution("urgent").execution.execution_id
        assert _finished(interactive, high).status is ExecutionStatus.SUCCEEDED
        done = _finished(client, low)
        events = list(client.watch_execution(low))
    assert done.status is ExecutionStatus.SUCCEEDED  # requeued and run again, not charged
    preempted = [e for e in events if e.type is EventType.ATTEMPT_PREEMPTED]
    assert len(preempted) == 1
    assert "interactive" in str(preempted[0].details["reason"])
    attempts = done.tasks["hold"].attempts
    assert [a.status.value for a in attempts] == ["PREEMPTED", "SUCCEEDED"]


def test_namespace_plan_is_reported_and_adopted(setup: Setup) -> None:
    client = setup.client
    kinds = {s.name: s.kind for s in client.list_schedulers()}
    assert kinds["cpsat"] == "batch" and kinds["fgd"] == "placement"
    policy = NamespacePolicy(
        "planned", batch_scheduler="cpsat", quota=Quota(ResourceAmounts(cpu=1))
    )
    client.set_quota(policy)
    with sleepers(setup, "planned"):
        planned_in = _in(setup, "planned")
        planned_in.create_workflow(
            _workflow(
                "pipeline",
                [
                    _task("a", 0.5, resources={"cpu": 1}),
                    _task("b", 0.5, resources={"cpu": 1}),
                    _task("c", 0.5, resources={"cpu": 1}, depends_on=["a"]),
                ],
            )
        )
        execution_id = planned_in.start_execution("pipeline").execution.execution_id
        eventually(lambda: planned_in.get_execution(execution_id).tasks["a"].attempts)
        plan = client.plan(namespace="planned", time_limit_s=5, adopt=True)
        assert plan.scheduler.startswith("cpsat")
        planned = {op.task_id: op for op in plan.operations}
        assert {op.execution_id for op in plan.operations} == {execution_id}
        assert set(planned) <= {"a", "b", "c"} and "c" in planned
        assert all(op.node_id in setup.nodes.values() for op in plan.operations)
        if "a" in planned:
            assert planned["c"].start >= planned["a"].end  # the dependency holds in the plan
        assert _finished(planned_in, execution_id).status is ExecutionStatus.SUCCEEDED
        planned_in.close()
