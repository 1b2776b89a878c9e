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
group's running grants are kept apart, and why each task still waits is worked out when asked,
from what the round left (free capacity, each namespace's usage), as the round would have.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from controlplane.engine.dispatch.topology import CLUSTER, CapacityGroup, Topology
from controlplane.engine.planning.planbook import NamespacePlan, PlanBook
from models.agents import ReplicaInfo, ReplicaState
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
from models.workflows import PlacementConstraints
from scheduler.placement.constraints import (
    PlacementContext,
    eligible_nodes,
    no_eligible_node_reason,
)
from scheduler.placement.live import Candidate, place_task
from scheduler.queueing import StandingQueues, queue_metrics, requeue, waiting_reason

log = logging.getLogger(__name__)

_WORKLOAD_WINDOW = 64  # recent demands the fragmentation-aware policy aims for
QUEUED = "queued: not yet considered by a dispatch round"
_T = TypeVar("_T")


class Rejected(Exception):
    """The task can never run as asked (e.g. its demand exceeds its namespace's quota)."""


@dataclass(frozen=True)
class TaskRequest:
    execution_id: str
    task_id: str
    attempt: int
    namespace: str
    agent: str
    demand: ResourceAmounts = field(default_factory=ResourceAmounts)
    placement: PlacementConstraints = field(default_factory=PlacementConstraints)
    priority: int = 0

    @property
    def item_id(self) -> str:
        return f"{self.execution_id}/{self.task_id}/{self.attempt}"


class Grant:
    """Capacity given to one attempt: where it runs, and how to stop it for a preemption."""

    def __init__(
        self, request: TaskRequest, item: QueuedItem, group: str, node: str | None, now: float
    ) -> None:
        self.request = request
        self.item = item
        self.group = group
        self.node = node
        self.started_at = now
        self.preempted = ""  # the reason, once preempted
        self._on_preempt: Callable[[], object] | None = None

    @property
    def nodes(self) -> frozenset[str] | None:
        """Where the attempt must lease its replica (None: any replica)."""
        return None if self.node is None else frozenset({self.node})

    def on_preempt(self, callback: Callable[[], object] | None) -> None:
        self._on_preempt = callback

    def preempt(self, reason: str) -> None:
        if self.preempted:
            return
        self.preempted = reason
        if self._on_preempt is not None:
            self._on_preempt()


@dataclass
class _Waiter:
    request: TaskRequest
    item: QueuedItem
    group: str
    future: asyncio.Future[Grant]
    arrived: int  # rounds run before it arrived (the next one considers it)
    why: str = ""  # why it waits, as said by round `why_round` (placement, missing pool)
    why_round: int = -1


_Shape = tuple[float, int, float, tuple[tuple[str, float], ...]]


def _shape(demand: ResourceAmounts) -> _Shape:
    return (demand.cpu, demand.memory, demand.gpu, tuple(sorted(demand.custom.items())))


@dataclass
class _Demand:
    demand: ResourceAmounts
    count: int = 0


@dataclass(frozen=True)
class _View:
    """What a group's round left: free capacity and, per namespace, (policy, usage, replica
    leases) of its running grants (None: the group's pool did not exist)."""

    round: int
    free: ResourceAmounts | None = None
    namespaces: dict[str, tuple[NamespacePolicy, ResourceAmounts, int]] = field(
        default_factory=dict
    )


class _Group:
    """What the dispatcher keeps of one capacity group between rounds."""

    def __init__(self, config: QueueConfig) -> None:
        self.standing = StandingQueues(config)
        self.waiters: dict[str, dict[str, _Waiter]] = {}  # namespace -> item id -> waiter
        # namespace -> each distinct demand of its waiters and how many (backpressure signal)
        self.demands: dict[str, dict[_Shape, _Demand]] = {}
        self.plans: dict[str, NamespacePlan | None] = {}  # plan the queued ranks come from
        self.running: dict[str, Grant] = {}  # grants of the group, in the order they were made
        self.view: _View | None = None

    def empty(self) -> bool:
        return not self.waiters and not self.running


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
        self._replicas_of = replicas_of
        self._pool_of_agent = pool_of_agent
        self._clock = clock
        self.config = config or QueueConfig()
        self.plans = PlanBook()
        self._topology = Topology()
        self._waiting: dict[str, _Waiter] = {}
        self._running: dict[str, Grant] = {}
        self._groups: dict[str, _Group] = {}
        self._running_of: dict[str, dict[str, Grant]] = {}  # by execution, in grant order
        self._waiting_of: dict[str, dict[str, _Waiter]] = {}  # by execution, in arrival order
        self._per_agent: Counter[tuple[str, bool]] = Counter()  # (agent, granted) -> attempts
        self._rounds = 0
        # Node each finished or running task of a live execution was placed on (affinity).
        self._placed: dict[str, dict[str, str]] = {}
        self._workload: deque[ResourceAmounts] = deque(maxlen=_WORKLOAD_WINDOW)
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
            for w in self._waiting.values()
            if namespace is None or w.item.namespace == namespace
        ]

    def queued(self, namespace: str | None = None) -> list[QueuedItem]:
        """Queued items, optionally of one namespace (`waiting` without the reasons)."""
        return [
            w.item
            for w in self._waiting.values()
            if namespace is None or w.item.namespace == namespace
        ]

    def waiting_reasons(self, execution_id: str) -> dict[str, str]:
        """Why each queued task of the execution still waits, by task id (a task that is not
        queued is absent)."""
        return {
            w.request.task_id: self._blocked(w) or QUEUED
            for w in self._waiting_of.get(execution_id, {}).values()
        }

    def running(self, namespace: str | None = None) -> list[Grant]:
        return [
            g
            for g in self._running.values()
            if namespace is None or g.request.namespace == namespace
        ]

    def saturated(self, namespace: str) -> bool:
        """The namespace's tasks wait for capacity (the backpressure signal for admission)."""
        return namespace in self._starved

    def metrics(self) -> list[QueueMetrics]:
        now = self._clock()
        queued: dict[str, list[QueuedItem]] = {}
        running: dict[str, list[RunningItem]] = {}
        for w in self._waiting.values():
            queued.setdefault(w.item.namespace, []).append(w.item)
        for g in self._running.values():
            running.setdefault(g.request.namespace, [])
            if not g.preempted:
                running[g.request.namespace].append(RunningItem(g.item, g.started_at))
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
            self._add_running(grant)
            return grant
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._add_waiter(_Waiter(request, item, group, future, self._rounds))
        self.kick()
        try:
            return await future
        except asyncio.CancelledError:
            self._drop_waiter(item.id)
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
        if self._drop_running(grant.item.id) is None:
            return
        if grant.node is not None:
            self._placed.setdefault(grant.request.execution_id, {})[grant.request.task_id] = (
                grant.node
            )
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
        return self._per_agent[agent, False], self._per_agent[agent, True]

    def forget_execution(self, execution_id: str) -> None:
        self._placed.pop(execution_id, None)
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
        booked = self._booked()
        for name in sorted(n for n, g in self._groups.items() if g.waiters):
            group = self._topology.group(name)
            if group is None:
                self._fail_group(name)
                continue
            self._round_in(group, booked, now)
        for name in [n for n, g in self._groups.items() if g.empty()]:
            del self._groups[name]

    def _round_in(
        self, group: CapacityGroup, booked: dict[str, ResourceAmounts], now: float
    ) -> None:
        kept = self._groups[group.name]
        for name, members in kept.waiters.items():
            plan = self.plans.get(name)
            if plan is not kept.plans.get(name):  # a new plan: the items' ranks changed
                kept.plans[name] = plan
                kept.standing.reset(name, [self._ranked(w) for w in members.values()])
        names = set(kept.waiters)
        running: dict[str, list[RunningItem]] = {}
        stopping: list[ResourceAmounts] = []
        for grant in kept.running.values():
            names.add(grant.request.namespace)
            if grant.preempted:
                stopping.append(grant.item.demand)
            else:
                running.setdefault(grant.request.namespace, []).append(
                    RunningItem(grant.item, grant.started_at)
                )
        policies = {name: self._policy_of(name) for name in sorted(names)}
        reserved = group.reserved.add(ResourceAmounts.total(stopping))
        actions = kept.standing.round(policies, running, group.capacity, reserved, now)
        for action in actions:
            if isinstance(action, Reject):
                rejected = self._drop_waiter(action.id)
                if rejected is not None and not rejected.future.done():
                    rejected.future.set_exception(Rejected(action.reason))
            elif isinstance(action, Dispatch):
                chosen = self._waiting.get(action.item.id)
                if chosen is not None:
                    self._dispatch(chosen, action.item, group, booked, now)
            elif isinstance(action, Preempt):
                victim = self._running.get(action.victim.id)
                if victim is not None:
                    log.info("preempting %s: %s", victim.item.id, action.reason)
                    victim.preempt(action.reason)
        self._leave_view(kept, group, policies)

    def _leave_view(
        self, kept: _Group, group: CapacityGroup, policies: dict[str, NamespacePolicy]
    ) -> None:
        """Records what the round left (for why each task still waits) and which namespaces
        wait for capacity the pool does not have (backpressure)."""
        in_use = ResourceAmounts.total([g.item.demand for g in kept.running.values()])
        free = group.capacity.sub(group.reserved).sub(in_use)
        held: dict[str, list[RunningItem]] = {}
        for grant in kept.running.values():
            if not grant.preempted:
                held.setdefault(grant.request.namespace, []).append(
                    RunningItem(grant.item, grant.started_at)
                )
        namespaces = {}
        for name in kept.waiters:
            items = held.get(name, [])
            usage = ResourceAmounts.total([r.demand for r in items])
            namespaces[name] = (policies[name], usage, sum(r.item.replicas for r in items))
        kept.view = _View(self._rounds, free, namespaces)
        # The pool itself is full for a task: the signal admission's backpressure acts on.
        # (A task the round dispatched but no node took fits what is left, the round having
        # counted its demand, so it never raises the signal.)
        for name, shapes in kept.demands.items():
            if any(not entry.demand.fits(free) for entry in shapes.values()):
                self._starved.add(name)

    def _blocked(self, waiter: _Waiter) -> str:
        """Why the waiter still waits, as the last round of its group saw it ("" if no round
        considered it yet)."""
        kept = self._groups.get(waiter.group)
        view = None if kept is None else kept.view
        if view is None or view.round <= waiter.arrived:
            return ""
        if waiter.why_round == view.round:
            return waiter.why
        if view.free is None or waiter.item.namespace not in view.namespaces:
            return ""
        policy, usage, replicas = view.namespaces[waiter.item.namespace]
        waiter.why = waiting_reason(policy, usage, replicas, waiter.item, view.free)
        waiter.why_round = view.round
        return waiter.why

    def _dispatch(
        self,
        waiter: _Waiter,
        item: QueuedItem,
        group: CapacityGroup,
        booked: dict[str, ResourceAmounts],
        now: float,
    ) -> None:
        """Starts the dispatched item on a node (if none fits now, it stays queued)."""
        node, why = self._place(waiter, group, booked)
        if why:
            waiter.why, waiter.why_round = why, self._rounds
            self._groups[waiter.group].standing.push(self._ranked(waiter))
            return
        grant = Grant(waiter.request, item, group.name, node, now)
        self._drop_waiter(item.id)
        self._add_running(grant)
        if node is not None:
            booked[node] = booked.get(node, ResourceAmounts()).add(item.demand)
        if not item.demand.is_zero():
            self._workload.append(item.demand)
        if waiter.future.done():  # cancelled meanwhile
            self._drop_running(item.id)
            return
        waiter.future.set_result(grant)

    def _fail_group(self, name: str) -> None:
        """Rejects the tasks of a pool that does not exist, once the topology was observed
        after they arrived (a pool created a moment ago is not yet in an older one)."""
        self._groups[name].view = _View(self._rounds)
        for item_id, waiter in list(self._waiting.items()):
            if waiter.group != name:
                continue
            if self._topology.observe_time <= waiter.item.enqueued_at:
                waiter.why, waiter.why_round = f"pool {name!r} not observed yet", self._rounds
                continue
            self._drop_waiter(item_id)
            if not waiter.future.done():
                waiter.future.set_exception(
                    Rejected(f"pool {name!r} does not exist (task {waiter.request.task_id})")
                )

    # -- bookkeeping ----------------------------------------------------------------------

    def _group(self, name: str) -> _Group:
        kept = self._groups.get(name)
        if kept is None:
            kept = self._groups[name] = _Group(self.config)
        return kept

    def _ranked(self, waiter: _Waiter) -> QueuedItem:
        """The waiter's item with its rank in its namespace's current plan."""
        item = waiter.item
        rank = self.plans.rank_for(item.namespace, item.execution_id, item.task_id)
        return item if rank == item.rank else replace(item, rank=rank)

    def _add_waiter(self, waiter: _Waiter) -> None:
        item = waiter.item
        self._drop_waiter(item.id)  # the same attempt asked twice: the newer request counts
        self._waiting[item.id] = waiter
        self._waiting_of.setdefault(waiter.request.execution_id, {})[item.id] = waiter
        self._per_agent[waiter.request.agent, False] += 1
        kept = self._group(waiter.group)
        name = item.namespace
        if name not in kept.waiters:
            kept.waiters[name] = {}
            kept.plans[name] = self.plans.get(name)
        kept.waiters[name][item.id] = waiter
        demand = waiter.request.demand
        kept.demands.setdefault(name, {}).setdefault(_shape(demand), _Demand(demand)).count += 1
        kept.standing.push(self._ranked(waiter))

    def _drop_waiter(self, item_id: str) -> _Waiter | None:
        waiter = self._waiting.pop(item_id, None)
        if waiter is None:
            return None
        _unindex(self._waiting_of, waiter.request.execution_id, item_id)
        _uncount(self._per_agent, (waiter.request.agent, False))
        kept = self._groups[waiter.group]
        name = waiter.item.namespace
        kept.standing.remove(item_id)
        members = kept.waiters[name]
        del members[item_id]
        shapes = kept.demands[name]
        key = _shape(waiter.request.demand)
        shapes[key].count -= 1
        if not shapes[key].count:
            del shapes[key]
        if not members:
            del kept.waiters[name]
            del kept.demands[name]
            kept.plans.pop(name, None)
        return waiter

    def _add_running(self, grant: Grant) -> None:
        item_id = grant.item.id
        self._running[item_id] = grant
        self._group(grant.group).running[item_id] = grant
        self._running_of.setdefault(grant.request.execution_id, {})[item_id] = grant
        self._per_agent[grant.request.agent, True] += 1

    def _drop_running(self, item_id: str) -> Grant | None:
        grant = self._running.pop(item_id, None)
        if grant is None:
            return None
        self._group(grant.group).running.pop(item_id, None)
        _unindex(self._running_of, grant.request.execution_id, item_id)
        _uncount(self._per_agent, (grant.request.agent, True))
        return grant

    # -- placement ------------------------------------------------------------------------

    def _place(
        self, waiter: _Waiter, group: CapacityGroup, booked: dict[str, ResourceAmounts]
    ) -> tuple[str | None, str]:
        """(node, "") or (None, "") for any replica, or (None, why) when nowhere fits now."""
        request = waiter.request
        planned = self.plans.node_for(request.namespace, request.execution_id, request.task_id)
        if request.demand.is_zero() and request.placement.is_empty and planned is None:
            return None, ""  # nothing to place: any replica (a pooled agent's are in its pool)
        replicas = [r for r in self._replicas_of(request.agent) if r.state is ReplicaState.READY]
        replica_nodes = {r.node_id for r in replicas if r.node_id}
        if not replica_nodes:
            if replicas or not request.placement.node_labels:
                return None, ""  # the backend does not say where replicas run: any will do
            return None, f"no ready replica of agent {request.agent!r}"
        placed = dict(self._placed.get(request.execution_id, {}))
        load: Counter[str] = Counter()
        for grant in self._running_of.get(request.execution_id, {}).values():
            if grant.node:
                placed[grant.request.task_id] = grant.node
                load[grant.node] += 1
        targets = {t: placed[t] for t in request.placement.affinity if t in placed}
        context = PlacementContext(
            replica_nodes=replica_nodes,
            affinity_nodes=set(targets.values()),
            anti_affinity_nodes={placed[t] for t in request.placement.anti_affinity if t in placed},
            execution_load=load,
        )
        labels = request.placement.node_labels
        nodes = eligible_nodes(group.nodes, labels, context, spread=request.placement.spread)
        if not nodes:
            scope = "the cluster" if group.name == CLUSTER else f"pool {group.name!r}"
            return None, no_eligible_node_reason(group.nodes, labels, context, targets, scope)
        candidates = [
            Candidate(
                n.node_id, n.capacity, n.capacity.sub(booked.get(n.node_id, ResourceAmounts()))
            )
            for n in nodes
        ]
        for candidate in candidates:
            if candidate.node_id == planned and request.demand.fits(candidate.free):
                return planned, ""
        policy = self._policy_of(request.namespace).placement_policy
        node = place_task(candidates, request.demand, policy, list(self._workload))
        if node is None:
            return None, "no eligible node has room for the task's demand"
        return node, ""

    def _booked(self) -> dict[str, ResourceAmounts]:
        out: dict[str, ResourceAmounts] = {}
        for grant in self._running.values():
            if grant.node is not None:
                out[grant.node] = out.get(grant.node, ResourceAmounts()).add(grant.item.demand)
        return out


def _unindex(index: dict[str, dict[str, _T]], key: str, item_id: str) -> None:
    members = index[key]
    del members[item_id]
    if not members:
        del index[key]


def _uncount(counter: Counter[tuple[str, bool]], key: tuple[str, bool]) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
