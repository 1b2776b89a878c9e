"""The audit log in the SQLite store: one row per mutating call, appended through the group
commit writer (`insert_statement` in a WriteBatch) and read newest first.

AUTOINCREMENT: a sequence is never handed out twice, even after the newest rows are deleted.
Newest first means by time (when the call was received), then by sequence; the indexes serve
that order with and without a namespace, and the retention's deletes by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from models.audit import AuditFilter
from models.security import AuditEvent

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    caller TEXT NOT NULL,
    namespace TEXT NOT NULL,
    rpc TEXT NOT NULL,
    resource TEXT NOT NULL,
    request_summary TEXT NOT NULL,
    code TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events (time, sequence);
CREATE INDEX IF NOT EXISTS audit_events_by_namespace ON audit_events (namespace, time, sequence);
"""

_COLUMNS = "sequence, time, caller, namespace, rpc, resource, request_summary, code"
_INSERT = (
    "INSERT INTO audit_events (time, caller, namespace, rpc, resource, request_summary, code) "
    "VALUES (?,?,?,?,?,?,?)"
)


@dataclass(frozen=True)
class AuditPageKey:
    """Position after the last event of a page (newest first)."""

    time: float
    sequence: int


def insert_statement(event: AuditEvent) -> tuple[str, tuple[Any, ...]]:
    """The row of `event` (its sequence is the store's to give)."""
    return _INSERT, (
        event.time,
        event.caller,
        event.namespace,
        event.rpc,
        event.resource,
        event.request_summary,
        event.code,
    )


def _event(row: tuple[Any, ...]) -> AuditEvent:
    sequence, time, caller, namespace, rpc, resource, summary, code = row
    return AuditEvent(
        sequence=int(sequence),
        time=float(time),
        caller=str(caller),
        namespace=str(namespace),
        rpc=str(rpc),
        resource=str(resource),
        request_summary=str(summary),
        code=str(code),
    )


def _where(query: AuditFilter, after: AuditPageKey | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if query.namespace:
        clauses.append("namespace = ?")
        params.append(query.namespace)
    if query.caller:
        clauses.append("caller = ?")
        params.append(query.caller)
    if query.rpc:
        if "/" in query.rpc:
            clauses.append("rpc = ?")
            params.append(query.rpc)
        else:  # the method alone, of whichever service
            clauses.append("substr(rpc, instr(rpc, '/') + 1) = ?")
            params.append(query.rpc)
    if query.start_time is not None:
        clauses.append("time >= ?")
        params.append(query.start_time)
    if query.end_time is not None:
        clauses.append("time < ?")
        params.append(query.end_time)
    if after is not None:
        clauses.append("(time < ? OR (time = ? AND sequence < ?))")
        params.extend([after.time, after.time, after.sequence])
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


class Rows(Protocol):
    """What this module needs of `SqliteStore` (which adds AUDIT_SCHEMA to its tables, so it
    cannot be imported from here)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None: ...


class AuditEventStore:
    def __init__(self, store: Rows) -> None:
        self._store = store

    def newest(
        self, query: AuditFilter, after: AuditPageKey | None, limit: int
    ) -> list[AuditEvent]:
        """The events `query` matches after `after` (None: from the newest), newest first."""
        where, params = _where(query, after)
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM audit_events {where} "
            "ORDER BY time DESC, sequence DESC LIMIT ?",
            (*params, limit),
        )
        return [_event(row) for row in rows]

    def namespaces(self) -> list[str]:
        """Every namespace with events ("" for the cluster-wide ones)."""
        rows = self._store.query("SELECT DISTINCT namespace FROM audit_events ORDER BY namespace")
        return [str(row[0]) for row in rows]

    def older_than(self, namespace: str, before: float, limit: int) -> list[int]:
        """Sequences of up to `limit` events of `namespace` received before `before`."""
        rows = self._store.query(
            "SELECT sequence FROM audit_events WHERE namespace = ? AND time < ? LIMIT ?",
            (namespace, before, limit),
        )
        return [int(row[0]) for row in rows]

    def delete(self, sequences: Sequence[int]) -> None:
        """Deletes these events, in one transaction."""
        if sequences:
            marks = ",".join("?" * len(sequences))
            self._store.execute_all(
                [(f"DELETE FROM audit_events WHERE sequence IN ({marks})", tuple(sequences))]
            )
