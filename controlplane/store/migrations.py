"""Schema versions of a store, kept in SQLite's `PRAGMA user_version` (0: a new file).

Opening a store brings it up to SCHEMA_VERSION in two steps. First every migration newer than
the store's version runs, in order, each in its own transaction that also records the version
it brings the store to (a crash between two leaves a store that resumes from the last one).
Then the `CREATE ... IF NOT EXISTS` script adds every table and index the store lacks, in its
current shape, and the store is marked SCHEMA_VERSION.

So a new table needs no migration, only the script; a change to a table that exists (a
column, a rebuild, moved data) is one entry in MIGRATIONS, keyed on the version it brings the
store to. A step leaves a table that does not exist yet alone: the script creates it as it is
now. A store newer than the code is refused before anything touches it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from controlplane.store.namespaced_keys import move_to_namespaced_keys
from controlplane.store.schema import SCHEMA_VERSION

Step = Callable[[sqlite3.Connection], None]


class SchemaTooNew(RuntimeError):
    """The store was written by a newer orchestrator than this one."""

    def __init__(self, database: Path | str, version: int, supported: int) -> None:
        super().__init__(
            f"the store {database} has schema version {version}, newer than this orchestrator's "
            f"{supported}; upgrade the orchestrator (or restore a backup this version wrote)"
        )
        self.version = version
        self.supported = supported


def _table_exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class AddColumn:
    """`ALTER TABLE table ADD COLUMN column definition`, unless the table is still to be
    created or has the column already."""

    table: str
    column: str
    definition: str

    def __call__(self, conn: sqlite3.Connection) -> None:
        if not _table_exists(conn, self.table):
            return
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({self.table})")}
        if self.column not in columns:
            conn.execute(f"ALTER TABLE {self.table} ADD COLUMN {self.column} {self.definition}")


@dataclass(frozen=True)
class Migration:
    version: int  # the version the store has once it ran
    description: str
    steps: tuple[Step, ...]


# In rising version order; a version with only new tables needs no entry.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        3,
        "executions belong to a namespace",
        (AddColumn("executions", "namespace", "TEXT NOT NULL DEFAULT 'default'"),),
    ),
    Migration(
        9,
        "executions can be paused and have a parent execution",
        (
            AddColumn("executions", "paused", "INTEGER NOT NULL DEFAULT 0"),
            AddColumn("executions", "parent_execution_id", "TEXT NOT NULL DEFAULT ''"),
        ),
    ),
    Migration(
        13,
        "workflows, schedules and request ids are keyed per namespace",
        (move_to_namespaced_keys,),
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _has_tables(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' LIMIT 1").fetchone()
        is not None
    )


def _in_transaction(conn: sqlite3.Connection, run: Callable[[], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        run()
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def migrate(
    conn: sqlite3.Connection,
    tables_script: str,
    database: Path | str = "",
    target: int = SCHEMA_VERSION,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Brings the store of `conn` (autocommit) to `target`; returns the version it had.
    Raises SchemaTooNew for a store newer than `target`."""
    found = schema_version(conn)
    if found > target:
        raise SchemaTooNew(database, found, target)
    if found > 0 or _has_tables(conn):
        for migration in migrations:
            if found < migration.version <= target:

                def run(migration: Migration = migration) -> None:
                    for step in migration.steps:
                        step(conn)
                    conn.execute(f"PRAGMA user_version={migration.version}")

                _in_transaction(conn, run)
    # One transaction: the script's statements and the version stand or fall together.
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{tables_script}\nPRAGMA user_version={target};\nCOMMIT;"
        )
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    return found
