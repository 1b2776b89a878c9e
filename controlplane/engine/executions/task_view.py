"""An execution as clients read it. The record holds every task the engine runs, including one
item task per element of a for_each (ten thousand of them are too many to send or to read);
the view keeps each for_each task with its items' counts and only its first failed items (so
their errors can be read), keeps loop iterations (at most max_iterations) right after their
loop task with their number on it, and names the child execution of each workflow task.

Built once per read in one pass over the tasks; the record itself is left as it was."""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.engine.executions.children import child_request_id
from controlplane.engine.executions.fan_out import FAILED, parse_item_id
from controlplane.engine.executions.loops import parse_iteration_id
from models.executions import ExecutionRecord, TaskRecord, TaskStatus

# Failed items shown per for_each task (the counts say how many there are in all).
SHOWN_FAILED_ITEMS = 20
_UNDERWAY = frozenset({TaskStatus.SCHEDULED, TaskStatus.RUNNING, TaskStatus.RETRYING})

ChildOf = Callable[[str], str | None]


@dataclass
class _Items:
    """One for_each task's items, counted as they are met."""

    total: int = 0
    succeeded: int = 0
    running: int = 0
    failed: list[tuple[int, TaskRecord]] = field(default_factory=list)
    waiting_reason: str = ""  # the first waiting item's (shown on the task: why it stalls)

    def count(self, index: int, item: TaskRecord) -> None:
        self.total += 1
        if item.status is TaskStatus.SUCCEEDED:
            self.succeeded += 1
        elif item.status in FAILED:
            self.failed.append((index, item))
        elif item.status in _UNDERWAY:
            self.running += 1
            self.waiting_reason = self.waiting_reason or item.waiting_reason


def task_view(record: ExecutionRecord, child_of: ChildOf) -> ExecutionRecord:
    """`record` as clients see it; `child_of` finds an execution by its request id."""
    tasks = record.tasks
    shown: list[TaskRecord] = []
    items: dict[str, _Items] = {}
    iterations: dict[str, list[tuple[int, TaskRecord]]] = {}
    for task in tasks.values():
        item = parse_item_id(task.task_id)
        if item is not None and item[0] in tasks:
            items.setdefault(item[0], _Items()).count(item[1], task)
            continue
        iteration = parse_iteration_id(task.task_id)
        if iteration is not None and iteration[0] in tasks:
            iterations.setdefault(iteration[0], []).append((iteration[1], task))
            continue
        shown.append(task)

    def with_child(task: TaskRecord) -> TaskRecord:
        child = _child(record.execution_id, task, child_of)
        return dataclasses.replace(task, child_execution_id=child) if child else task

    view: dict[str, TaskRecord] = {}
    for task in shown:
        counted = items.get(task.task_id)
        runs = sorted(iterations.get(task.task_id, ()), key=lambda run: run[0])
        task = with_child(task)
        if counted is not None:
            task = _with_counts(task, counted)
        if runs:
            task = dataclasses.replace(task, iterations=len(runs))
        view[task.task_id] = task
        for _, run in runs:
            view[run.task_id] = with_child(run)
        if counted is not None:
            first = heapq.nsmallest(SHOWN_FAILED_ITEMS, counted.failed, key=lambda f: f[0])
            for _, failed in first:
                view[failed.task_id] = with_child(failed)
    return dataclasses.replace(record, tasks=view)


def _with_counts(task: TaskRecord, counted: _Items) -> TaskRecord:
    waiting = task.waiting_reason
    if not waiting and counted.waiting_reason and not task.status.terminal:
        waiting = counted.waiting_reason
    return dataclasses.replace(
        task,
        items_total=counted.total,
        items_succeeded=counted.succeeded,
        items_failed=len(counted.failed),
        items_running=counted.running,
        waiting_reason=waiting,
    )


def _child(execution_id: str, task: TaskRecord, child_of: ChildOf) -> str:
    """The child execution of the task's latest attempt ("" for none). Only tasks without an
    agent (workflow, signal and sleep tasks) are looked up: the others never have a child."""
    if task.agent or not task.attempts:
        return ""
    request_id = child_request_id(execution_id, task.task_id, task.attempts[-1].number)
    return child_of(request_id) or ""
