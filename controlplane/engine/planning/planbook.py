"""The plans the dispatcher follows, per namespace, and the attempt durations they are built
from (an exponentially weighted mean per (agent, task id), falling back to one per agent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.rolling import PlannedTask, TaskKey

_SMOOTHING = 0.3  # weight of the newest duration in the running mean
# (agent, task id) means kept at most; the oldest-learned go first (task ids come from workflow
# definitions, so this bounds memory, not accuracy, in practice).
_MAX_TASK_MEANS = 4096


@dataclass(frozen=True)
class NamespacePlan:
    scheduler: str
    made_at: float
    tasks: Mapping[TaskKey, PlannedTask] = field(default_factory=dict)


class PlanBook:
    def __init__(self) -> None:
        self._plans: dict[str, NamespacePlan] = {}
        self._durations: dict[str, float] = {}
        self._task_durations: dict[tuple[str, str], float] = {}

    # -- durations ------------------------------------------------------------------------

    def observe_duration(self, agent: str, seconds: float, task_id: str = "") -> None:
        self._durations[agent] = _smoothed(self._durations.get(agent), seconds)
        if task_id:
            key = (agent, task_id)
            self._task_durations[key] = _smoothed(self._task_durations.get(key), seconds)
            if len(self._task_durations) > _MAX_TASK_MEANS:
                del self._task_durations[next(iter(self._task_durations))]

    @property
    def durations(self) -> Mapping[str, float]:
        """The mean attempt duration per agent (seconds)."""
        return dict(self._durations)

    def expected_duration_s(self, agent: str, task_id: str, default_s: float) -> float:
        """The mean duration of the task's attempts, else of the agent's, else the default."""
        known = self._task_durations.get((agent, task_id))
        if known is None:
            known = self._durations.get(agent)
        return default_s if known is None else known

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


def _smoothed(old: float | None, seconds: float) -> float:
    return seconds if old is None else (1 - _SMOOTHING) * old + _SMOOTHING * seconds
