"""Where the next attempt of a task should (not) go."""

from __future__ import annotations

from models.executions import AttemptStatus, TaskRecord

RETRY_ELSEWHERE = frozenset({AttemptStatus.FAILED, AttemptStatus.TIMED_OUT})


def failed_on(task: TaskRecord) -> str:
    """The agent version the task's last attempt failed on ("" if none did): during a canary,
    its retry goes to the stable version."""
    if task.attempts and task.attempts[-1].status in RETRY_ELSEWHERE:
        return task.attempts[-1].agent_version
    return ""
