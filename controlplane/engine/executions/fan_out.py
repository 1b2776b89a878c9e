"""`for_each` tasks: when one can run, the list its `for_each` names is resolved and one item
task per element (`review[0]`, `review[1]`, ...) is stored, PENDING; at most `max_concurrency`
of them are scheduled at a time, in index order. Each item is an agent task of its own: its
attempts and retries are recorded like any task's, and it survives a restart as stored. The
for_each task succeeds with the items' outputs in index order (null for a failed item) once
they all ended, or fails (cancelling the rest) once more items failed than it allows.

The accounting is incremental (counters per for_each task, rebuilt from the record when an
execution is resumed), so an item's end costs the same with ten or ten thousand items."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from models.executions import ErrorInfo, TaskRecord, TaskStatus
from models.workflows import ForEachSpec, TaskDefinition

ITEM_RE = re.compile(r"^(?P<parent>.+)\[(?P<index>\d+)\]$")
FAILED = frozenset({TaskStatus.FAILED, TaskStatus.TIMED_OUT})


def item_id(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def parse_item_id(task_id: str) -> tuple[str, int] | None:
    match = ITEM_RE.match(task_id)
    return None if match is None else (match["parent"], int(match["index"]))


def item_spec(parent: TaskDefinition, index: int) -> TaskDefinition:
    """An item's task: its parent's agent, input, retries and limits, without the fan-out
    (its input is resolved with `item` and `index` in scope)."""
    return TaskDefinition(
        id=item_id(parent.id, index),
        agent=parent.agent,
        input=parent.input,
        timeout_s=parent.timeout_s,
        retry=parent.retry,
        resources=parent.resources,
        placement=parent.placement,
        priority=parent.priority,
        heartbeat_timeout_s=parent.heartbeat_timeout_s,
    )


def allowed_failures(spec: ForEachSpec, total: int) -> int:
    if spec.allow_failures_percent is not None:
        return math.floor(total * spec.allow_failures_percent / 100)
    return spec.allow_failures


@dataclass
class FanOutState:
    """Where one for_each task's items stand."""

    total: int
    next_index: int = 0  # the first item not yet scheduled
    running: int = 0  # scheduled and not ended
    succeeded: int = 0
    failed: int = 0
    ended_early: bool = False  # failed beyond its allowance: nothing more is scheduled
    items: list[Any] = field(default_factory=list)  # the resolved list (for item inputs)

    @property
    def ended(self) -> int:
        return self.succeeded + self.failed

    def account(self, status: TaskStatus, was_scheduled: bool = True) -> None:
        """An item ended with `status` (cancelled or skipped: ended without output)."""
        if was_scheduled:
            self.running -= 1
        if status is TaskStatus.SUCCEEDED:
            self.succeeded += 1
        else:
            self.failed += 1


def rebuilt(parent: TaskRecord, tasks: dict[str, TaskRecord], items: list[Any]) -> FanOutState:
    """The counters of a for_each task from its items' records (after a restart, or a retry
    that set its failed items back to PENDING). Scheduling starts over from the first item
    and passes over those that are not PENDING."""
    state = FanOutState(total=len(items), items=items)
    for index in range(len(items)):
        item = tasks.get(item_id(parent.task_id, index))
        if item is None or item.status is TaskStatus.PENDING:
            continue
        state.running += 1
        if item.status.terminal:
            state.account(item.status)
    return state


def too_many_failures(spec: ForEachSpec, state: FanOutState) -> ErrorInfo | None:
    allowed = allowed_failures(spec, state.total)
    if state.failed <= allowed:
        return None
    return ErrorInfo(
        "ItemsFailed",
        f"{state.failed} of {state.total} items failed (allowed: {allowed})",
    )


def collected(parent_id: str, tasks: dict[str, TaskRecord], total: int) -> list[Any]:
    """The items' outputs in index order (None for an item that did not succeed)."""
    out: list[Any] = []
    for index in range(total):
        item = tasks[item_id(parent_id, index)]
        out.append(item.output if item.status is TaskStatus.SUCCEEDED else None)
    return out
