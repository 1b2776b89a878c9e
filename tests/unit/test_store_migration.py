"""A data dir written before executions had a namespace opens, gains the column, and its rows
read back in the default namespace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controlplane.store import SqliteStore
from controlplane.store.sqlite_store import SCHEMA_VERSION

OLD_EXECUTIONS = """
CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, revision INTEGER NOT NULL,
    status TEXT NOT NULL, inputs TEXT NOT NULL, outputs TEXT, error TEXT, request_id TEXT UNIQUE,
    create_time REAL NOT NULL, start_time REAL, end_time REAL, last_sequence INTEGER NOT NULL
);
INSERT INTO executions
    VALUES ('e1', 'wf', 1, 'SUCCEEDED', '{}', '{}', NULL, NULL, 1.0, 1.0, 2.0, 3);
PRAGMA user_version=2;
"""


def test_old_executions_table_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_EXECUTIONS)
    store = SqliteStore(path)
    try:
        record = store.load_execution("e1")
        assert record is not None and record.namespace == "default"
        assert record.last_sequence == 3
        version = store.query("PRAGMA user_version")[0][0]
        assert version == SCHEMA_VERSION
        tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "load_samples" in tables  # added by version 4
        assert "pool_repairs" in tables  # added by version 6
        assert "task_heartbeats" in tables  # added by version 7
        assert "agent_events" in tables  # added by version 9
        assert "task_earlier_attempts" in tables  # added by version 11
    finally:
        store.close()
