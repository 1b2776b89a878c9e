"""Reads of stored executions that need nothing but the store (and the event hub to follow
new events): one value alone, a page of a list, the events of a watch. The engine checks that
the caller's namespace owns the execution before any of these."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from controlplane.engine import paging
from controlplane.engine.executions.event_hub import EventHub
from controlplane.store import SqliteStore
from controlplane.store.execution_pages import ExecutionPageKey
from models.errors import FailedPrecondition, FieldViolation, NotFound, invalid
from models.executions import Event, ExecutionRecord, ExecutionStatus, ValuePart
from models.values import shorten

WATCH_POLL_S = 5.0


def no_such_execution(execution_id: str) -> NotFound:
    return NotFound(
        f"execution {execution_id!r} not found",
        [FieldViolation("execution_id", "no such execution")],
    )


def value_text(store: SqliteStore, execution_id: str, part: ValuePart, task_id: str) -> str:
    """One value of an execution as its stored JSON text: its inputs, its outputs or a task's
    output (read alone: neither the execution's tasks nor other values)."""
    column = {ValuePart.INPUTS: "inputs", ValuePart.OUTPUTS: "outputs"}.get(part, "output")
    what = f"execution {execution_id}"
    if part is ValuePart.TASK_OUTPUT:
        if not task_id:
            raise invalid("task_id", "is required to read a task's output")
        what = f"task {task_id} of execution {execution_id}"
        if store.execution_progress(execution_id) is None:
            raise no_such_execution(execution_id)
    found = store.value_text(execution_id, column, task_id)
    if found is None and part is ValuePart.TASK_OUTPUT:
        raise NotFound(
            f"execution {execution_id} has no task {shorten(task_id, 100)!r}",
            [FieldViolation("task_id", "no such task in the execution")],
        )
    if found is None:
        raise no_such_execution(execution_id)
    status, text = found
    if text is None:
        raise FailedPrecondition(
            f"{what} has no {column} ({status})",
            [FieldViolation("task_id" if task_id else "part", f"no {column} yet")],
        )
    return text


def execution_page(
    store: SqliteStore,
    namespace: str,
    workflow: str,
    statuses: Sequence[ExecutionStatus],
    page_size: int,
    page_token: str,
    inline_limit: int | None = None,
) -> tuple[list[ExecutionRecord], str]:
    """A page of the executions of `namespace` (`*`: of every one), newest first."""
    size = paging.page_size(page_size)
    query = {
        "namespace": namespace,
        "workflow": workflow,
        "statuses": sorted(s.value for s in statuses),
    }
    position = paging.decode(page_token, query)
    after = None
    if position is not None:
        try:
            after = ExecutionPageKey(float(position[0]), str(position[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise invalid("page_token", "is not a token this server issued") from exc
    records = store.list_executions(namespace, workflow, statuses, after, size + 1, inline_limit)
    more = len(records) > size
    records = records[:size]
    token = ""
    if more:
        last = records[-1]
        token = paging.encode([last.create_time, last.execution_id], query)
    return records, token


async def events(
    store: SqliteStore, hub: EventHub, execution_id: str, from_sequence: int
) -> AsyncIterator[Event]:
    """Stored events from `from_sequence`, then live ones; ends after the terminal event
    (unless a retry followed it)."""
    next_sequence = max(from_sequence, 1)
    while True:
        found = store.read_events(execution_id, next_sequence)
        for event in found:
            yield event
            if event.type.terminal and not _retried_after(store, event):
                return
        if found:
            next_sequence = found[-1].sequence + 1
            continue
        progress = store.execution_progress(execution_id)
        if progress is not None and progress[0].terminal and progress[1] < next_sequence:
            return  # asked to start after the terminal event
        await hub.wait_beyond(execution_id, next_sequence - 1, WATCH_POLL_S)


def _retried_after(store: SqliteStore, event: Event) -> bool:
    """The execution ran again after this terminal event (a retry followed it)."""
    progress = store.execution_progress(event.execution_id)
    return progress is not None and progress[1] > event.sequence
