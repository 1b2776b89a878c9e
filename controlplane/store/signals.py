"""Signals sent to executions: stored when they arrive (idempotent on the sender's request id),
consumed by the first task that waits for their name, in arrival order, in the same
transaction as that task's success."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controlplane.store.codec import dump
from controlplane.store.sqlite_store import SqliteStore

INSERT = "INSERT INTO signals VALUES (?,?,?,?,?,?,NULL)"
CONSUME = "UPDATE signals SET consumed_by=? WHERE execution_id=? AND sequence=?"


@dataclass(frozen=True)
class StoredSignal:
    execution_id: str
    sequence: int
    name: str
    payload: Any
    request_id: str
    time: float
    consumed_by: str | None = None


def insert_statement(signal: StoredSignal) -> tuple[str, tuple[Any, ...]]:
    return (
        INSERT,
        (
            signal.execution_id,
            signal.sequence,
            signal.name,
            dump(signal.payload),
            signal.request_id,
            signal.time,
        ),
    )


def consume_statement(signal: StoredSignal, task_id: str) -> tuple[str, tuple[Any, ...]]:
    return CONSUME, (task_id, signal.execution_id, signal.sequence)


def _signal(row: tuple[Any, ...]) -> StoredSignal:
    return StoredSignal(
        str(row[0]),
        int(row[1]),
        str(row[2]),
        json.loads(row[3]),
        str(row[4]),
        float(row[5]),
        row[6],
    )


class SignalStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def next_unconsumed(self, execution_id: str, name: str) -> StoredSignal | None:
        rows = self._store.query(
            "SELECT * FROM signals WHERE execution_id=? AND name=? AND consumed_by IS NULL "
            "ORDER BY sequence LIMIT 1",
            (execution_id, name),
        )
        return _signal(rows[0]) if rows else None

    def by_request(self, execution_id: str, request_id: str) -> StoredSignal | None:
        rows = self._store.query(
            "SELECT * FROM signals WHERE execution_id=? AND request_id=?",
            (execution_id, request_id),
        )
        return _signal(rows[0]) if rows else None

    def last_sequence(self, execution_id: str) -> int:
        rows = self._store.query(
            "SELECT MAX(sequence) FROM signals WHERE execution_id=?", (execution_id,)
        )
        return int(rows[0][0] or 0)

    def of(self, execution_id: str) -> list[StoredSignal]:
        rows = self._store.query(
            "SELECT * FROM signals WHERE execution_id=? ORDER BY sequence", (execution_id,)
        )
        return [_signal(row) for row in rows]
