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
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from controlplane.engine.planbook import PlanBook
from controlplane.engine.topology import CLUSTER, CapacityGroup, Topology
from models.agents import ReplicaInfo, ReplicaState
from models.queueing import (
    Dispatch,
    NamespacePolicy,
    NamespaceState,
    Preempt,
    QueueConfig,
    QueuedItem,
    QueueMetrics,
    QueueSnapshot,
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
from scheduler.queueing import decide, queue_metrics, requeue, why_waiting

log = logging.getLogger(__name__)

_WORKLOAD_WINDOW = 64  # recent demands the fragmentation-aware policy aims for
QUEUED = "queued: not yet considered by a dispatch round"


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
    blocked: str = ""  # why it still waits after the last round


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
            (w.item, w.blocked)
            for w in self._waiting.values()
            if namespace is None or w.item.namespace == namespace
        ]

    def waiting_reasons(self, execution_id: str) -> dict[str, str]:
        """Why each queued task of the execution still waits, by task id (a task that is not
        queued is absent)."""
        return {
            w.request.task_id: w.blocked or QUEUED
            for w in self._waiting.values()
            if w.request.execution_id == execution_id
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
        names = {w.item.namespace for w in self._waiting.values()} | {
            g.request.namespace for g in self._running.values()
        }
        return [queue_metrics(self._state(name, None), now, self.config) for name in sorted(names)]

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
            self._running[item.id] = grant
            return grant
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._waiting[item.id] = _Waiter(request, item, group, future)
        self.kick()
        try:
            return await future
        except asyncio.CancelledError:
            self._waiting.pop(item.id, None)
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
        if self._running.pop(grant.item.id, None) is None:
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
        waiting = sum(1 for w in self._waiting.values() if w.request.agent == agent)
        granted = sum(1 for g in self._running.values() if g.request.agent == agent)
        return waiting, granted

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
        booked = self._booked()
        for name in sorted({w.group for w in self._waiting.values()}):
            group = self._topology.group(name)
            if group is None:
                self._fail_group(name)
                continue
            self._round_in(group, booked, now)

    def _round_in(
        self, group: CapacityGroup, booked: dict[str, ResourceAmounts], now: float
    ) -> None:
        waiters = {i: w for i, w in self._waiting.items() if w.group == group.name}
        running = [g for g in self._running.values() if g.group == group.name]
        names = sorted(
            {w.item.namespace for w in waiters.values()} | {g.request.namespace for g in running}
        )
        stopping = ResourceAmounts.total([g.item.demand for g in running if g.preempted])
        for waiter in waiters.values():
            waiter.blocked = ""
        snapshot = QueueSnapshot(
            capacity=group.capacity,
            namespaces=tuple(self._state(n, group.name) for n in names),
            config=self.config,
            reserved=group.reserved.add(stopping),
        )
        for action in decide(snapshot, now):
            if isinstance(action, Reject):
                rejected = waiters.get(action.id)
                if rejected is not None:
                    self._waiting.pop(action.id, None)
                    if not rejected.future.done():
                        rejected.future.set_exception(Rejected(action.reason))
            elif isinstance(action, Dispatch):
                chosen = waiters.get(action.item.id)
                if chosen is not None:
                    self._dispatch(chosen, action.item, group, booked, now)
            elif isinstance(action, Preempt):
                victim = self._running.get(action.victim.id)
                if victim is not None:
                    log.info("preempting %s: %s", victim.item.id, action.reason)
                    victim.preempt(action.reason)
        in_use = [g.item.demand for g in self._running.values() if g.group == group.name]
        free = group.capacity.sub(group.reserved).sub(ResourceAmounts.total(in_use))
        # Why each item still waits: its placement said so, or its quota, capacity or turn.
        states: dict[str, NamespaceState] = {}
        for waiter in waiters.values():
            if waiter.item.id not in self._waiting or waiter.blocked:
                continue
            if not waiter.request.demand.fits(free):
                # The pool itself is full: the signal admission's backpressure acts on.
                self._starved.add(waiter.item.namespace)
            name = waiter.item.namespace
            if name not in states:
                states[name] = self._state(name, group.name)
            waiter.blocked = why_waiting(states[name], waiter.item, free)

    def _dispatch(
        self,
        waiter: _Waiter,
        item: QueuedItem,
        group: CapacityGroup,
        booked: dict[str, ResourceAmounts],
        now: float,
    ) -> None:
        node, why = self._place(waiter, group, booked)
        if why:
            waiter.blocked = why
            return
        grant = Grant(waiter.request, item, group.name, node, now)
        del self._waiting[item.id]
        self._running[item.id] = grant
        if node is not None:
            booked[node] = booked.get(node, ResourceAmounts()).add(item.demand)
        if not item.demand.is_zero():
            self._workload.append(item.demand)
        if waiter.future.done():  # cancelled meanwhile
            self._running.pop(item.id, None)
            return
        waiter.future.set_result(grant)

    def _fail_group(self, name: str) -> None:
        """Rejects the tasks of a pool that does not exist, once the topology was observed
        after they arrived (a pool created a moment ago is not yet in an older one)."""
        for item_id, waiter in list(self._waiting.items()):
            if waiter.group != name:
                continue
            if self._topology.observe_time <= waiter.item.enqueued_at:
                waiter.blocked = f"pool {name!r} not observed yet"
                continue
            del self._waiting[item_id]
            if not waiter.future.done():
                waiter.future.set_exception(
                    Rejected(f"pool {name!r} does not exist (task {waiter.request.task_id})")
                )

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
        for grant in self._running.values():
            if grant.request.execution_id == request.execution_id and grant.node:
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

    def _state(self, namespace: str, group: str | None) -> NamespaceState:
        queued = tuple(
            replace(
                w.item, rank=self.plans.rank_for(namespace, w.item.execution_id, w.item.task_id)
            )
            for w in self._waiting.values()
            if w.item.namespace == namespace and (group is None or w.group == group)
        )
        running = tuple(
            RunningItem(g.item, g.started_at)
            for g in self._running.values()
            if g.request.namespace == namespace
            and (group is None or g.group == group)
            and not g.preempted
        )
        return NamespaceState(self._policy_of(namespace), queued, running)
