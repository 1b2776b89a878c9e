"""Deleting finished executions in small transactions (the retention sweep's store side).

An execution goes in two steps. First its `executions` row goes, and its id is noted in
`retention_pending`, in one transaction: from then on it is NOT_FOUND everywhere. Then the rows
that belong to it (EXECUTION_TABLES) go a few hundred at a time, and last its pending note. A
sweep cut short (a crash, an outage) leaves notes the next sweep finishes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from models.executions import ExecutionStatus
from models.retention import StoredExecution

RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_pending (execution_id TEXT PRIMARY KEY);
CREATE INDEX IF NOT EXISTS executions_by_namespace_end ON executions (namespace, end_time);
"""

# Every table whose rows belong to one execution (keyed by its execution_id).
EXECUTION_TABLES = (
    "tasks",
    "attempts",
    "events",
    "signals",
    "task_heartbeats",
    "task_earlier_attempts",
)
TERMINAL = tuple(s.value for s in ExecutionStatus if s.terminal)
_COLUMNS = "execution_id, namespace, status, end_time, parent_execution_id"


class Rows(Protocol):
    """What this module needs of `SqliteStore` (which adds RETENTION_SCHEMA to its tables, so
    it cannot be imported from here)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None: ...


def _stored(row: tuple[Any, ...]) -> StoredExecution:
    execution_id, namespace, status, end_time, parent = row
    return StoredExecution(
        execution_id=str(execution_id),
        namespace=str(namespace),
        status=ExecutionStatus(status),
        end_time=None if end_time is None else float(end_time),
        parent_execution_id=str(parent),
    )


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class RetentionStore:
    def __init__(self, store: Rows) -> None:
        self._store = store

    # -- reading ------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        rows = self._store.query("SELECT DISTINCT namespace FROM executions ORDER BY namespace")
        return [str(row[0]) for row in rows]

    def ended_before(
        self, namespace: str, before: float, after: tuple[float, str] | None, limit: int
    ) -> list[StoredExecution]:
        """Finished executions of `namespace` that ended before `before`, oldest end first,
        after the (end time, id) `after`."""
        position = (
            "" if after is None else "AND (end_time > ? OR (end_time = ? AND execution_id > ?))"
        )
        params: list[object] = [namespace, before, *TERMINAL]
        if after is not None:
            params += [after[0], after[0], after[1]]
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM executions WHERE namespace = ? AND end_time < ? "
            f"AND status IN ({_marks(TERMINAL)}) {position} "
            "ORDER BY end_time, execution_id LIMIT ?",
            (*params, limit),
        )
        return [_stored(row) for row in rows]

    def get(self, execution_id: str) -> StoredExecution | None:
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM executions WHERE execution_id = ?", (execution_id,)
        )
        return _stored(rows[0]) if rows else None

    def children(self, execution_ids: Sequence[str]) -> list[StoredExecution]:
        if not execution_ids:
            return []
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM executions "
            f"WHERE parent_execution_id IN ({_marks(execution_ids)})",
            tuple(execution_ids),
        )
        return [_stored(row) for row in rows]

    def pending(self) -> list[str]:
        """Executions whose row is gone and whose other rows may not be yet."""
        rows = self._store.query("SELECT execution_id FROM retention_pending ORDER BY rowid")
        return [str(row[0]) for row in rows]

    def row_count(self, table: str, execution_id: str) -> int:
        assert table in EXECUTION_TABLES, table
        rows = self._store.query(
            f"SELECT COUNT(*) FROM {table} WHERE execution_id = ?", (execution_id,)
        )
        return int(rows[0][0])

    # -- deleting (one transaction each) ------------------------------------------------------

    def remove_executions(self, execution_ids: Sequence[str]) -> None:
        """Deletes the rows of those of these executions that are finished (one still running
        stays) and notes them as pending, together."""
        ids = tuple(execution_ids)
        finished = f"execution_id IN ({_marks(ids)}) AND status IN ({_marks(TERMINAL)})"
        self._store.execute_all(
            [
                (
                    f"INSERT OR IGNORE INTO retention_pending "
                    f"SELECT execution_id FROM executions WHERE {finished}",
                    (*ids, *TERMINAL),
                ),
                (f"DELETE FROM executions WHERE {finished}", (*ids, *TERMINAL)),
            ]
        )

    def delete_rows(self, table: str, execution_id: str, limit: int) -> None:
        """Deletes up to `limit` rows of `table` that belong to the execution."""
        assert table in EXECUTION_TABLES, table
        self._store.execute_all(
            [
                (
                    f"DELETE FROM {table} WHERE rowid IN "
                    f"(SELECT rowid FROM {table} WHERE execution_id = ? LIMIT ?)",
                    (execution_id, limit),
                )
            ]
        )

    def finish(self, execution_id: str) -> None:
        self._store.execute_all(
            [("DELETE FROM retention_pending WHERE execution_id = ?", (execution_id,))]
        )
