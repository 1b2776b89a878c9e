"""Pools and reservations as Ray placement groups, agents deployed into pools, and node loss,
through the gRPC API of an in-process control plane on a 3-node local Ray cluster.

Node A (head): 2 CPUs, zone=a tier=cpu. Node B: 1 CPU, zone=b tier=cpu.
Node C: 1 CPU + accelerator_x=2, 256 MiB memory, zone=b tier=accel.
The tests share one cluster and one control plane and run in order, each building on the
last: pools, reservations, deployment into a pool, node loss (node B goes for good), a pool
update, a pool group removed behind the control plane's back, and a control plane restarted
with a new Ray driver.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import ray
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from ray.cluster_utils import Cluster
from ray.util.placement_group import (
    get_placement_group,
    placement_group_table,
    remove_placement_group,
)

from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
    workflow_pb2,
)
from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc
from controlplane.app import ControlPlane
from controlplane.config import ServerConfig
from controlplane.ports import AgentBackend
from controlplane.store.capacity import CapacityStore
from models.capacity import PoolRepair, PoolRepairPhase
from ray_backend.backend import RayAgentBackend
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

ACCEL = "accelerator_x"
READY = resource_pb2.REALIZATION_STATE_READY
R = resource_pb2


class PoolServer(ServerThread):
    """The control plane with short waits, so unplaceable replicas fail fast and the
    reservation and pool loops turn quickly."""

    @staticmethod
    async def _build(
        config: ServerConfig, backend: AgentBackend | None, clock: Callable[[], float]
    ) -> ControlPlane:
        if backend is None:
            backend = RayAgentBackend(
                namespace=config.ray.namespace, ready_timeout_s=15.0, health_interval_s=0.5
            )
        fast = config.override(
            {"loops.reservation_interval_s": 0.2, "loops.pool_reconcile_interval_s": 0.5}
        )
        return ControlPlane(fast, backend=backend, clock=clock)


@dataclass
class Env:
    cluster: Cluster
    namespace: str
    data_dir: Path
    a: str
    b: str
    c: str
    b_node: Any  # the ray._private.node.Node of node B, for cluster.remove_node
    server: PoolServer | None = None
    channel: grpc.Channel = dataclasses.field(init=False)

    def start(self) -> None:
        self.server = PoolServer(self.data_dir, self.namespace)
        self.channel = grpc.insecure_channel(self.server.address)

    def stop(self) -> None:
        if self.server is not None:
            self.channel.close()
            self.server.stop(destroy_replicas=False)
            self.server = None

    @property
    def resources(self) -> resource_pb2_grpc.ResourceServiceStub:
        return resource_pb2_grpc.ResourceServiceStub(self.channel)

    @property
    def agents(self) -> agent_pb2_grpc.AgentServiceStub:
        return agent_pb2_grpc.AgentServiceStub(self.channel)

    @property
    def workflows(self) -> wf_grpc.WorkflowServiceStub:
        return wf_grpc.WorkflowServiceStub(self.channel)

    def free(self, node_id: str, resource: str = "cpu") -> float:
        state = self.resources.GetClusterState(R.GetClusterStateRequest(), timeout=30)
        node = next(n for n in state.nodes if n.node_id == node_id)
        if resource == "cpu":
            return node.free.cpu
        return node.free.custom.get(resource, 0.0)

    def pool(self, name: str) -> resource_pb2.Pool:
        return self.resources.GetPool(R.GetPoolRequest(name=name), timeout=30).pool

    def reservation(self, reservation_id: str) -> resource_pb2.Reservation:
        return self.resources.GetReservation(
            R.GetReservationRequest(reservation_id=reservation_id), timeout=30
        ).reservation


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
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
    env: Env | None = None
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
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        ray.init(address=cluster.address, namespace=namespace, log_to_driver=False)
        eventually(lambda: len([n for n in ray.nodes() if n["Alive"]]) == 3)
        data_dir: Path = tmp_path_factory.mktemp("pools")
        env = Env(cluster, namespace, data_dir, head.node_id, b.node_id, c.node_id, b)
        env.start()
        yield env
    finally:
        if env is not None:
            env.stop()
        ray.shutdown()
        cluster.shutdown()


def violations(err: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "error carries no google.rpc.Status"
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


def _group(placement_group_id: str) -> dict[str, Any]:
    """The cluster-wide placement group table's entry for one group."""
    table: dict[str, dict[str, Any]] = placement_group_table()
    return table.get(placement_group_id, {})


def _group_nodes(placement_group_id: str) -> set[str]:
    return set(_group(placement_group_id)["bundles_to_node_id"].values())


def test_pools_by_label_and_by_custom_resource_are_placement_groups(env: Env) -> None:
    cpu = env.resources.CreatePool(
        R.CreatePoolRequest(
            pool=R.PoolSpec(
                name="cpu",
                selector=R.NodeSelector(labels={"tier": "cpu"}),
                share=R.ResourceAmounts(cpu=2),
                strategy=R.PLACEMENT_STRATEGY_SPREAD,
            )
        ),
        timeout=60,
    ).pool
    assert cpu.realization == READY, cpu.message
    assert set(cpu.node_ids) == {env.a, env.b} and cpu.capacity.cpu == 2
    group = _group(cpu.placement_group_id)
    assert group["name"].startswith("pool:cpu:") and group["state"] == "CREATED"
    # Two 1-CPU bundles, spread over the two tier=cpu nodes.
    assert list(group["bundles"].values()) == [{"CPU": 1.0}, {"CPU": 1.0}]
    assert _group_nodes(cpu.placement_group_id) == {env.a, env.b}
    eventually(lambda: env.free(env.b) == 0.0)

    accel = env.resources.CreatePool(
        R.CreatePoolRequest(
            pool=R.PoolSpec(
                name="accel",
                selector=R.NodeSelector(custom_resources=[ACCEL]),
                whole_nodes=True,
            )
        ),
        timeout=60,
    ).pool
    assert accel.realization == READY, accel.message
    assert list(accel.node_ids) == [env.c] and accel.capacity.custom[ACCEL] == 2
    assert _group_nodes(accel.placement_group_id) == {env.c}
    # The whole node is held by the pool: nothing of it is free outside.
    eventually(lambda: env.free(env.c, ACCEL) == 0.0 and env.free(env.c) == 0.0)
    listed = env.resources.ListPools(R.ListPoolsRequest(), timeout=30).pools
    assert {p.spec.name: p.realization for p in listed} == {"accel": READY, "cpu": READY}
    assert env.pool("accel").placement_group_id == accel.placement_group_id

    env.resources.DeletePool(R.DeletePoolRequest(name="accel"), timeout=30)
    eventually(lambda: _group(accel.placement_group_id).get("state") == "REMOVED")
    eventually(lambda: env.free(env.c, ACCEL) == 2.0 and env.free(env.c) == 1.0)


def _reserve(env: Env, cpu: float, start: float, seconds: int) -> resource_pb2.Reservation:
    start_time = timestamp_pb2.Timestamp()
    start_time.FromNanoseconds(int(start * 1e9))
    return env.resources.Reserve(
        R.ReserveRequest(
            namespace="team-a",
            pool="cpu",
            resources=R.ResourceAmounts(cpu=cpu),
            start_time=start_time,
            duration=duration_pb2.Duration(seconds=seconds),
        ),
        timeout=30,
    ).reservation


def _in_state(env: Env, reservation_id: str, state: int) -> resource_pb2.Reservation | None:
    found = env.reservation(reservation_id)
    return found if found.state == state else None


def test_reservation_window_holds_capacity_then_gives_it_back(env: Env) -> None:
    # The cpu pool holds one CPU of A and all of B: A has one CPU free.
    eventually(lambda: env.free(env.a) == 1.0)
    pending = _reserve(env, 1, time.time() + 1.5, 3)
    assert pending.state == R.RESERVATION_STATE_PENDING and not pending.placement_group_id

    active = eventually(
        lambda: _in_state(env, pending.reservation_id, R.RESERVATION_STATE_ACTIVE), timeout=30
    )
    assert active.placement_group_id
    group = _group(active.placement_group_id)
    assert group["name"] == f"reservation:{pending.reservation_id}"
    assert group["state"] == "CREATED"
    # Inside the pool's nodes (tier=cpu); only A has room, and now holds it for the window.
    assert _group_nodes(active.placement_group_id) == {env.a}
    eventually(lambda: env.free(env.a) == 0.0)

    expired = eventually(
        lambda: _in_state(env, pending.reservation_id, R.RESERVATION_STATE_EXPIRED), timeout=30
    )
    assert expired.placement_group_id == active.placement_group_id
    eventually(lambda: _group(active.placement_group_id).get("state") == "REMOVED")
    eventually(lambda: env.free(env.a) == 1.0)


def test_reservation_ray_cannot_place_stays_pending_and_cancel_releases(env: Env) -> None:
    # Fits the pool's books (2 CPUs) but not the nodes: tier=cpu nodes have one CPU free.
    stuck = _reserve(env, 2, time.time(), 3600)

    def waiting() -> resource_pb2.Reservation | None:
        found = env.reservation(stuck.reservation_id)
        return found if "waiting for Ray" in found.message else None

    found = eventually(waiting, timeout=30)
    assert found.state == R.RESERVATION_STATE_PENDING and found.placement_group_id
    assert _group(found.placement_group_id)["state"] == "PENDING"
    cancelled = env.resources.CancelReservation(
        R.CancelReservationRequest(reservation_id=stuck.reservation_id), timeout=30
    ).reservation
    assert cancelled.state == R.RESERVATION_STATE_CANCELLED
    eventually(lambda: _group(found.placement_group_id).get("state") == "REMOVED")

    held = _reserve(env, 1, time.time(), 3600)
    active = eventually(
        lambda: _in_state(env, held.reservation_id, R.RESERVATION_STATE_ACTIVE), timeout=30
    )
    eventually(lambda: env.free(env.a) == 0.0)
    env.resources.CancelReservation(
        R.CancelReservationRequest(reservation_id=held.reservation_id), timeout=30
    )
    assert env.reservation(held.reservation_id).state == R.RESERVATION_STATE_CANCELLED
    eventually(lambda: _group(active.placement_group_id).get("state") == "REMOVED")
    eventually(lambda: env.free(env.a) == 1.0)


def _deploy(env: Env, name: str, cls: str, replicas: int, pool: str) -> agent_pb2.Agent:
    return env.agents.DeployAgent(
        agent_pb2.DeployAgentRequest(
            agent=agent_pb2.AgentSpec(
                name=name,
                version="v1",
                import_path=f"samples.agents:{cls}",
                replicas=replicas,
                resources=agent_pb2.ReplicaResources(num_cpus=1),
                pool=pool,
            )
        ),
        timeout=120,
    ).agent


def test_agent_replicas_run_in_the_pool_and_ray_enforces_its_capacity(env: Env) -> None:
    agent = _deploy(env, "pooled", "SleeperAgent", 2, "cpu")
    nodes = sorted(r.node_id for r in agent.replicas)
    assert nodes == sorted([env.a, env.b])  # one per 1-CPU bundle, both on pool members
    assert env.pool("cpu").allocated.cpu == 2

    # The pool is full although the cluster is not (A and C each have a CPU free): Ray does
    # not place a third replica, and the deployment fails instead of running outside.
    assert env.free(env.a) == 1.0 and env.free(env.c) == 1.0
    with pytest.raises(grpc.RpcError) as full:
        _deploy(env, "overflow", "EchoAgent", 1, "cpu")
    assert full.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "failed to start" in (full.value.details() or "")
    with pytest.raises(grpc.RpcError) as missing:
        _deploy(env, "nowhere", "EchoAgent", 1, "no-such-pool")
    assert missing.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations(missing.value) == ["agent.pool"]
    with pytest.raises(grpc.RpcError) as busy:
        env.resources.DeletePool(R.DeletePoolRequest(name="cpu"), timeout=30)
    assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION


# Spread: the two attempts go to replicas on different nodes (one of them on B).
GATED = """
name: gated
inputs: {gate: {type: string}}
tasks:
  - id: left
    agent: pooled
    input: {until_file: "${inputs.gate}", seconds: 120}
    placement: {spread: true}
  - id: right
    agent: pooled
    input: {until_file: "${inputs.gate}", seconds: 120}
    placement: {spread: true}
"""


def test_node_loss_restarts_the_pooled_replica_on_a_member_node(env: Env, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env.workflows.CreateWorkflow(workflow_pb2.CreateWorkflowRequest(definition=GATED), timeout=10)
    inputs = workflow_pb2.StartExecutionRequest(workflow="gated")
    inputs.inputs.update({"gate": str(gate)})
    execution_id = env.workflows.StartExecution(inputs, timeout=30).execution.execution_id

    def execution() -> workflow_pb2.Execution:
        return env.workflows.GetExecution(
            workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=10
        ).execution

    def both_running() -> bool:
        tasks = execution().tasks
        return len(tasks) == 2 and all(t.status == workflow_pb2.TASK_STATUS_RUNNING for t in tasks)

    # Both replicas (one on A, one on B) are busy with an attempt when B goes.
    eventually(both_running, timeout=60)
    pool_group = env.pool("cpu").placement_group_id
    env.cluster.remove_node(env.b_node)

    def moved() -> bool:
        agent = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
        return len(agent.replicas) == 2 and all(
            r.state == agent_pb2.REPLICA_STATE_READY and r.node_id == env.a for r in agent.replicas
        )

    # Ray re-placed B's bundle on A (the surviving member with room) and restarted the
    # replica inside it.
    eventually(moved, timeout=90)
    eventually(lambda: _group(pool_group).get("state") == "CREATED", timeout=30)
    assert _group_nodes(pool_group) == {env.a}
    pool = env.pool("cpu")
    assert pool.realization == READY and list(pool.node_ids) == [env.a]

    gate.touch()
    done = eventually(
        lambda: (e := execution()).status == workflow_pb2.EXECUTION_STATUS_SUCCEEDED and e,
        timeout=60,
    )
    ended = [(a.status, a.error.type) for t in done.tasks for a in t.attempts if a.error.type]
    # The attempt on B went with its node: lost (not charged), run again on the moved replica.
    assert ended == [(workflow_pb2.ATTEMPT_STATUS_LOST, "NodeLost")]


def test_pool_update_moves_its_replicas_into_the_new_group(env: Env) -> None:
    # After node B's loss the pool holds both CPUs of A; the new generation needs them too,
    # so it is placed once the old group is gone, and the replicas are re-created inside it.
    old = env.pool("cpu")
    updated = env.resources.UpdatePool(
        R.UpdatePoolRequest(
            pool=R.PoolSpec(
                name="cpu",
                selector=R.NodeSelector(labels={"tier": "cpu"}),
                share=R.ResourceAmounts(cpu=2),
                strategy=R.PLACEMENT_STRATEGY_STRICT_PACK,
            )
        ),
        timeout=120,
    ).pool
    assert updated.placement_group_id != old.placement_group_id
    assert updated.realization == READY, updated.message
    assert _group(updated.placement_group_id)["strategy"] == "STRICT_PACK"
    eventually(lambda: _group(old.placement_group_id).get("state") == "REMOVED")

    def ready_on_a() -> bool:
        agent = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
        return len(agent.replicas) == 2 and all(
            r.state == agent_pb2.REPLICA_STATE_READY and r.node_id == env.a for r in agent.replicas
        )

    eventually(ready_on_a, timeout=60)
    assert env.pool("cpu").allocated.cpu == 2
    # Inside the group: the replicas take nothing beyond it (C keeps its CPU free).
    eventually(lambda: env.free(env.a) == 0.0 and env.free(env.c) == 1.0)
    _nap(env)


def _nap(env: Env) -> None:
    """Runs a one-task workflow on the pooled agent and waits for it to succeed."""
    text = "name: nap\ntasks:\n  - {id: nap, agent: pooled, input: {seconds: 0}}\n"
    env.workflows.CreateWorkflow(workflow_pb2.CreateWorkflowRequest(definition=text), timeout=10)
    execution_id = env.workflows.StartExecution(
        workflow_pb2.StartExecutionRequest(workflow="nap"), timeout=30
    ).execution.execution_id

    def succeeded() -> bool:
        execution = env.workflows.GetExecution(
            workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=10
        ).execution
        return execution.status == workflow_pb2.EXECUTION_STATUS_SUCCEEDED

    eventually(succeeded, timeout=60)


def test_a_pool_group_removed_behind_its_back_is_created_again(env: Env) -> None:
    old = env.pool("cpu")
    name = _group(old.placement_group_id)["name"]
    agent = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
    # An operator removes the pool's group: Ray kills the replicas inside it and can never
    # restart them there.
    remove_placement_group(get_placement_group(name))
    removed = time.monotonic()

    def recreated() -> resource_pb2.Pool | None:
        pool = env.pool("cpu")
        fresh = pool.placement_group_id not in ("", old.placement_group_id)
        return pool if fresh and pool.realization == READY else None

    again = eventually(recreated, timeout=20)
    assert time.monotonic() - removed < 20
    group = _group(again.placement_group_id)
    assert group["name"] == name and group["state"] == "CREATED"  # same generation and name
    assert _group(old.placement_group_id)["state"] == "REMOVED"

    # The loop recorded each step; once HEALED the replicas were replaced in the new group.
    assert env.server is not None
    store = CapacityStore(env.server.control_plane.store)

    def healed() -> PoolRepair | None:
        found = store.get_pool_repair("cpu")
        return found if found is not None and found.phase is PoolRepairPhase.HEALED else None

    repair = eventually(healed, timeout=60)
    assert repair.losses == 1 and "pooled" in repair.message
    now = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
    assert sorted(r.name for r in now.replicas) == sorted(r.name for r in agent.replicas)
    assert all(
        r.state == agent_pb2.REPLICA_STATE_READY and r.node_id == env.a for r in now.replicas
    )
    assert env.pool("cpu").allocated.cpu == 2
    # Inside the new group: nothing is taken beyond it.
    eventually(lambda: env.free(env.a) == 0.0 and env.free(env.c) == 1.0)
    _nap(env)


def test_a_new_driver_reattaches_to_the_detached_groups_and_replicas(env: Env) -> None:
    pool = env.pool("cpu")
    agent = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
    # The control plane stops and its Ray driver (job) exits; a new one starts on the data.
    env.stop()
    ray.shutdown()
    ray.init(address=env.cluster.address, namespace=env.namespace, log_to_driver=False)
    assert _group(pool.placement_group_id)["state"] == "CREATED"  # detached: still there
    env.start()
    again = env.pool("cpu")
    assert again.placement_group_id == pool.placement_group_id
    assert again.realization == READY
    reattached = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
    assert sorted(r.name for r in reattached.replicas) == sorted(r.name for r in agent.replicas)
    assert all(r.state == agent_pb2.REPLICA_STATE_READY for r in reattached.replicas)


def test_a_pool_group_lost_while_stopped_is_repaired_on_start(env: Env) -> None:
    old = env.pool("cpu")
    name = _group(old.placement_group_id)["name"]
    env.stop()
    remove_placement_group(get_placement_group(name))
    eventually(lambda: _group(old.placement_group_id).get("state") == "REMOVED")
    started = time.monotonic()
    env.start()  # re-creates the group and stops the stuck replicas before restoring agents
    assert time.monotonic() - started < 30  # not waiting for replicas that never come back
    again = env.pool("cpu")
    assert again.realization == READY and again.placement_group_id != old.placement_group_id
    assert _group(again.placement_group_id)["name"] == name
    agent = env.agents.GetAgent(agent_pb2.GetAgentRequest(name="pooled"), timeout=10).agent
    assert len(agent.replicas) == 2
    assert all(r.state == agent_pb2.REPLICA_STATE_READY for r in agent.replicas)
    assert env.server is not None
    repair = CapacityStore(env.server.control_plane.store).get_pool_repair("cpu")
    assert repair is not None and repair.phase is PoolRepairPhase.HEALED and repair.losses == 2
    _nap(env)
