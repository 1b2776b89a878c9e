"""Fills a store with copies of real finished executions, through the store's own write API.

The templates are executions the control plane really ran (their rows read back from its data
dir, every table that holds rows of an execution, and the audit row of each StartExecution).
A copy is the same rows under a fresh execution id, with every time shifted so that copies are
created one after the other; the rows are written with `SqliteStore.write` (a WriteBatch of the
same tuples the engine writes) and `execute_all` for the audit rows, a batch per transaction.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.store import SqliteStore, WriteBatch
from controlplane.store.retention import EXECUTION_TABLES

# Columns holding wall-clock times, by table (every other column is copied as it is).
TIME_COLUMNS = {
    "executions": ("create_time", "start_time", "end_time"),
    "attempts": ("start_time", "end_time"),
    "events": ("time",),
    "task_heartbeats": ("time",),
    "signals": ("time",),
}
# Tables a WriteBatch carries as rows; the rest go as plain INSERT statements.
BATCH_FIELDS = {
    "executions": "executions",
    "tasks": "tasks",
    "attempts": "attempts",
    "events": "events",
    "task_heartbeats": "heartbeats",
}
AUDIT_COLUMNS = ("time", "caller", "namespace", "rpc", "resource", "request_summary", "code")


@dataclass(frozen=True)
class TableRows:
    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Template:
    """Every stored row of one finished execution, and the audit row that started it."""

    execution_id: str
    create_time: float
    tables: tuple[TableRows, ...]
    audit: tuple[Any, ...] | None

    @property
    def task_count(self) -> int:
        return sum(len(t.rows) for t in self.tables if t.table == "tasks")


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})"))


def read_templates(database: Path, limit: int) -> list[Template]:
    """The first `limit` finished executions of a data dir's store, with all their rows."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        ids = conn.execute(
            "SELECT execution_id, create_time FROM executions WHERE end_time IS NOT NULL "
            "ORDER BY create_time LIMIT ?",
            (limit,),
        ).fetchall()
        audits = conn.execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_events "
            "WHERE rpc LIKE '%StartExecution' ORDER BY sequence"
        ).fetchall()
        templates = []
        for index, (execution_id, create_time) in enumerate(ids):
            tables = []
            for table in ("executions", *EXECUTION_TABLES):
                rows = conn.execute(
                    f"SELECT * FROM {table} WHERE execution_id=? ORDER BY rowid", (execution_id,)
                ).fetchall()
                tables.append(TableRows(table, _columns(conn, table), tuple(rows)))
            audit = tuple(audits[index]) if index < len(audits) else None
            templates.append(Template(str(execution_id), float(create_time), tuple(tables), audit))
        return templates
    finally:
        conn.close()


def _copied(row: tuple[Any, ...], old_id: str, new_id: str, time_at: Sequence[int], shift: float):
    out = []
    for i, value in enumerate(row):
        if i in time_at and value is not None:
            value = value + shift
        elif isinstance(value, str) and old_id in value:
            value = value.replace(old_id, new_id)
        out.append(value)
    return tuple(out)


def copy_batch(template: Template, new_id: str, create_time: float) -> tuple[WriteBatch, list]:
    """The template's rows as a copy `new_id` created at `create_time`: a WriteBatch, and the
    audit statements to write beside it."""
    shift = create_time - template.create_time
    batch = WriteBatch()
    for table in template.tables:
        times = TIME_COLUMNS.get(table.table, ())
        time_at = [table.columns.index(c) for c in times]
        rows = [_copied(r, template.execution_id, new_id, time_at, shift) for r in table.rows]
        field = BATCH_FIELDS.get(table.table)
        if field is not None:
            getattr(batch, field).extend(rows)
        else:
            marks = ",".join("?" * len(table.columns))
            batch.statements.extend(
                (f"INSERT INTO {table.table} VALUES ({marks})", r) for r in rows
            )
    audit = []
    if template.audit is not None:
        row = (template.audit[0] + shift, *template.audit[1:])
        marks = ",".join("?" * len(AUDIT_COLUMNS))
        audit.append(
            (f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})", row)
        )
    return batch, audit


def _creation_times(start: float, count: int, spacing_s: float) -> Iterator[float]:
    for k in range(count):
        yield start + k * spacing_s


def seed(
    store: SqliteStore,
    templates: Sequence[Template],
    count: int,
    first_create_time: float,
    spacing_s: float,
    per_transaction: int = 500,
) -> int:
    """Writes `count` copies (templates in turn), created `spacing_s` apart from
    `first_create_time`; returns the tasks written."""
    if not templates:
        raise ValueError("no template executions to copy")
    tasks = 0
    batch, audit = WriteBatch(), []
    for k, create_time in enumerate(_creation_times(first_create_time, count, spacing_s)):
        template = templates[k % len(templates)]
        one, one_audit = copy_batch(template, uuid.uuid4().hex, create_time)
        batch.extend(one)
        audit += one_audit
        tasks += template.task_count
        if (k + 1) % per_transaction == 0 or k + 1 == count:
            store.write(batch)
            if audit:
                store.execute_all(audit)
            batch, audit = WriteBatch(), []
    return tasks
