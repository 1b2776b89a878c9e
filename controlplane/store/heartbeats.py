"""The last heartbeat of each task: one row per task that has heartbeated, written by the
changes that record heartbeats (coalesced by the engine, never one write per heartbeat) and
read back with the task, so a retry after a restart still gets the details."""

from __future__ import annotations

import sqlite3

from controlplane.store.codec import dump, load
from models.executions import ExecutionRecord, TaskRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS task_heartbeats (
    execution_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    time REAL NOT NULL,
    details TEXT,
    PRIMARY KEY (execution_id, task_id)
);
"""
UPSERT_HEARTBEAT = """
INSERT INTO task_heartbeats VALUES (?,?,?,?)
ON CONFLICT (execution_id, task_id) DO UPDATE SET time=excluded.time, details=excluded.details
"""


def heartbeat_row(execution_id: str, task: TaskRecord) -> tuple[str, str, float, str | None]:
    details = None if task.last_heartbeat is None else dump(task.last_heartbeat)
    return (execution_id, task.task_id, task.last_heartbeat_time or 0.0, details)


def attach_heartbeats(conn: sqlite3.Connection, execution: ExecutionRecord) -> None:
    """Sets the last heartbeat of every task of `execution` that has one."""
    rows = conn.execute(
        "SELECT task_id, time, details FROM task_heartbeats WHERE execution_id=?",
        (execution.execution_id,),
    )
    for task_id, time, details in rows:
        task = execution.tasks.get(task_id)
        if task is not None:
            task.last_heartbeat_time = float(time)
            task.last_heartbeat = load(details)
