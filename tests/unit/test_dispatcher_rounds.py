"""The dispatcher's incremental rounds against the reference: every round of a random history
(arrivals, cancellations, completions, preemptions and re-acquires, placement constraints
that fail, quota / weight / priority changes, adopted plans, two capacity groups, a clock that
sometimes steps back) decides exactly what `decide` decides over a snapshot rebuilt from the
dispatcher's waiting and running tasks, and leaves the same reasons and backpressure signal as
working them out for every waiting task at the end of the round (in-process, no Ray)."""

from __future__ import annotations

import asyncio
import functools
import random
from dataclasses import replace

import pytest

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.dispatch.grants import Grant, Rejected, TaskRequest
from controlplane.engine.dispatch.topology import CapacityGroup, Topology
from controlplane.engine.planning.planbook import NamespacePlan
from models.agents import ReplicaInfo, ReplicaState
from models.queueing import (
    Action,
    NamespacePolicy,
    NamespaceState,
    QueueConfig,
    QueueSnapshot,
    Quota,
    RunningItem,
)
from models.resources import NodeInfo, ResourceAmounts
from models.workflows import PlacementConstraints
from scheduler.queueing import decide, why_waiting
from scheduler.rolling import PlannedTask

GiB = 2**30
NAMESPACES = ("a", "b", "c")
CONFIGS = (
    QueueConfig(),
    QueueConfig(age_rate=0.5, max_preemptions_per_round=3),
    QueueConfig(age_rate=0.1, preemption=False),
    QueueConfig(multilevel=True, levels=3, promote_after_s=2.0, long_run_s=1.0),
)


def nodes() -> tuple[NodeInfo, ...]:
    def node(node_id: str, zone: str, gpu: float = 0.0) -> NodeInfo:
        capacity = ResourceAmounts(cpu=4, memory=8 * GiB, gpu=gpu)
        return NodeInfo(node_id, "127.0.0.1", True, {"zone": zone}, capacity, capacity)

    return (node("n1", "a"), node("n2", "a", gpu=1.0), node("n3", "b"), node("n4", "b"))


def random_policy(rng: random.Random, name: str) -> NamespacePolicy:
    quota = rng.choice(
        [
            Quota(),
            Quota(),
            Quota(max_resources=ResourceAmounts(cpu=rng.choice([2, 3, 6]))),
            Quota(max_replicas=rng.choice([2, 5])),
        ]
    )
    return NamespacePolicy(
        name,
        weight=rng.choice([1.0, 2.0, 3.0]),
        priority=rng.randrange(3),
        quota=quota,
        placement_policy=rng.choice(["best-fit", "worst-fit", "first-fit"]),
    )


class Reference(Dispatcher):
    """Checks each group's round against `decide` over a freshly built snapshot, and the
    reasons / backpressure it leaves against working them out for every waiting task."""

    rounds_checked = 0
    actions_seen: set[str]
    failures: list[BaseException]  # the dispatcher logs what a round raises and goes on
    expected_reasons: dict[str, dict[str, str]]  # per group: item id -> why it waits

    def run_round(self) -> None:
        try:
            self._checked_round()
        except BaseException as error:
            self.failures.append(error)
            raise

    def _checked_round(self) -> None:
        self.expected_starved: set[str] = set()
        super().run_round()
        assert self._starved == self.expected_starved
        for waiter in self._ledger.waiting.values():
            if waiter.group in self.expected_reasons:
                expected = self.expected_reasons[waiter.group].get(waiter.item.id, "")
                assert self._blocked(waiter) == expected, waiter.item.id

    def _round_in(
        self, group: CapacityGroup, booked: dict[str, ResourceAmounts], now: float
    ) -> None:
        waiters = [w for w in self._ledger.waiting.values() if w.group == group.name]
        running = [g for g in self._ledger.running.values() if g.group == group.name]
        names = sorted({w.item.namespace for w in waiters} | {g.request.namespace for g in running})
        stopping = ResourceAmounts.total([g.item.demand for g in running if g.preempted])
        snapshot = QueueSnapshot(
            group.capacity,
            tuple(self._reference_state(n, group.name, ranked=True) for n in names),
            self.config,
            group.reserved.add(stopping),
        )
        expected = decide(snapshot, now)
        standing = self._ledger.groups[group.name].standing
        actual: list[Action] = []

        def checked_round(*args: object, **kwargs: object) -> list[Action]:
            actual.extend(type(standing).round(standing, *args, **kwargs))  # type: ignore[arg-type]
            return actual

        standing.round = checked_round  # type: ignore[method-assign]
        try:
            super()._round_in(group, booked, now)
        finally:
            del standing.round
        assert actual == expected
        self.rounds_checked += 1
        self.actions_seen.update(type(a).__name__ for a in actual)

        # Reasons and backpressure, worked out for every task still waiting.
        in_use = [g.item.demand for g in self._ledger.running.values() if g.group == group.name]
        free = group.capacity.sub(group.reserved).sub(ResourceAmounts.total(in_use))
        reasons = self.expected_reasons.setdefault(group.name, {})
        reasons.clear()
        for waiter in waiters:
            if waiter.item.id not in self._ledger.waiting:
                continue
            if waiter.why_round == self._rounds:  # placement said why
                reasons[waiter.item.id] = waiter.why
                continue
            if not waiter.request.demand.fits(free):
                self.expected_starved.add(waiter.item.namespace)
            state = self._reference_state(waiter.item.namespace, group.name, ranked=False)
            reasons[waiter.item.id] = why_waiting(state, waiter.item, free)

    def _reference_state(self, namespace: str, group: str, *, ranked: bool) -> NamespaceState:
        queued = tuple(
            replace(
                w.item,
                rank=self.plans.rank_for(namespace, w.item.execution_id, w.item.task_id),
            )
            if ranked
            else w.item
            for w in self._ledger.waiting.values()
            if w.item.namespace == namespace and w.group == group
        )
        running = tuple(
            RunningItem(g.item, g.started_at)
            for g in self._ledger.running.values()
            if g.request.namespace == namespace and g.group == group and not g.preempted
        )
        return NamespaceState(self._policy_of(namespace), queued, running)


async def history(seed: int) -> Reference:
    rng = random.Random(seed)
    now = [100.0]
    policies = {name: random_policy(rng, name) for name in NAMESPACES}
    replicas = {
        "work": [
            ReplicaInfo(f"w{i}", "v1", ReplicaState.READY, node_id=n)
            for i, n in enumerate(["n1", "n2", "n3", "n4"])
        ],
        "pooled": [ReplicaInfo("p0", "v1", ReplicaState.READY, node_id="n4")],
    }
    dispatcher = Reference(
        policy_of=lambda ns: policies[ns],
        replicas_of=lambda agent: replicas[agent],
        pool_of_agent=lambda agent: "p" if agent == "pooled" else "",
        clock=lambda: now[0],
        config=CONFIGS[seed % len(CONFIGS)],
    )
    dispatcher.expected_reasons = {}
    dispatcher.actions_seen = set()
    dispatcher.failures = []
    all_nodes = nodes()
    pool = CapacityGroup(
        "p", (all_nodes[3],), ResourceAmounts(cpu=3, memory=4 * GiB), ResourceAmounts(cpu=1)
    )
    dispatcher.set_topology(Topology(all_nodes, {"p": pool}, observe_time=0.0))

    granted: list[Grant] = []
    pending: dict[str, asyncio.Task[Grant]] = {}
    serial = 0

    def submit(request: TaskRequest, previous: Grant | None = None) -> None:
        task = asyncio.get_running_loop().create_task(dispatcher.acquire(request, previous))
        pending[request.item_id] = task

        def done(t: asyncio.Task[Grant]) -> None:
            pending.pop(request.item_id, None)
            if not t.cancelled() and t.exception() is None:
                granted.append(t.result())
            elif not t.cancelled() and not isinstance(t.exception(), Rejected):
                dispatcher.failures.append(t.exception() or AssertionError("no exception"))

        task.add_done_callback(done)

    for _ in range(70):
        if rng.random() < 0.08:
            name = rng.choice(NAMESPACES)
            policies[name] = random_policy(rng, name)
        for _ in range(rng.choice([0, 1, 2, 4, 8])):
            serial += 1
            execution = f"e{serial % 5}"
            roll = rng.random()
            placement = PlacementConstraints()
            if roll < 0.1:
                placement = PlacementConstraints(node_labels={"zone": rng.choice(["a", "b"])})
            elif roll < 0.2:
                placement = PlacementConstraints(affinity=(f"t{serial - rng.randrange(1, 6)}",))
            elif roll < 0.25:
                placement = PlacementConstraints(spread=True)
            submit(
                TaskRequest(
                    execution_id=execution,
                    task_id=f"t{serial}",
                    attempt=1,
                    namespace=rng.choice(NAMESPACES),
                    agent="pooled" if rng.random() < 0.15 else "work",
                    demand=ResourceAmounts(
                        cpu=rng.choice([0.0, 1.0, 1.0, 2.0, 5.0]),
                        memory=rng.choice([0, GiB]),
                        gpu=1.0 if rng.random() < 0.05 else 0.0,
                    ),
                    placement=placement,
                    priority=rng.randrange(3),
                )
            )
        if pending and rng.random() < 0.1:
            pending[rng.choice(sorted(pending))].cancel()
        if rng.random() < 0.1:  # a batch plan for a namespace: ranks and planned nodes
            name = rng.choice(NAMESPACES)
            queued = [item for item, _ in dispatcher.waiting(name)]
            tasks = {
                (i.execution_id, i.task_id): PlannedTask(
                    i.execution_id, i.task_id, rng.randrange(5), 30, rng.choice(["n1", "n3"]), 0
                )
                for i in rng.sample(queued, min(len(queued), 12))
            }
            dispatcher.plans.adopt(name, NamespacePlan("rules", now[0], tasks))
            dispatcher.kick()
        elif rng.random() < 0.05:
            dispatcher.plans.drop(rng.choice(NAMESPACES))
            dispatcher.kick()
        for grant in list(granted):
            if grant.preempted:  # the runner stops it and asks again, keeping its place
                granted.remove(grant)
                dispatcher.release(grant)
                submit(replace(grant.request, attempt=grant.request.attempt + 1), grant)
            elif rng.random() < 0.3:
                granted.remove(grant)
                dispatcher.release(grant, rng.random())
        now[0] += rng.choice([0.0, 0.3, 1.0, 2.5])
        if rng.random() < 0.05:
            now[0] -= 1.5  # the wall clock stepped back
        for _ in range(3):
            await asyncio.sleep(0)
    for task in list(pending.values()):
        task.cancel()
    await asyncio.sleep(0)
    return dispatcher


@functools.cache
def run_history(seed: int) -> Reference:
    return asyncio.run(history(seed))


@pytest.mark.parametrize("seed", range(24))
def test_incremental_rounds_match_the_snapshot_reference(seed: int) -> None:
    dispatcher = run_history(seed)
    assert not dispatcher.failures, dispatcher.failures[0]
    assert dispatcher.rounds_checked > 20
    assert "Dispatch" in dispatcher.actions_seen


def test_the_histories_reject_and_preempt() -> None:
    seen: set[str] = set()
    for seed in range(24):
        dispatcher = run_history(seed)
        assert not dispatcher.failures
        seen |= dispatcher.actions_seen
    assert seen == {"Dispatch", "Reject", "Preempt"}


def test_a_task_that_arrived_after_the_last_round_is_not_given_its_reasons() -> None:
    async def main() -> None:
        capacity = ResourceAmounts(cpu=1)
        node = NodeInfo("n1", "127.0.0.1", True, {}, capacity, capacity)
        dispatcher = Dispatcher(
            policy_of=lambda ns: NamespacePolicy(ns),
            replicas_of=lambda agent: [ReplicaInfo("r", "v1", ReplicaState.READY, node_id="n1")],
            pool_of_agent=lambda agent: "",
            clock=lambda: 0.0,
        )
        dispatcher.set_topology(Topology((node,), {}, observe_time=-1.0))
        one = ResourceAmounts(cpu=1)
        first = await dispatcher.acquire(TaskRequest("e", "a", 1, "ns", "work", demand=one))
        loop = asyncio.get_running_loop()
        second = loop.create_task(dispatcher.acquire(TaskRequest("e", "b", 1, "ns", "work", one)))
        for _ in range(3):
            await asyncio.sleep(0)
        assert dispatcher.waiting_reasons("e") == {
            "b": "waiting for capacity: needs cpu 1 (0 free)"
        }
        third = loop.create_task(dispatcher.acquire(TaskRequest("e", "c", 1, "ns", "work", one)))
        await asyncio.sleep(0)  # c is queued, no round has considered it yet
        assert dispatcher.waiting_reasons("e") == {
            "b": "waiting for capacity: needs cpu 1 (0 free)",
            "c": "queued: not yet considered by a dispatch round",
        }
        assert dispatcher.saturated("ns")
        dispatcher.release(first)
        assert (await second).node == "n1"
        third.cancel()

    asyncio.run(main())


def test_group_state_is_dropped_once_empty() -> None:
    async def main() -> None:
        capacity = ResourceAmounts(cpu=2)
        node = NodeInfo("n1", "127.0.0.1", True, {}, capacity, capacity)
        dispatcher = Dispatcher(
            policy_of=lambda ns: NamespacePolicy(ns),
            replicas_of=lambda agent: [ReplicaInfo("r", "v1", ReplicaState.READY, node_id="n1")],
            pool_of_agent=lambda agent: "",
            clock=lambda: 0.0,
        )
        dispatcher.set_topology(Topology((node,), {}, observe_time=-1.0))
        request = TaskRequest("e", "t", 1, "a", "work", demand=ResourceAmounts(cpu=1))
        grant = await dispatcher.acquire(request)
        assert grant.node == "n1" and dispatcher.agent_queue("work") == (0, 1)
        dispatcher.release(grant)
        await asyncio.sleep(0)
        assert dispatcher.agent_queue("work") == (0, 0)
        assert not dispatcher._ledger.groups and not dispatcher._ledger.running_of
        assert not dispatcher._ledger.waiting_of

    asyncio.run(main())
