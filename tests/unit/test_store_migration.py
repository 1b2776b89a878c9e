"""Schema versions: stores of older versions open and gain what they lack through ordered
migrations (each its own transaction), their rows kept; a store newer than the code is refused
before anything touches it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from controlplane.cli.main import main
from controlplane.store import SqliteStore
from controlplane.store.migrations import (
    MIGRATIONS,
    AddColumn,
    Migration,
    SchemaTooNew,
    migrate,
    schema_version,
)
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


# Version 8's executions table: a namespace, no pause or parent yet.
VERSION_8 = """
CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, revision INTEGER NOT NULL,
    status TEXT NOT NULL, inputs TEXT NOT NULL, outputs TEXT, error TEXT, request_id TEXT UNIQUE,
    create_time REAL NOT NULL, start_time REAL, end_time REAL, last_sequence INTEGER NOT NULL,
    namespace TEXT NOT NULL DEFAULT 'default'
);
INSERT INTO executions
    VALUES ('e1', 'wf', 1, 'RUNNING', '{}', NULL, NULL, NULL, 1.0, 1.0, NULL, 2, 'team-a');
PRAGMA user_version=8;
"""


def _columns(path: Path, table: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_version_8_store_gains_pause_and_parent_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(VERSION_8)
    store = SqliteStore(path)
    try:
        record = store.load_execution("e1")
        assert record is not None and record.namespace == "team-a"
        assert record.paused is False and record.parent_execution_id == ""
        indexes = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "executions_by_parent" in indexes
    finally:
        store.close()
    assert _version(path) == SCHEMA_VERSION
    SqliteStore(path).close()  # opening a current store again changes nothing
    assert _columns(path, "executions")[-3:] == ["namespace", "paused", "parent_execution_id"]


def test_a_current_store_without_the_namespace_listing_index_gains_it(tmp_path: Path) -> None:
    """Stores of this schema version written before the index: opening adds it (the tables
    script creates what is missing), rows and version as they were."""
    path = tmp_path / "orchestrator.db"
    store = SqliteStore(path)
    store.execute("DROP INDEX executions_by_namespace_time")
    store.close()
    store = SqliteStore(path)
    try:
        indexes = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "executions_by_namespace_time" in indexes
    finally:
        store.close()
    assert _version(path) == SCHEMA_VERSION


def test_a_new_file_gets_the_current_schema_without_migrations(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert migrate(conn, SCHEMA, path) == 0
        assert schema_version(conn) == SCHEMA_VERSION
    assert "parent_execution_id" in _columns(path, "executions")


def test_migrations_are_ordered_and_within_the_code_s_version() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions))
    assert all(1 <= v <= SCHEMA_VERSION for v in versions)


def test_each_migration_commits_alone_and_a_failed_one_leaves_the_store_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orchestrator.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executescript(OLD_EXECUTIONS)  # version 2

        def explode(conn: sqlite3.Connection) -> None:
            raise RuntimeError("step failed")

        migrations = (
            Migration(3, "namespace", (AddColumn("executions", "namespace", "TEXT"),)),
            Migration(4, "broken", (AddColumn("executions", "extra", "TEXT"), explode)),
        )
        with pytest.raises(RuntimeError, match="step failed"):
            migrate(conn, SCHEMA, path, target=5, migrations=migrations)
        assert not conn.in_transaction
    assert _version(path) == 3  # the first one stands, the second rolled back whole
    assert "namespace" in _columns(path, "executions")
    assert "extra" not in _columns(path, "executions")


def test_a_store_newer_than_the_code_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    store = SqliteStore(data_dir / "orchestrator.db")
    store.close()
    with contextlib.closing(sqlite3.connect(data_dir / "orchestrator.db")) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
        conn.execute("DROP TABLE schedules")  # a table this code would create again
    with pytest.raises(SchemaTooNew) as refused:
        SqliteStore(data_dir / "orchestrator.db")
    assert f"schema version {SCHEMA_VERSION + 5}, newer than this orchestrator's " in str(
        refused.value
    )
    assert "upgrade the orchestrator" in str(refused.value)
    assert _version(data_dir / "orchestrator.db") == SCHEMA_VERSION + 5
    assert "schedules" not in {
        r[0]
        for r in sqlite3.connect(data_dir / "orchestrator.db").execute(
            "SELECT name FROM sqlite_master"
        )
    }
    # `serve` says so in one line and exits 1, without starting Ray.
    assert main(["serve", "--data-dir", str(data_dir), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert f"has schema version {SCHEMA_VERSION + 5}" in err


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
