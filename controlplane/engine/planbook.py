"""The plans the dispatcher follows, per namespace, and the attempt durations they are built
from (an exponentially weighted mean per agent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.rolling import PlannedTask, TaskKey

_SMOOTHING = 0.3  # weight of the newest duration in the running mean


@dataclass(frozen=True)
class NamespacePlan:
    scheduler: str
    made_at: float
    tasks: Mapping[TaskKey, PlannedTask] = field(default_factory=dict)


class PlanBook:
    def __init__(self) -> None:
        self._plans: dict[str, NamespacePlan] = {}
        self._durations: dict[str, float] = {}

    # -- durations ------------------------------------------------------------------------

    def observe_duration(self, agent: str, seconds: float) -> None:
        old = self._durations.get(agent)
        self._durations[agent] = (
            seconds if old is None else (1 - _SMOOTHING) * old + _SMOOTHING * seconds
        )

    @property
    def durations(self) -> Mapping[str, float]:
        return dict(self._durations)

    # -- plans ----------------------------------------------------------------------------

    def adopt(self, namespace: str, plan: NamespacePlan) -> None:
        self._plans[namespace] = plan

    def drop(self, namespace: str) -> None:
        self._plans.pop(namespace, None)

    def get(self, namespace: str) -> NamespacePlan | None:
        return self._plans.get(namespace)

    def _task(self, namespace: str, execution_id: str, task_id: str) -> PlannedTask | None:
        plan = self._plans.get(namespace)
        return None if plan is None else plan.tasks.get((execution_id, task_id))

    def rank_for(self, namespace: str, execution_id: str, task_id: str) -> float | None:
        planned = self._task(namespace, execution_id, task_id)
        return None if planned is None else float(planned.start)

    def node_for(self, namespace: str, execution_id: str, task_id: str) -> str | None:
        planned = self._task(namespace, execution_id, task_id)
        return None if planned is None or not planned.node else planned.node

    def forget_execution(self, execution_id: str) -> None:
        for namespace, plan in list(self._plans.items()):
            if any(key[0] == execution_id for key in plan.tasks):
                tasks = {k: v for k, v in plan.tasks.items() if k[0] != execution_id}
                self._plans[namespace] = NamespacePlan(plan.scheduler, plan.made_at, tasks)
