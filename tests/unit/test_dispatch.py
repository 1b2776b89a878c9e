"""The queue system in the engine: task demands against node capacity, placement constraints,
quotas, fair share, preemption with requeue, backpressure and rolling plans (real SQLite and
engine, an in-process backend with nodes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, QueueingConfig, ServerConfig, StoreConfig
from controlplane.engine.dispatch.wait_reasons import QUEUED
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.errors import ResourceExhausted
from models.executions import AttemptStatus, EventType, ExecutionRecord, ExecutionStatus
from models.namespaces import qualified_name
from models.queueing import Backpressure, NamespacePolicy, Quota
from models.resources import NodeInfo, ResourceAmounts
from tests.unit.fake_backend import FakeBackend

GiB = 2**30


def node(node_id: str, cpu: float, **labels: str) -> NodeInfo:
    capacity = ResourceAmounts(cpu=cpu, memory=8 * GiB)
    return NodeInfo(node_id, "127.0.0.1", True, labels, capacity, capacity)


class Gate:
    """Attempts block until opened (all, or the oldest one at a time); counts how many run at
    once per workflow (the `ns` input)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.started: list[AttemptRequest] = []
        self._held: list[asyncio.Event] = []

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        key = str(value.get("ns", "")) if isinstance(value, dict) else ""
        self.started.append(request)
        self.running[key] = self.running.get(key, 0) + 1
        self.peak[key] = max(self.peak.get(key, 0), self.running[key])
        mine = asyncio.Event()
        self._held.append(mine)
        try:
            opened = asyncio.ensure_future(self.opened.wait())
            released = asyncio.ensure_future(mine.wait())
            try:
                await asyncio.wait([opened, released], return_when=asyncio.FIRST_COMPLETED)
            finally:
                opened.cancel()
                released.cancel()
        finally:
            self.running[key] -= 1
            self._held.remove(mine)
        return value

    def release_oldest(self) -> None:
        self._held[0].set()


NAMESPACES = ("default", "team", "batch", "urgent", "light", "heavy", "tight", "plan")


def run(
    body: Callable[[ControlPlane, FakeBackend], Awaitable[None]],
    tmp_path: Path,
    nodes: list[NodeInfo],
    replica_nodes: list[str],
) -> None:
    async def main() -> None:
        backend = FakeBackend()
        backend.nodes = nodes
        backend.replica_nodes["work"] = replica_nodes
        config = ServerConfig(
            store=StoreConfig(data_dir=tmp_path),
            grpc=GrpcConfig(host="127.0.0.1", port=0, shutdown_grace_s=0.1),
            queueing=QueueingConfig(age_rate=0.0),
        )
        cp = ControlPlane(config, backend)
        await cp.start()
        try:
            # A task runs on the agent of its execution's namespace: each has its `work`.
            for namespace in NAMESPACES:
                name = qualified_name(namespace, "work")
                await cp.agents.deploy(AgentSpec(name, "v1", "m:Work", len(replica_nodes)))
            await cp.capacity.observe()
            await body(cp, backend)
        finally:
            await cp.stop()

    asyncio.run(main())


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def finished(cp: ControlPlane, execution_id: str) -> ExecutionRecord:
    await until(lambda: cp.executions.get(execution_id).status.terminal)
    return cp.executions.get(execution_id)


def parallel(name: str, count: int, cpu: float, extra: str = "") -> str:
    tasks = "".join(
        f"""
  - id: t{i}
    agent: work
    input: {{ns: "{name}"}}
    resources: {{cpu: {cpu}}}{extra}"""
        for i in range(count)
    )
    return f"name: {name}\ntasks:{tasks}\n"


def test_demands_are_held_against_node_capacity(tmp_path: Path) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        await cp.catalog.create(parallel("wide", 5, 2))
        record, _ = await cp.executions.start("wide", 0, {}, "")
        await until(lambda: len(gate.started) == 2)
        await asyncio.sleep(0.05)
        assert len(gate.started) == 2  # two nodes of 2 cpu: two tasks of 2 cpu at a time
        placed = {node for _, node in backend.placements}
        assert placed == {"n1", "n2"}
        waiting = cp.dispatcher.waiting("default")
        assert len(waiting) == 3
        reasons = [t.waiting_reason for t in cp.executions.get(record.execution_id).tasks.values()]
        assert sorted(reasons)[2:] == ["waiting for capacity: needs cpu 2 (0 free)"] * 3
        assert sorted(reasons)[:2] == ["", ""]  # the running ones
        assert cp.dispatcher.saturated("default")
        await cp.capacity.run_once()  # exports queue depth and wait per namespace
        (queue,) = backend.queue_metrics
        assert (queue.namespace, queue.depth, queue.running) == ("default", 3, 2)
        gate.opened.set()
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        events = cp.store.read_events(record.execution_id)
        nodes = {e.details.get("node") for e in events if e.type is EventType.ATTEMPT_STARTED}
        assert nodes == {"n1", "n2"}

    run(body, tmp_path, [node("n1", 2), node("n2", 2)], ["n1", "n2"])


def test_labels_affinity_and_anti_affinity_choose_nodes(tmp_path: Path) -> None:
    text = """
name: placed
tasks:
  - id: gpu
    agent: work
    placement: {node_labels: {tier: gpu}}
  - id: near
    agent: work
    depends_on: [gpu]
    placement: {affinity: [gpu]}
  - id: far
    agent: work
    depends_on: [gpu]
    placement: {anti_affinity: [gpu]}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("placed", 0, {}, "")
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        events = cp.store.read_events(record.execution_id)
        where = {
            e.task_id: e.details["node"] for e in events if e.type is EventType.ATTEMPT_STARTED
        }
        assert where["gpu"] == "n2"
        assert where["near"] == "n2"
        assert where["far"] in {"n1", "n3"}

    nodes = [node("n1", 4, tier="cpu"), node("n2", 4, tier="gpu"), node("n3", 4, tier="cpu")]
    run(body, tmp_path, nodes, ["n1", "n2", "n3"])


def test_quota_limits_running_demand_and_rejects_what_can_never_fit(tmp_path: Path) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        quota = Quota(max_resources=ResourceAmounts(cpu=2))
        await cp.quotas.set_quota(NamespacePolicy("team", quota=quota))
        await cp.catalog.create(parallel("small", 3, 1), namespace="team")
        await cp.catalog.create(parallel("huge", 1, 3), namespace="team")
        small, _ = await cp.executions.start("small", 0, {}, "", namespace="team")
        await until(lambda: len(gate.started) == 2)
        await asyncio.sleep(0.05)
        assert gate.peak["small"] == 2  # quota of 2 cpu, though the cluster has 8
        huge, _ = await cp.executions.start("huge", 0, {}, "", namespace="team")
        done = await finished(cp, huge.execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.type == "ResourceExhausted"
        assert "quota" in done.error.message
        gate.opened.set()
        assert (await finished(cp, small.execution_id)).status is ExecutionStatus.SUCCEEDED

    run(body, tmp_path, [node("n1", 4), node("n2", 4)], ["n1", "n2"])


def reasons(cp: ControlPlane, execution_id: str) -> dict[str, str]:
    return {t.task_id: t.waiting_reason for t in cp.executions.get(execution_id).tasks.values()}


def test_a_task_held_by_its_quota_says_so(tmp_path: Path) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        quota = Quota(max_resources=ResourceAmounts(cpu=2))
        await cp.quotas.set_quota(NamespacePolicy("team", quota=quota))
        await cp.catalog.create(parallel("small", 3, 1), namespace="team")
        record, _ = await cp.executions.start("small", 0, {}, "", namespace="team")
        await until(lambda: len(gate.started) == 2)
        held = {t.task_id for t in gate.started} ^ {"t0", "t1", "t2"}
        await until(lambda: reasons(cp, record.execution_id)[min(held)] != QUEUED)
        expected = dict.fromkeys(("t0", "t1", "t2"), "")
        expected[min(held)] = (
            "held back by the quota of namespace 'team' (with it: cpu 3 > quota 2)"
        )
        assert reasons(cp, record.execution_id) == expected
        gate.opened.set()
        assert (await finished(cp, record.execution_id)).status is ExecutionStatus.SUCCEEDED
        assert set(reasons(cp, record.execution_id).values()) == {""}

    run(body, tmp_path, [node("n1", 4), node("n2", 4)], ["n1", "n2"])


def test_affinity_to_tasks_on_different_nodes_says_it_can_never_be_placed(tmp_path: Path) -> None:
    text = """
name: split
tasks:
  - {id: a, agent: work, placement: {node_labels: {tier: x}}}
  - {id: b, agent: work, placement: {node_labels: {tier: y}}}
  - {id: c, agent: work, depends_on: [a, b], placement: {affinity: [a, b]}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("split", 0, {}, "")
        impossible = (
            "affinity targets a, b ran on different nodes (n1, n2): the task can never be placed"
        )
        await until(lambda: reasons(cp, record.execution_id)["c"] == impossible)
        assert reasons(cp, record.execution_id) == {"a": "", "b": "", "c": impossible}
        cancelled = await cp.executions.cancel(record.execution_id, "stuck")
        assert cancelled.tasks["c"].waiting_reason == ""  # no longer queued

    run(body, tmp_path, [node("n1", 4, tier="x"), node("n2", 4, tier="y")], ["n1", "n2"])


def test_higher_priority_namespace_preempts_and_victim_is_requeued(tmp_path: Path) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        await cp.quotas.set_quota(NamespacePolicy("batch", priority=0))
        await cp.quotas.set_quota(NamespacePolicy("urgent", priority=10))
        await cp.catalog.create(
            parallel("batch", 2, 2, "\n    retry: {max_attempts: 1}"), namespace="batch"
        )
        await cp.catalog.create(parallel("urgent", 1, 2), namespace="urgent")
        low, _ = await cp.executions.start("batch", 0, {}, "", namespace="batch")
        await until(lambda: gate.running.get("batch") == 2)
        high, _ = await cp.executions.start("urgent", 0, {}, "", namespace="urgent")
        await until(lambda: gate.running.get("urgent") == 1)
        assert gate.running["batch"] == 1  # one victim stopped to make room
        gate.opened.set()
        assert (await finished(cp, high.execution_id)).status is ExecutionStatus.SUCCEEDED
        done = await finished(cp, low.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED  # requeued, not charged (1 attempt)
        statuses = [a.status for t in done.tasks.values() for a in t.attempts]
        assert statuses.count(AttemptStatus.PREEMPTED) == 1
        events = cp.store.read_events(low.execution_id)
        preempted = [e for e in events if e.type is EventType.ATTEMPT_PREEMPTED]
        assert len(preempted) == 1 and "urgent" in str(preempted[0].details["reason"])
        assert len(backend.cancelled) == 1

    run(body, tmp_path, [node("n1", 2), node("n2", 2)], ["n1", "n2"])


def test_fair_share_follows_weights_under_contention(tmp_path: Path) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        await cp.quotas.set_quota(NamespacePolicy("heavy", weight=3))
        await cp.quotas.set_quota(NamespacePolicy("light", weight=1))
        await cp.catalog.create(parallel("heavy", 24, 1), namespace="heavy")
        await cp.catalog.create(parallel("light", 24, 1), namespace="light")
        await cp.executions.start("light", 0, {}, "", namespace="light")
        await until(lambda: gate.running.get("light") == 8)  # alone, it may use everything
        await cp.executions.start("heavy", 0, {}, "", namespace="heavy")
        mixes = []
        for done in range(1, 21):  # attempts end one at a time; freed cpu goes by DRF
            gate.release_oldest()
            await until(lambda done=done: len(gate.started) == 8 + done)
            mixes.append((gate.running.get("heavy", 0), gate.running.get("light", 0)))
        assert mixes[5:] == [(6, 2)] * 15  # converged to the 3:1 weights and stays there
        gate.opened.set()

    run(body, tmp_path, [node("n1", 4), node("n2", 4)], ["n1", "n2"])


def test_saturated_namespace_with_reject_backpressure_refuses_new_executions(
    tmp_path: Path,
) -> None:
    gate = Gate()

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        policy = NamespacePolicy("tight", backpressure=Backpressure.REJECT)
        await cp.quotas.set_quota(policy)
        await cp.catalog.create(parallel("busy", 3, 2), namespace="tight")
        await cp.executions.start("busy", 0, {}, "", namespace="tight")
        await until(lambda: cp.dispatcher.saturated("tight"))
        with pytest.raises(ResourceExhausted, match="saturated"):
            await cp.executions.start("busy", 0, {}, "", namespace="tight")
        gate.opened.set()

    run(body, tmp_path, [node("n1", 2), node("n2", 2)], ["n1", "n2"])


def test_rolling_plan_orders_the_queue_and_is_reported(tmp_path: Path) -> None:
    gate = Gate()
    text = """
name: chain
tasks:
  - {id: a, agent: work, input: {ns: chain}, resources: {cpu: 2}}
  - {id: b, agent: work, input: {ns: chain}, resources: {cpu: 2}}
  - {id: c, agent: work, input: {ns: chain}, depends_on: [a], resources: {cpu: 2}}
"""

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["work"] = gate
        await cp.quotas.set_quota(NamespacePolicy("plan", batch_scheduler="cpsat"))
        await cp.catalog.create(text, namespace="plan")
        record, _ = await cp.executions.start("chain", 0, {}, "", namespace="plan")
        await until(lambda: len(gate.started) == 1)
        plan = await cp.rolling.plan("plan")
        assert plan is not None
        planned = {cp_task.task_id for cp_task in plan.live.tasks}
        assert planned == {"b", "c"}  # a runs; b is ready; c is predicted after a
        # a holds the one slot until its expected end: b starts after it, c waits for it.
        assert [r.task_id for r in plan.live.running] == ["a"]
        (busy_until,) = plan.live.problem.machine_ready
        assert busy_until > 0
        starts = {
            plan.live.tasks[op.operation].task_id: op.start for op in plan.schedule.operations
        }
        assert starts["b"] >= busy_until and starts["c"] >= busy_until
        assert await cp.rolling.run_once() == ["plan"]
        book = cp.dispatcher.plans.get("plan")
        assert book is not None and book.scheduler.startswith("cpsat")
        assert cp.dispatcher.plans.rank_for("plan", record.execution_id, "b") is not None
        gate.opened.set()
        assert (await finished(cp, record.execution_id)).status is ExecutionStatus.SUCCEEDED

    run(body, tmp_path, [node("n1", 2)], ["n1"])
