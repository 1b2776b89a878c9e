"""A data dir written before executions had a namespace opens, gains the column, and its rows
read back in the default namespace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from controlplane.store import SqliteStore
from controlplane.store.schedules import ScheduleStore
from controlplane.store.schema import SCHEMA
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


# A data dir of the last version before namespaces keyed rows: one shared catalog, an execution
# of team-a (started there for its quota) and a schedule whose executions ran in team-a, request
# ids unique across namespaces.
BEFORE_NAMESPACED_KEYS = """
INSERT INTO workflow_revisions VALUES ('build', 1, 'name: build', 'd1', 1.0);
INSERT INTO workflow_revisions VALUES ('build', 2, 'name: build # 2', 'd2', 2.0);
INSERT INTO workflow_revisions VALUES ('child', 1, 'name: child', 'd3', 1.0);
INSERT INTO executions (execution_id, workflow, revision, status, inputs, request_id,
    create_time, last_sequence, namespace)
    VALUES ('e1', 'build', 2, 'RUNNING', '{}', 'r1', 3.0, 1, 'team-a'),
           ('e2', 'build', 1, 'SUCCEEDED', '{}', 'x/y', 4.0, 1, 'default'),
           ('e3', 'build', 1, 'SUCCEEDED', '{}', 'r3', 5.0, 1, 'default');
INSERT INTO schedules VALUES ('nightly', 's1',
    '{"name": "nightly", "workflow": "build", "cron": "@daily", "revision": 0, "inputs": {},
      "time_zone": "UTC", "overlap_policy": "SKIP", "catch_up_window_s": 3600.0,
      "namespace": "team-a", "paused": false}',
    '{"next_fire_time": null, "last_fire_time": null, "last_execution_ids": [],
      "buffered_fire_time": null, "skipped_count": 0, "missed_count": 0, "failed_count": 0,
      "last_error": ""}', 1.0, 1.0);
PRAGMA user_version=12;
"""


def test_rows_from_before_namespaces_read_as_theirs(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA + BEFORE_NAMESPACED_KEYS)
    for _ in range(2):  # opened twice: the second open changes nothing more
        store = SqliteStore(path)
        try:
            # The shared catalog is default's; team-a, which ran it, has a copy of it whole.
            for namespace in ("default", "team-a"):
                latest = store.get_workflow_revision(namespace, "build")
                assert latest is not None and latest.namespace == namespace
                assert (latest.revision, latest.definition_text) == (2, "name: build # 2")
                assert store.workflow_names(namespace) == {"build", "child"}
            assert store.workflow_names("team-b") == set()
            # The execution stays in team-a, its request id found there only.
            running = store.load_execution("e1")
            assert running is not None
            assert (running.namespace, running.workflow, running.request_id) == (
                "team-a",
                "build",
                "r1",
            )
            assert store.find_execution_id("team-a", "r1") == "e1"
            assert store.find_execution_id("default", "r1") is None
            # Default's request ids keep working, one with a '/' too.
            assert store.find_execution_id("default", "r3") == "e3"
            assert store.find_execution_id("default", "x/y") == "e2"
            assert store.find_execution_id("x", "y") is None
            old = store.load_execution("e2")
            assert old is not None and (old.namespace, old.request_id) == ("default", "x/y")
            listed = store.list_executions("team-a", "build", [], None, 10)
            assert [e.execution_id for e in listed] == ["e1"]
            # The schedule is team-a's now.
            (schedule,) = ScheduleStore(store).load_all()
            assert (schedule.name, schedule.spec.namespace) == ("nightly", "team-a")
            assert store.query("SELECT name FROM schedules") == [("team-a/nightly",)]
            assert store.query("SELECT count(*) FROM workflow_revisions") == [(6,)]
        finally:
            store.close()
