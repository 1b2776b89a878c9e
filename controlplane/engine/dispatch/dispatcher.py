"""The queue system between "ready" and "dispatched": the shell around the pure
`scheduler.queueing.decide` and `scheduler.placement` policies.

A runner asks for capacity (`acquire`) with the task's namespace, demand and placement
constraints, and gets a `Grant` naming the node to lease a replica on. Rounds of `decide` run
per capacity group (a pool, or the whole cluster) whenever something changes: the namespace
with the lowest weighted dominant share is served first, quotas hold, and a higher-priority
namespace below its fair share may preempt attempts of lower ones (`Grant.preempt`; the runner
stops the attempt, records why, and asks again with the same place in the queue).

Task demands are accounted here against node capacity as observed (Ray enforces what agent
replicas and placement groups reserve; the dispatcher enforces what tasks declare). A task with
no demand and no constraints, in a namespace with no quota or plan, is granted at once.

A round costs what changed, not the length of the queues: each group's waiting items stand in
a `StandingQueues` between rounds (the same decisions as `decide` over a fresh snapshot), the
group's running grants are kept apart (`ledger`), and why each task still waits is worked out
when asked, from what the round left (`wait_reasons`). `placement` chooses the node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from controlplane.engine.dispatch.grants import Grant, Rejected, TaskRequest
from controlplane.engine.dispatch.ledger import Ledger, RoundView, Waiter
from controlplane.engine.dispatch.placement import TaskPlacer
from controlplane.engine.dispatch.topology import CLUSTER, CapacityGroup, Topology
from controlplane.engine.dispatch.wait_reasons import QUEUED, leave_view, why_blocked
from controlplane.engine.planning.planbook import PlanBook
from models.agents import ReplicaInfo
from models.queueing import (
    Dispatch,
    NamespacePolicy,
    NamespaceState,
    Preempt,
    QueueConfig,
    QueuedItem,
    QueueMetrics,
    Reject,
    RunningItem,
)
from models.resources import ResourceAmounts
from scheduler.queueing import queue_metrics, requeue

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        policy_of: Callable[[str], NamespacePolicy],
        replicas_of: Callable[[str], list[ReplicaInfo]],
        pool_of_agent: Callable[[str], str],
        clock: Callable[[], float],
        config: QueueConfig | None = None,
    ) -> None:
        self._policy_of = policy_of
        self._pool_of_agent = pool_of_agent
        self._clock = clock
        self.config = config or QueueConfig()
        self.plans = PlanBook()
        self._topology = Topology()
        self._ledger = Ledger(self.config, self.plans)
        self._placer = TaskPlacer(policy_of, replicas_of, self.plans, self._ledger)
        self._rounds = 0
        self._round_pending = False
        self._starved: set[str] = set()  # namespaces with demand left waiting last round
        # Per agent since the last `take_load`: arrivals, completions, service time sum, count.
        self._load: dict[str, list[float]] = {}

    # -- observation ----------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        return self._topology

    def set_topology(self, topology: Topology) -> None:
        self._topology = topology
        self.kick()

    def waiting(self, namespace: str | None = None) -> list[tuple[QueuedItem, str]]:
        """Queued items (with why they still wait), optionally of one namespace."""
        return [
            (w.item, self._blocked(w))
            for w in self._ledger.waiting.values()
            if namespace is None or w.item.namespace == namespace
        ]

    def queued(self, namespace: str | None = None) -> list[QueuedItem]:
        """Queued items, optionally of one namespace (`waiting` without the reasons)."""
        return [
            w.item
            for w in self._ledger.waiting.values()
            if namespace is None or w.item.namespace == namespace
        ]

    def waiting_reasons(self, execution_id: str) -> dict[str, str]:
        """Why each queued task of the execution still waits, by task id (a task that is not
        queued is absent)."""
        return {
            w.request.task_id: self._blocked(w) or QUEUED
            for w in self._ledger.waiting_of.get(execution_id, {}).values()
        }

    def running(self, namespace: str | None = None) -> list[Grant]:
        return [
            g
            for g in self._ledger.running.values()
            if namespace is None or g.request.namespace == namespace
        ]

    def saturated(self, namespace: str) -> bool:
        """The namespace's tasks wait for capacity (the backpressure signal for admission)."""
        return namespace in self._starved

    def metrics(self) -> list[QueueMetrics]:
        now = self._clock()
        queued: dict[str, list[QueuedItem]] = {}
        running: dict[str, list[RunningItem]] = {}
        for w in self._ledger.waiting.values():
            queued.setdefault(w.item.namespace, []).append(w.item)
        for g in self._ledger.running.values():
            running.setdefault(g.request.namespace, [])
            if not g.preempted:
                running[g.request.namespace].append(g.running_item)
        return [
            queue_metrics(
                NamespaceState(
                    self._policy_of(name),
                    tuple(queued.get(name, ())),
                    tuple(running.get(name, ())),
                ),
                now,
                self.config,
            )
            for name in sorted(queued.keys() | running.keys())
        ]

    # -- acquire / release ----------------------------------------------------------------

    def group_of(self, request: TaskRequest) -> str:
        return request.placement.pool or self._pool_of_agent(request.agent) or CLUSTER

    async def acquire(self, request: TaskRequest, previous: Grant | None = None) -> Grant:
        """Waits until the queue system dispatches the task and a node is chosen. `previous`:
        the grant of a preempted attempt of the same task (it keeps its place in the queue)."""
        now = self._clock()
        self._count(request.agent, 0)
        item = QueuedItem(
            id=request.item_id,
            namespace=request.namespace,
            enqueued_at=now,
            priority=request.priority,
            demand=request.demand,
            execution_id=request.execution_id,
            task_id=request.task_id,
            attempt=request.attempt,
        )
        if previous is not None:
            back = requeue(
                RunningItem(previous.item, previous.started_at),
                now,
                self.config,
                preempted=bool(previous.preempted),
            )
            item = replace(back, id=request.item_id, attempt=request.attempt)
        group = self.group_of(request)
        if self._trivial(request, group):
            grant = Grant(request, item, group, None, now)
            self._ledger.add_running(grant)
            return grant
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._ledger.add_waiter(Waiter(request, item, group, future, self._rounds))
        self.kick()
        try:
            return await future
        except asyncio.CancelledError:
            self._ledger.drop_waiter(item.id)
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release(future.result())
            raise

    def _trivial(self, request: TaskRequest, group: str) -> bool:
        """Nothing to decide: no demand, no constraints, no quota that counts, no plan."""
        if not request.demand.is_zero() or not request.placement.is_empty or group != CLUSTER:
            return False
        policy = self._policy_of(request.namespace)
        return policy.quota.max_replicas is None and not policy.batch_scheduler

    def release(self, grant: Grant, duration_s: float | None = None) -> None:
        """The attempt ended (any outcome): its capacity is free again."""
        if self._ledger.drop_running(grant.item.id) is None:
            return
        self._placer.finished(grant)
        self._count(grant.request.agent, 1)
        if duration_s is not None:
            self.plans.observe_duration(grant.request.agent, duration_s, grant.request.task_id)
            self._count(grant.request.agent, 2, duration_s)
            self._count(grant.request.agent, 3)
        self.kick()

    def _count(self, agent: str, index: int, amount: float = 1.0) -> None:
        self._load.setdefault(agent, [0.0, 0.0, 0.0, 0.0])[index] += amount

    def take_load(self) -> dict[str, tuple[float, float, float]]:
        """Per agent since the last call: (arrivals, completions, mean service time)."""
        load, self._load = self._load, {}
        return {
            agent: (arrivals, done, total / count if count else 0.0)
            for agent, (arrivals, done, total, count) in load.items()
        }

    def agent_queue(self, agent: str) -> tuple[int, int]:
        """(attempts waiting for capacity, attempts holding a grant) of one agent."""
        return self._ledger.agent_queue(agent)

    def forget_execution(self, execution_id: str) -> None:
        self._placer.forget_execution(execution_id)
        self.plans.forget_execution(execution_id)

    # -- rounds ---------------------------------------------------------------------------

    def kick(self) -> None:
        """Schedules one round soon (rounds coalesce: many changes, one round)."""
        if not self._round_pending:
            self._round_pending = True
            asyncio.get_running_loop().call_soon(self._round)

    def _round(self) -> None:
        self._round_pending = False
        try:
            self.run_round()
        except Exception:  # a bug must not leave every waiter hanging silently
            log.exception("dispatch round failed")

    def run_round(self) -> None:
        """One round over every capacity group with waiting tasks."""
        now = self._clock()
        self._starved = set()
        self._rounds += 1
        booked = self._placer.booked()
        for name in sorted(n for n, g in self._ledger.groups.items() if g.waiters):
            group = self._topology.group(name)
            if group is None:
                self._fail_group(name)
                continue
            self._round_in(group, booked, now)
        self._ledger.drop_empty_groups()

    def _round_in(
        self, group: CapacityGroup, booked: dict[str, ResourceAmounts], now: float
    ) -> None:
        ledger = self._ledger
        kept = ledger.groups[group.name]
        for name, members in kept.waiters.items():
            plan = self.plans.get(name)
            if plan is not kept.plans.get(name):  # a new plan: the items' ranks changed
                kept.plans[name] = plan
                kept.standing.reset(name, [ledger.ranked(w) for w in members.values()])
        names = set(kept.waiters)
        running: dict[str, list[RunningItem]] = {}
        stopping: list[ResourceAmounts] = []
        for grant in kept.running.values():
            names.add(grant.request.namespace)
            if grant.preempted:
                stopping.append(grant.item.demand)
            else:
                running.setdefault(grant.request.namespace, []).append(grant.running_item)
        policies = {name: self._policy_of(name) for name in sorted(names)}
        reserved = group.reserved.add(ResourceAmounts.total(stopping))
        actions = kept.standing.round(policies, running, group.capacity, reserved, now)
        for action in actions:
            if isinstance(action, Reject):
                rejected = ledger.drop_waiter(action.id)
                if rejected is not None and not rejected.future.done():
                    rejected.future.set_exception(Rejected(action.reason))
            elif isinstance(action, Dispatch):
                chosen = ledger.waiting.get(action.item.id)
                if chosen is not None:
                    policy = policies[chosen.item.namespace]
                    self._dispatch(chosen, action.item, group, booked, now, policy)
            elif isinstance(action, Preempt):
                victim = ledger.running.get(action.victim.id)
                if victim is not None:
                    log.info("preempting %s: %s", victim.item.id, action.reason)
                    victim.preempt(action.reason)
        self._starved |= leave_view(kept, group, policies, self._rounds)

    def _blocked(self, waiter: Waiter) -> str:
        """Why the waiter still waits, as the last round of its group saw it ("" if no round
        considered it yet)."""
        return why_blocked(waiter, self._ledger.groups.get(waiter.group))

    def _dispatch(
        self,
        waiter: Waiter,
        item: QueuedItem,
        group: CapacityGroup,
        booked: dict[str, ResourceAmounts],
        now: float,
        policy: NamespacePolicy,
    ) -> None:
        """Starts the dispatched item on a node (if none fits now, it stays queued)."""
        ledger = self._ledger
        node, why = self._placer.place(waiter.request, group, booked, policy)
        if why:
            waiter.why, waiter.why_round = why, self._rounds
            ledger.groups[waiter.group].standing.push(ledger.ranked(waiter))
            return
        grant = Grant(waiter.request, item, group.name, node, now)
        ledger.drop_waiter(item.id)
        ledger.add_running(grant)
        if node is not None:
            booked[node] = booked.get(node, ResourceAmounts()).add(item.demand)
        self._placer.dispatched(item.demand)
        if waiter.future.done():  # cancelled meanwhile
            ledger.drop_running(item.id)
            return
        waiter.future.set_result(grant)

    def _fail_group(self, name: str) -> None:
        """Rejects the tasks of a pool that does not exist, once the topology was observed
        after they arrived (a pool created a moment ago is not yet in an older one)."""
        ledger = self._ledger
        ledger.groups[name].view = RoundView(self._rounds)
        for item_id, waiter in list(ledger.waiting.items()):
            if waiter.group != name:
                continue
            if self._topology.observe_time <= waiter.item.enqueued_at:
                waiter.why, waiter.why_round = f"pool {name!r} not observed yet", self._rounds
                continue
            ledger.drop_waiter(item_id)
            if not waiter.future.done():
                waiter.future.set_exception(
                    Rejected(f"pool {name!r} does not exist (task {waiter.request.task_id})")
                )
