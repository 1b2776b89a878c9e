"""A store that is not what it was is refused at start, never silently replaced by an empty one.

A marker file beside the database (outside SQLite, so it survives the database being truncated
or deleted) records that the data directory holds a store. At start: a marker with the database
gone or empty means the store was lost, and SQLite's `quick_check` must pass on a database that
is there. `orchestrator admin check` runs the full `integrity_check`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MARKER = "store.marker"


class StoreDamaged(RuntimeError):
    """The data directory's store is missing, emptied or corrupt."""


def marker_path(database: Path) -> Path:
    return database.parent / MARKER


def check_before_open(database: Path) -> None:
    """Refuses a database that the marker says should hold a store but is gone or empty, and
    one that fails SQLite's quick check."""
    marker = marker_path(database)
    size = database.stat().st_size if database.exists() else None
    if marker.exists() and not size:
        what = "is missing" if size is None else "is empty (0 bytes)"
        raise StoreDamaged(
            f"the store {database} {what}, but {marker} says this data directory held one; "
            "restore the file from a backup, or delete the marker to start with an empty store"
        )
    if size:
        problems = run_check(database, full=False)
        if problems:
            raise StoreDamaged(
                f"the store {database} is damaged ({'; '.join(problems[:3])}); run "
                "`orchestrator admin check` for the full report and restore it from a backup"
            )


def mark(database: Path) -> None:
    """Records that the data directory holds a store (once it has been opened successfully)."""
    marker = marker_path(database)
    if not marker.exists():
        marker.write_text(f"{database.name}\n")


def run_check(database: Path, full: bool = True) -> list[str]:
    """SQLite's integrity_check (or the faster quick_check): [] when the store is sound."""
    if not database.is_file():
        return [f"{database} does not exist"]
    pragma = "integrity_check" if full else "quick_check"
    try:
        # Read-write, so a WAL left by a killed server is recovered first; the check only reads.
        conn = sqlite3.connect(database, timeout=30)
        try:
            rows = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows
