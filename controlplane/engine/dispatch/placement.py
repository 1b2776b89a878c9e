"""Which node a dispatched task runs on: the node its namespace's plan chose if it still has
room, else the namespace's placement policy over the eligible nodes (labels, affinity to the
nodes of the execution's other tasks, spread), drawing on what the running grants book."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from controlplane.engine.dispatch.grants import Grant, TaskRequest
from controlplane.engine.dispatch.ledger import Ledger
from controlplane.engine.dispatch.topology import CLUSTER, CapacityGroup
from controlplane.engine.planning.planbook import PlanBook
from models.agents import ReplicaInfo, ReplicaState
from models.queueing import NamespacePolicy
from models.resources import ResourceAmounts
from scheduler.placement.constraints import (
    PlacementContext,
    eligible_nodes,
    no_eligible_node_reason,
)
from scheduler.placement.live import Candidate, place_task

_WORKLOAD_WINDOW = 64  # recent demands the fragmentation-aware policy aims for
_NOTHING = ResourceAmounts()


class TaskPlacer:
    def __init__(
        self,
        policy_of: Callable[[str], NamespacePolicy],
        replicas_of: Callable[[str], list[ReplicaInfo]],
        plans: PlanBook,
        ledger: Ledger,
    ) -> None:
        self._policy_of = policy_of
        self._replicas_of = replicas_of
        self._plans = plans
        self._ledger = ledger
        # Node each finished or running task of a live execution was placed on (affinity).
        self._placed: dict[str, dict[str, str]] = {}
        self._workload: deque[ResourceAmounts] = deque(maxlen=_WORKLOAD_WINDOW)

    def booked(self) -> dict[str, ResourceAmounts]:
        """Per node, what the running grants placed on it demand."""
        out: dict[str, ResourceAmounts] = {}
        for grant in self._ledger.running.values():
            if grant.node is not None:
                out[grant.node] = out.get(grant.node, ResourceAmounts()).add(grant.item.demand)
        return out

    def dispatched(self, demand: ResourceAmounts) -> None:
        """A task with this demand was placed (the recent workload the policy aims for)."""
        if not demand.is_zero():
            self._workload.append(demand)

    def finished(self, grant: Grant) -> None:
        """The grant's attempt ended: its node stays the task's for affinity."""
        if grant.node is not None:
            self._placed.setdefault(grant.request.execution_id, {})[grant.request.task_id] = (
                grant.node
            )

    def forget_execution(self, execution_id: str) -> None:
        self._placed.pop(execution_id, None)

    def place(
        self,
        request: TaskRequest,
        group: CapacityGroup,
        booked: dict[str, ResourceAmounts],
        policy: NamespacePolicy | None = None,
    ) -> tuple[str | None, str]:
        """(node, "") or (None, "") for any replica, or (None, why) when nowhere fits now.
        `policy`: the task's namespace policy if the caller has it at hand."""
        planned = self._plans.node_for(request.namespace, request.execution_id, request.task_id)
        if request.demand.is_zero() and request.placement.is_empty and planned is None:
            return None, ""  # nothing to place: any replica (a pooled agent's are in its pool)
        replicas = [r for r in self._replicas_of(request.agent) if r.state is ReplicaState.READY]
        replica_nodes = {r.node_id for r in replicas if r.node_id}
        if not replica_nodes:
            if replicas or not request.placement.node_labels:
                return None, ""  # the backend does not say where replicas run: any will do
            return None, f"no ready replica of agent {request.agent!r}"
        placement = request.placement
        placed: dict[str, str] = {}
        load: Counter[str] | None = None
        if placement.affinity or placement.anti_affinity or placement.spread:
            # Only these constraints look at where the execution's other tasks run.
            placed = dict(self._placed.get(request.execution_id, {}))
            load = Counter()
            for grant in self._ledger.running_of.get(request.execution_id, {}).values():
                if grant.node:
                    placed[grant.request.task_id] = grant.node
                    load[grant.node] += 1
        targets = {t: placed[t] for t in placement.affinity if t in placed}
        context = PlacementContext(
            replica_nodes=replica_nodes,
            affinity_nodes=set(targets.values()),
            anti_affinity_nodes={placed[t] for t in placement.anti_affinity if t in placed},
            execution_load=load,
        )
        labels = placement.node_labels
        nodes = eligible_nodes(group.nodes, labels, context, spread=placement.spread)
        if not nodes:
            scope = "the cluster" if group.name == CLUSTER else f"pool {group.name!r}"
            return None, no_eligible_node_reason(group.nodes, labels, context, targets, scope)
        candidates = [
            Candidate(n.node_id, n.capacity, n.capacity.sub(booked.get(n.node_id, _NOTHING)))
            for n in nodes
        ]
        for candidate in candidates:
            if candidate.node_id == planned and request.demand.fits(candidate.free):
                return planned, ""
        if policy is None:
            policy = self._policy_of(request.namespace)
        node = place_task(candidates, request.demand, policy.placement_policy, self._workload)
        if node is None:
            return None, "no eligible node has room for the task's demand"
        return node, ""
