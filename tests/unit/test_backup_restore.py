"""`admin backup` and `admin restore` on real SQLite stores: a backup taken while another
process commits is one consistent snapshot that opens; restores refuse what they must and
replace the store atomically, keeping the one they replace."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane.cli.main import main
from controlplane.store import SqliteStore
from controlplane.store.backup import BackupRefused, backup_store, check_store_file
from controlplane.store.data_dir_lock import DataDirInUse, DataDirLock
from controlplane.store.integrity import MARKER
from controlplane.store.migrations import SchemaTooNew
from controlplane.store.restore import restore_store
from controlplane.store.schema import SCHEMA_VERSION

# Each transaction adds an execution whose last_sequence is the number of events it adds with
# it: in any consistent snapshot every execution has exactly that many events.
WRITER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA journal_mode=WAL")
padding = "x" * 3000
i = 0
print("ready", flush=True)
while True:
    events = 1 + i % 7
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO executions (execution_id, workflow, revision, status, inputs, create_time,"
        " last_sequence) VALUES (?, 'wf', 1, 'RUNNING', ?, 1.0, ?)",
        (f"w{i}", padding, events),
    )
    conn.executemany(
        "INSERT INTO events VALUES (?, ?, 'TASK_STARTED', 't', 1.0, ?)",
        [(f"w{i}", n, padding) for n in range(1, events + 1)],
    )
    conn.execute("COMMIT")
    i += 1
"""


def make_store(data_dir: Path, executions: int = 3) -> Path:
    database = data_dir / "orchestrator.db"
    SqliteStore(database).close()
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as conn:
        for i in range(executions):
            conn.execute(
                "INSERT INTO executions (execution_id, workflow, revision, status, inputs,"
                " create_time, last_sequence) VALUES (?, 'wf', 1, 'SUCCEEDED', '{}', 1.0, 0)",
                (f"{data_dir.name}-{i}",),
            )
    return database


def execution_ids(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {row[0] for row in conn.execute("SELECT execution_id FROM executions")}


def test_backup_while_another_process_commits_is_one_consistent_snapshot(
    tmp_path: Path,
) -> None:
    database = make_store(tmp_path / "data", executions=0)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 30
        while len(execution_ids(database)) < 200:  # some pages to copy in many steps
            assert time.monotonic() < deadline
        steps: list[tuple[int, int]] = []
        out = tmp_path / "backup.db"
        before = len(execution_ids(database))
        copy = backup_store(database, out, step_pages=8, progress=lambda *p: steps.append(p))
        committed_meanwhile = len(execution_ids(database)) - before
    finally:
        writer.kill()
        writer.wait(10)
    assert len(steps) > 10 and steps[-1][0] == steps[-1][1]
    assert committed_meanwhile > 0
    assert copy.schema_version == SCHEMA_VERSION == check_store_file(out)
    with contextlib.closing(sqlite3.connect(out)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        mismatched = conn.execute(
            "SELECT count(*) FROM executions e WHERE last_sequence != "
            "(SELECT count(*) FROM events v WHERE v.execution_id = e.execution_id)"
        ).fetchone()[0]
        assert mismatched == 0
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] >= 200
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    store = SqliteStore(out)  # the copy opens as a store
    store.close()


def test_backup_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    database = make_store(tmp_path / "data")
    out = tmp_path / "backup.db"
    out.write_text("precious")
    with pytest.raises(BackupRefused, match=r"backup\.db exists; --force replaces it"):
        backup_store(database, out)
    assert out.read_text() == "precious"
    backup_store(database, out, replace=True)
    assert execution_ids(out) == execution_ids(database)
    with pytest.raises(BackupRefused, match="there is no store at"):
        backup_store(tmp_path / "empty" / "orchestrator.db", tmp_path / "other.db")


def test_backup_and_restore_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    database = make_store(data)
    package = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
    name = f"sha256-{hashlib.sha256(package).hexdigest()}.zip"
    (data / "packages").mkdir()
    (data / "packages" / name).write_bytes(package)
    out = tmp_path / "b.db"
    assert main(["admin", "backup", "--data-dir", str(data), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"backed up {database} to {out}" in said and "1 packages" in said
    assert main(["admin", "backup", "--data-dir", str(data), "--out", str(out)]) == 2
    assert "b.db exists; --force replaces it" in capsys.readouterr().err

    fresh = tmp_path / "fresh"
    assert main(["admin", "restore", "--data-dir", str(fresh), "--from", str(out)]) == 0
    assert "restored" in capsys.readouterr().out
    assert execution_ids(fresh / "orchestrator.db") == execution_ids(database)
    assert (fresh / "packages" / name).read_bytes() == package
    assert (fresh / MARKER).exists()
    with contextlib.closing(sqlite3.connect(fresh / "orchestrator.db")) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "backup_packages" not in tables

    lock = DataDirLock(fresh)
    try:
        argv = ["admin", "restore", "--data-dir", str(fresh), "--from", str(out), "--force"]
        assert main(argv) == 1
        assert "in use by another control plane" in capsys.readouterr().err
    finally:
        lock.release()


def _damaged_copy(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    page = 4096
    for offset in range(page * 2, len(data), page):  # every b-tree page but the first
        data[offset : offset + 8] = b"\xff" * 8
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("kind", ["not-sqlite", "not-ours", "damaged", "newer"])
def test_restore_refuses_a_file_it_cannot_trust(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    database = make_store(data)
    before = database.read_bytes()
    good = tmp_path / "good.db"
    backup_store(database, good)
    source = tmp_path / f"{kind}.db"
    if kind == "not-sqlite":
        source.write_text("just text\n" * 1000)
        expected: type[Exception] = BackupRefused
        message = "is not an SQLite database"
    elif kind == "not-ours":
        with contextlib.closing(sqlite3.connect(source)) as conn:
            conn.execute("CREATE TABLE photos (id INTEGER)")
        expected, message = BackupRefused, "is not an orchestrator store"
    elif kind == "damaged":
        _damaged_copy(good, source)
        expected, message = BackupRefused, "is damaged"
    else:
        source.write_bytes(good.read_bytes())
        with contextlib.closing(sqlite3.connect(source)) as conn:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        expected, message = SchemaTooNew, "newer than this orchestrator's"
    with pytest.raises(expected, match=message):
        restore_store(database, source, replace=True)
    assert database.read_bytes() == before
    assert sorted(p.name for p in data.iterdir() if "restor" in p.name) == []


def test_restore_over_a_store_needs_force_and_keeps_the_old_one(tmp_path: Path) -> None:
    backup_dir = tmp_path / "elsewhere"
    backup = tmp_path / "backup.db"
    backup_store(make_store(backup_dir), backup)
    data = tmp_path / "data"
    database = make_store(data)
    # The old store has committed rows only in its WAL, and a WAL and shm beside it.
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "INSERT INTO executions (execution_id, workflow, revision, status, inputs, create_time,"
        " last_sequence) VALUES ('only-in-wal', 'wf', 1, 'RUNNING', '{}', 1.0, 0)"
    )
    old = execution_ids(database)
    try:
        with pytest.raises(BackupRefused, match="already holds a store; --force replaces it"):
            restore_store(database, backup)
    finally:
        conn.close()
    assert execution_ids(database) == old

    restored = restore_store(database, backup, replace=True, now=lambda: 0.0)
    assert restored.kept == data / "orchestrator.db.before-restore-19700101T000000Z"
    assert execution_ids(database) == execution_ids(backup)
    assert execution_ids(restored.kept) == old and "only-in-wal" in old
    assert not (data / "orchestrator.db-wal").exists()
    assert not (data / "orchestrator.db-shm").exists()
    SqliteStore(database).close()

    again = restore_store(database, backup, replace=True, keep_current=False, now=lambda: 0.0)
    assert again.kept is None
    assert [p.name for p in data.iterdir() if ".before-restore-" in p.name] == [restored.kept.name]


def test_restore_refuses_while_a_server_holds_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = make_store(data)
    backup = tmp_path / "backup.db"
    backup_store(database, backup)
    lock = DataDirLock(data)
    try:
        with pytest.raises(DataDirInUse):
            restore_store(database, backup, replace=True)
    finally:
        lock.release()
