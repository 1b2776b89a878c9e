"""Whether a task runs once every task it depends on has ended (pure): its trigger rule over
their statuses, then its `when` condition. A task that does not run is SKIPPED with a reason,
kept as its error (type and message) so GetExecution shows why."""

from __future__ import annotations

from collections.abc import Sequence

from models.executions import ErrorInfo, TaskStatus
from models.workflows import TriggerRule

FAILED = frozenset({TaskStatus.FAILED, TaskStatus.TIMED_OUT})


def not_triggered(rule: TriggerRule, statuses: Sequence[TaskStatus]) -> ErrorInfo | None:
    """Why a task with `rule` does not run given its dependencies' final statuses (None: it
    runs). With no dependencies every rule but any_failed runs."""
    failed = [s for s in statuses if s in FAILED]
    cancelled = [s for s in statuses if s is TaskStatus.CANCELLED]
    skipped = [s for s in statuses if s is TaskStatus.SKIPPED]
    if rule is TriggerRule.ALL_DONE:
        return None
    if rule is TriggerRule.ANY_FAILED:
        if failed:
            return None
        return ErrorInfo("NotTriggered", "trigger any_failed: no upstream task failed")
    if failed:
        return ErrorInfo("UpstreamFailed", "an upstream task failed")
    if cancelled:
        return ErrorInfo("UpstreamCancelled", "an upstream task was cancelled")
    if skipped and rule is TriggerRule.ALL_SUCCEEDED:
        return ErrorInfo("UpstreamSkipped", "an upstream task was skipped")
    return None


def condition_false(condition: str) -> ErrorInfo:
    return ErrorInfo("ConditionFalse", f"condition false: {condition}")
