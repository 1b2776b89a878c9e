"""Brings an execution's in-memory record back to what the store holds, after changes that were
made in memory could not be recorded."""

from __future__ import annotations

import dataclasses

from models.executions import AttemptRecord, ExecutionRecord

_EXECUTION_FIELDS = ("status", "outputs", "error", "start_time", "end_time", "last_sequence")
_ATTEMPT_FIELDS = tuple(f.name for f in dataclasses.fields(AttemptRecord))


def adopt(record: ExecutionRecord, stored: ExecutionRecord) -> None:
    """Makes `record` say what `stored` says, in place: the coroutines running its tasks hold
    its task and attempt objects, and must see the same state the store does."""
    for name in _EXECUTION_FIELDS:
        setattr(record, name, getattr(stored, name))
    for task_id, task in record.tasks.items():
        kept = stored.tasks[task_id]
        task.status, task.output, task.error = kept.status, kept.output, kept.error
        task.last_heartbeat = kept.last_heartbeat
        task.last_heartbeat_time = kept.last_heartbeat_time
        by_number = {attempt.number: attempt for attempt in task.attempts}
        attempts = []
        for stored_attempt in kept.attempts:
            attempt = by_number.get(stored_attempt.number, stored_attempt)
            for name in _ATTEMPT_FIELDS:
                setattr(attempt, name, getattr(stored_attempt, name))
            attempts.append(attempt)
        task.attempts[:] = attempts
