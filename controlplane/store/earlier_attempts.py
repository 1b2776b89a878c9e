"""How many attempts each task made before its execution's last retry: one row per task that a
retry ran again, written with the retry and read back with the task, so that after a restart
too its retry policy counts only the attempts made since."""

from __future__ import annotations

import sqlite3
from typing import Any

from models.executions import ExecutionRecord, TaskRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS task_earlier_attempts (
    execution_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (execution_id, task_id)
);
"""
UPSERT = """
INSERT INTO task_earlier_attempts VALUES (?,?,?)
ON CONFLICT (execution_id, task_id) DO UPDATE SET attempts=excluded.attempts
"""


def earlier_attempts_statement(execution_id: str, task: TaskRecord) -> tuple[str, tuple[Any, ...]]:
    return UPSERT, (execution_id, task.task_id, task.earlier_attempts)


def attach_earlier_attempts(conn: sqlite3.Connection, execution: ExecutionRecord) -> None:
    """Sets the earlier attempts of every task of `execution` that a retry ran again."""
    rows = conn.execute(
        "SELECT task_id, attempts FROM task_earlier_attempts WHERE execution_id=?",
        (execution.execution_id,),
    )
    for task_id, attempts in rows:
        task = execution.tasks.get(task_id)
        if task is not None:
            task.earlier_attempts = int(attempts)
