"""Changes to a running execution (ModifyExecution): each operation names its target task;
a batch is validated whole and applied in one change, recorded as one event."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from models.workflows import RetryPolicy


class OperationKind(enum.Enum):
    SKIP_TASK = "skip_task"  # a pending task is SKIPPED with the reason
    ADD_TASK = "add_task"  # a new agent task (agent, input, depends_on, timeout, retry)
    REMOVE_TASK = "remove_task"  # a task that has not started, and nothing depends on it
    UPDATE_TASK = "update_task"  # a pending task's input, timeout or retry policy
    SET_VALUE = "set_value"  # the value at a path of the execution's inputs (`inputs.x.y`)
    FORCE_CONDITION = "force_condition"  # a pending task's `when` forced true or false


@dataclass(frozen=True)
class Operation:
    kind: OperationKind
    task_id: str = ""
    # add_task / update_task (None: unchanged for an update)
    agent: str = ""
    input: Any = None
    has_input: bool = False  # update_task: `input` is given (it may be null)
    depends_on: tuple[str, ...] = ()
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    # set_value
    path: str = ""
    value: Any = None
    # force_condition
    condition: bool = False
