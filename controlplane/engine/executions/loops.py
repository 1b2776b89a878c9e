"""`loop` tasks: the task runs as iterations (`fix#1`, `fix#2`, ...), each a task of its own
with its own attempts and retries, stored like any task. When an iteration succeeds, `until`
is evaluated over its output (`output`, `iteration`, `previous`, `inputs`, `tasks`); true ends
the loop task with that output, false starts the next iteration with `${loop.iteration}` and
`${loop.previous}` in scope, until `max_iterations` (then LoopLimitExceeded). A failed
iteration fails the loop task. The next iteration is stored in the same change as the end of
the one before, so a restart finds the loop exactly where it was."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from models.executions import TaskRecord
from models.workflows import TaskDefinition

ITERATION_RE = re.compile(r"^(?P<parent>.+)#(?P<n>\d+)$")


def iteration_id(parent: str, n: int) -> str:
    return f"{parent}#{n}"


def parse_iteration_id(task_id: str) -> tuple[str, int] | None:
    match = ITERATION_RE.match(task_id)
    return None if match is None else (match["parent"], int(match["n"]))


def iteration_spec(parent: TaskDefinition, n: int) -> TaskDefinition:
    """One iteration: the loop task without its loop, condition and dependencies."""
    return replace(
        parent,
        id=iteration_id(parent.id, n),
        loop=None,
        when="",
        depends_on=(),
        compensate=None,
    )


def last_iteration(parent: str, tasks: dict[str, TaskRecord]) -> int:
    """The number of the latest iteration stored (0 before the first)."""
    n = 0
    while iteration_id(parent, n + 1) in tasks:
        n += 1
    return n


def loop_scope(parent: str, n: int, tasks: dict[str, TaskRecord]) -> dict[str, Any]:
    previous = tasks.get(iteration_id(parent, n - 1))
    return {"iteration": n, "previous": None if previous is None else previous.output}


def until_activation(
    inputs: dict[str, Any], tasks: dict[str, Any], output: Any, n: int, previous: Any
) -> dict[str, Any]:
    return {
        "inputs": inputs,
        "tasks": tasks,
        "output": output,
        "iteration": n,
        "previous": previous,
    }
