"""What a task's row says of the tasks it runs as: a for_each task's item counts, a loop's
iterations, a workflow task's child execution; and which rows (failed items, iterations) sit
under another task's row. GetExecution lists a for_each task's failed items (`id[N]`, at most
20) and a loop's iterations (`id#N`) right after their task."""

from __future__ import annotations

import re
from collections.abc import Iterable

from models.executions import TaskRecord

_UNDER = re.compile(r"^(?P<parent>.+)(\[\d+\]|#\d+)$")
INDENT = "  "


def items_summary(task: TaskRecord) -> str:
    """e.g. "12/40 items (1 failed, 3 running)": items that ended of all, then how many of them
    failed, run now, and (once the task ended) never ran."""
    total = task.items_total
    if total is None:
        return ""
    ended = task.items_succeeded + task.items_failed
    parts = [f"{task.items_failed} failed"] if task.items_failed else []
    if task.items_running:
        parts.append(f"{task.items_running} running")
    never_ran = total - ended - task.items_running
    if task.status.terminal and never_ran > 0:
        parts.append(f"{never_ran} cancelled")
    return f"{ended}/{total} items" + (f" ({', '.join(parts)})" if parts else "")


def summary(task: TaskRecord) -> str:
    """What runs under the task, "" for a plain one."""
    shown = [items_summary(task)]
    if task.iterations:
        shown.append(f"{task.iterations} iteration" + ("s" if task.iterations != 1 else ""))
    if task.child_execution_id:
        shown.append(f"child {task.child_execution_id}")
    return "  ".join(s for s in shown if s)


def parent_row(task_id: str, rows: Iterable[str]) -> str:
    """The row a failed item's or an iteration's row sits under ("" for a task of its own)."""
    match = _UNDER.match(task_id)
    if match is None or match["parent"] not in rows:
        return ""
    return match["parent"]


def unlisted_failures(tasks: dict[str, TaskRecord]) -> list[str]:
    """One line per for_each task with more failed items than the rows under it show."""
    listed: dict[str, int] = {}
    for task_id in tasks:
        parent = parent_row(task_id, tasks)
        if parent:
            listed[parent] = listed.get(parent, 0) + 1
    return [
        f"{task.task_id}: {listed.get(task.task_id, 0)} of its {task.items_failed} failed items "
        "listed (the first by index)"
        for task in tasks.values()
        if task.items_failed > listed.get(task.task_id, 0)
    ]
