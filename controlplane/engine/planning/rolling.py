"""Rolling-horizon batch plans: for every namespace with a batch scheduler, every
`plan_interval_s` (or on demand) the ready and predicted tasks are planned with CP-SAT / GA /
ML / a rule over the agent replicas' concurrency slots, around the attempts already running
(which hold their slots until their expected end), and the dispatcher follows the plan (planned
start order inside the namespace's queue, planned node when it has room)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.planning.planbook import NamespacePlan
from models.agents import ReplicaInfo, ReplicaState
from models.errors import invalid
from models.namespaces import qualified_name
from models.queueing import NamespacePolicy
from models.scheduling import Schedule
from scheduler import registry
from scheduler.rolling import (
    LiveProblem,
    PlanTask,
    RunningAttempt,
    build_problem,
    read_plan,
    replica_slots,
    time_left_ms,
)

log = logging.getLogger(__name__)

DEFAULT_DURATION_S = 1.0
MAX_PLAN_TIME_S = 2.0  # a plan older than its interval is worthless: solve briefly


@dataclass(frozen=True)
class LivePlan:
    live: LiveProblem
    schedule: Schedule


class RollingPlanner:
    def __init__(
        self,
        dispatcher: Dispatcher,
        live_tasks: Callable[[str], list[PlanTask]],
        replicas_of: Callable[[str], list[ReplicaInfo]],
        concurrency_of: Callable[[str], int],
        policy_of: Callable[[str], NamespacePolicy],
        namespaces: Callable[[], set[str]],
        clock: Callable[[], float],
    ) -> None:
        self._dispatcher = dispatcher
        self._live_tasks = live_tasks
        self._replicas_of = replicas_of
        self._concurrency_of = concurrency_of
        self._policy_of = policy_of
        self._namespaces = namespaces
        self._clock = clock
        self._solving: set[str] = set()

    def problem(self, namespace: str) -> LiveProblem | None:
        """The namespace's live work as a scheduling problem (None: nothing to plan)."""
        book = self._dispatcher.plans

        def expected_s(agent: str, task_id: str) -> float:
            return book.expected_duration_s(agent, task_id, DEFAULT_DURATION_S)

        # A task names an agent of its execution's namespace: planned on that one's replicas.
        keyed = [(t, qualified_name(namespace, t.agent)) for t in self._live_tasks(namespace)]
        tasks = [
            PlanTask(
                t.execution_id,
                t.task_id,
                agent,
                max(1, round(1000 * expected_s(agent, t.task_id))),
                t.depends_on,
                t.ready,
                t.weight,
            )
            for t, agent in keyed
        ]
        agents = sorted({t.agent for t in tasks})
        slots = [
            slot
            for agent in agents
            for r in self._replicas_of(agent)
            if r.state is ReplicaState.READY
            for slot in replica_slots(agent, r.name, r.node_id, self._concurrency_of(agent))
        ]
        # Every running attempt of these agents holds a slot (other executions of the
        # namespace share them). A preempted one is stopping: it frees its slot any moment.
        now = self._clock()
        wanted = set(agents)
        running = [
            RunningAttempt(
                g.request.execution_id,
                g.request.task_id,
                g.request.agent,
                g.node or "",
                time_left_ms(
                    now - g.started_at,
                    0.0 if g.preempted else expected_s(g.request.agent, g.request.task_id),
                ),
            )
            for g in self._dispatcher.running()
            if g.request.agent in wanted
        ]
        return build_problem(f"{namespace}-live", tasks, slots, running)

    async def plan(
        self, namespace: str, scheduler: str = "", time_limit_s: float = MAX_PLAN_TIME_S
    ) -> LivePlan | None:
        """The plan the dispatcher would follow for the namespace now (not adopted)."""
        name = scheduler or self._policy_of(namespace).batch_scheduler or "auto"
        if name not in registry.names():
            raise invalid("scheduler", f"unknown scheduler {name!r}; see ListSchedulers")
        live = self.problem(namespace)
        if live is None:
            return None
        schedule = await asyncio.to_thread(registry.solve, live.problem, name, time_limit_s, 0)
        return LivePlan(live, schedule)

    def adopt(self, namespace: str, plan: LivePlan) -> None:
        tasks = read_plan(plan.live, plan.schedule)
        self._dispatcher.plans.adopt(
            namespace, NamespacePlan(plan.schedule.solver, self._clock(), tasks)
        )
        self._dispatcher.kick()

    async def run_once(self) -> list[str]:
        """Replans every namespace whose plan is due; returns the namespaces replanned."""
        now = self._clock()
        done = []
        for namespace in sorted(self._namespaces()):
            policy = self._policy_of(namespace)
            if not policy.batch_scheduler:
                self._dispatcher.plans.drop(namespace)
                continue
            current = self._dispatcher.plans.get(namespace)
            if current is not None and now - current.made_at < policy.plan_interval_s:
                continue
            if namespace in self._solving:
                continue
            self._solving.add(namespace)
            try:
                limit = min(MAX_PLAN_TIME_S, policy.plan_interval_s / 2)
                plan = await self.plan(namespace, policy.batch_scheduler, limit)
            except Exception:
                log.exception("planning namespace %s failed", namespace)
                continue
            finally:
                self._solving.discard(namespace)
            if plan is not None:
                self.adopt(namespace, plan)
                done.append(namespace)
        return done
