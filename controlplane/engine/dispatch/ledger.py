"""The dispatcher's books: every waiting and running attempt, indexed by item id, by capacity
group (with the group's standing queues), by execution and by agent, kept in step on every
change so a round costs what changed, not the length of the queues."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TypeVar

from controlplane.engine.dispatch.grants import Grant, TaskRequest
from controlplane.engine.planning.planbook import NamespacePlan, PlanBook
from models.queueing import NamespacePolicy, QueueConfig, QueuedItem
from models.resources import ResourceAmounts
from scheduler.queueing import StandingQueues

_T = TypeVar("_T")


@dataclass
class Waiter:
    request: TaskRequest
    item: QueuedItem
    group: str
    future: asyncio.Future[Grant]
    arrived: int  # rounds run before it arrived (the next one considers it)
    why: str = ""  # why it waits, as said by round `why_round` (placement, missing pool)
    why_round: int = -1


Shape = tuple[float, int, float, tuple[tuple[str, float], ...]]


def shape(demand: ResourceAmounts) -> Shape:
    return (demand.cpu, demand.memory, demand.gpu, tuple(sorted(demand.custom.items())))


@dataclass
class DemandCount:
    demand: ResourceAmounts
    count: int = 0


@dataclass(frozen=True)
class RoundView:
    """What a group's round left: free capacity and, per namespace, (policy, usage, replica
    leases) of its running grants (None: the group's pool did not exist)."""

    round: int
    free: ResourceAmounts | None = None
    namespaces: dict[str, tuple[NamespacePolicy, ResourceAmounts, int]] = field(
        default_factory=dict
    )


class GroupBook:
    """What the dispatcher keeps of one capacity group between rounds."""

    def __init__(self, config: QueueConfig) -> None:
        self.standing = StandingQueues(config)
        self.waiters: dict[str, dict[str, Waiter]] = {}  # namespace -> item id -> waiter
        # namespace -> each distinct demand of its waiters and how many (backpressure signal)
        self.demands: dict[str, dict[Shape, DemandCount]] = {}
        self.plans: dict[str, NamespacePlan | None] = {}  # plan the queued ranks come from
        self.running: dict[str, Grant] = {}  # grants of the group, in the order they were made
        self.view: RoundView | None = None

    def empty(self) -> bool:
        return not self.waiters and not self.running


class Ledger:
    def __init__(self, config: QueueConfig, plans: PlanBook) -> None:
        self._config = config
        self._plans = plans
        self.waiting: dict[str, Waiter] = {}
        self.running: dict[str, Grant] = {}
        self.groups: dict[str, GroupBook] = {}
        self.running_of: dict[str, dict[str, Grant]] = {}  # by execution, in grant order
        self.waiting_of: dict[str, dict[str, Waiter]] = {}  # by execution, in arrival order
        self._per_agent: Counter[tuple[str, bool]] = Counter()  # (agent, granted) -> attempts

    def group(self, name: str) -> GroupBook:
        kept = self.groups.get(name)
        if kept is None:
            kept = self.groups[name] = GroupBook(self._config)
        return kept

    def drop_empty_groups(self) -> None:
        for name in [n for n, g in self.groups.items() if g.empty()]:
            del self.groups[name]

    def agent_queue(self, agent: str) -> tuple[int, int]:
        """(attempts waiting for capacity, attempts holding a grant) of one agent."""
        return self._per_agent[agent, False], self._per_agent[agent, True]

    def ranked(self, waiter: Waiter) -> QueuedItem:
        """The waiter's item with its rank in its namespace's current plan."""
        item = waiter.item
        rank = self._plans.rank_for(item.namespace, item.execution_id, item.task_id)
        return item if rank == item.rank else replace(item, rank=rank)

    def add_waiter(self, waiter: Waiter) -> None:
        item = waiter.item
        self.drop_waiter(item.id)  # the same attempt asked twice: the newer request counts
        self.waiting[item.id] = waiter
        self.waiting_of.setdefault(waiter.request.execution_id, {})[item.id] = waiter
        self._per_agent[waiter.request.agent, False] += 1
        kept = self.group(waiter.group)
        name = item.namespace
        if name not in kept.waiters:
            kept.waiters[name] = {}
            kept.plans[name] = self._plans.get(name)
        kept.waiters[name][item.id] = waiter
        demand = waiter.request.demand
        kept.demands.setdefault(name, {}).setdefault(shape(demand), DemandCount(demand)).count += 1
        kept.standing.push(self.ranked(waiter))

    def drop_waiter(self, item_id: str) -> Waiter | None:
        waiter = self.waiting.pop(item_id, None)
        if waiter is None:
            return None
        _unindex(self.waiting_of, waiter.request.execution_id, item_id)
        _uncount(self._per_agent, (waiter.request.agent, False))
        kept = self.groups[waiter.group]
        name = waiter.item.namespace
        kept.standing.remove(item_id)
        members = kept.waiters[name]
        del members[item_id]
        shapes = kept.demands[name]
        key = shape(waiter.request.demand)
        shapes[key].count -= 1
        if not shapes[key].count:
            del shapes[key]
        if not members:
            del kept.waiters[name]
            del kept.demands[name]
            kept.plans.pop(name, None)
        return waiter

    def add_running(self, grant: Grant) -> None:
        item_id = grant.item.id
        self.running[item_id] = grant
        self.group(grant.group).running[item_id] = grant
        self.running_of.setdefault(grant.request.execution_id, {})[item_id] = grant
        self._per_agent[grant.request.agent, True] += 1

    def drop_running(self, item_id: str) -> Grant | None:
        grant = self.running.pop(item_id, None)
        if grant is None:
            return None
        self.group(grant.group).running.pop(item_id, None)
        _unindex(self.running_of, grant.request.execution_id, item_id)
        _uncount(self._per_agent, (grant.request.agent, True))
        return grant


def _unindex(index: dict[str, dict[str, _T]], key: str, item_id: str) -> None:
    members = index[key]
    del members[item_id]
    if not members:
        del index[key]


def _uncount(counter: Counter[tuple[str, bool]], key: tuple[str, bool]) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
