"""Which tasks of a phase still need a look, so that a step costs what changed rather than a
scan of the whole workflow.

Per phase, in topological order: the tasks not yet scheduled (what scheduling looks at) and
the tasks not yet ended (what "has the phase ended" looks at). Each look drops what it no
longer needs. A new plan (a runtime modification) or a record brought back to what the store
holds starts both over from the plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.engine.executions.plan import ExecutionPlan, Phase
from models.executions import TaskRecord, TaskStatus


class PhaseCursor:
    def __init__(self) -> None:
        self._plan: ExecutionPlan | None = None
        self._unscheduled: dict[Phase, list[str]] = {}
        self._open: dict[Phase, tuple[list[str], int]] = {}

    def reset(self) -> None:
        self._unscheduled.clear()
        self._open.clear()

    def _of(self, plan: ExecutionPlan) -> None:
        if plan is not self._plan:
            self._plan = plan
            self.reset()

    def unscheduled(self, plan: ExecutionPlan, phase: Phase) -> list[str]:
        """The phase's tasks that were pending at the last look, in topological order."""
        self._of(plan)
        ids = self._unscheduled.get(phase)
        if ids is None:
            ids = plan.ids(phase)
        return ids

    def looked_at(self, phase: Phase, ids: list[str], tasks: Mapping[str, TaskRecord]) -> None:
        """After a scheduling pass over `ids`: keeps those still pending."""
        self._unscheduled[phase] = [t for t in ids if tasks[t].status is TaskStatus.PENDING]

    def ended(self, plan: ExecutionPlan, phase: Phase, tasks: Mapping[str, TaskRecord]) -> bool:
        """Whether every task of the phase has ended (the ones that had at the last look are
        skipped: an ended task does not start again under the same plan and record)."""
        self._of(plan)
        ids, start = self._open.get(phase) or (plan.ids(phase), 0)
        while start < len(ids) and tasks[ids[start]].status.terminal:
            start += 1
        self._open[phase] = (ids, start)
        return start == len(ids)
