"""Lifecycle transition tables: what may follow what, and typed errors for the rest."""

from __future__ import annotations

import pytest

from models.executions import EXECUTION_LIFECYCLE, TASK_LIFECYCLE, ExecutionStatus, TaskStatus
from models.lifecycle import InvalidTransition
from models.workflows import RetryPolicy


def test_every_status_has_a_row_and_terminal_rows_are_empty() -> None:
    assert set(TASK_LIFECYCLE.transitions) == set(TaskStatus)
    assert set(EXECUTION_LIFECYCLE.transitions) == set(ExecutionStatus)
    for status, targets in TASK_LIFECYCLE.transitions.items():
        assert (not targets) == status.terminal
    for status, targets in EXECUTION_LIFECYCLE.transitions.items():
        assert (not targets) == status.terminal


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (TaskStatus.PENDING, TaskStatus.SCHEDULED),
        (TaskStatus.SCHEDULED, TaskStatus.RUNNING),
        (TaskStatus.RUNNING, TaskStatus.RETRYING),
        (TaskStatus.RETRYING, TaskStatus.SCHEDULED),
        (TaskStatus.RUNNING, TaskStatus.SUCCEEDED),
        (TaskStatus.RUNNING, TaskStatus.SCHEDULED),  # lost in a restart
        (TaskStatus.PENDING, TaskStatus.SKIPPED),
    ],
)
def test_allowed_task_transitions(current: TaskStatus, target: TaskStatus) -> None:
    TASK_LIFECYCLE.check(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (TaskStatus.PENDING, TaskStatus.RUNNING),
        (TaskStatus.SUCCEEDED, TaskStatus.SCHEDULED),
        (TaskStatus.FAILED, TaskStatus.RETRYING),
        (TaskStatus.SKIPPED, TaskStatus.CANCELLED),
        (TaskStatus.RETRYING, TaskStatus.SUCCEEDED),
    ],
)
def test_forbidden_task_transitions_raise(current: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(InvalidTransition) as err:
        TASK_LIFECYCLE.check(current, target)
    assert err.value.current is current and err.value.target is target
    assert current.value in str(err.value) and target.value in str(err.value)


def test_execution_cannot_leave_a_terminal_status() -> None:
    EXECUTION_LIFECYCLE.check(ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
    EXECUTION_LIFECYCLE.check(ExecutionStatus.RUNNING, ExecutionStatus.TIMED_OUT)
    with pytest.raises(InvalidTransition):
        EXECUTION_LIFECYCLE.check(ExecutionStatus.SUCCEEDED, ExecutionStatus.RUNNING)
    with pytest.raises(InvalidTransition):
        EXECUTION_LIFECYCLE.check(ExecutionStatus.PENDING, ExecutionStatus.SUCCEEDED)


def test_retry_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(
        max_attempts=6, initial_interval_s=1, backoff_coefficient=2, max_interval_s=5
    )
    assert [policy.delay_before(n) for n in range(1, 7)] == [0, 1, 2, 4, 5, 5]
