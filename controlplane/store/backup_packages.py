"""The data dir's uploaded packages inside a backup file: a table the backup adds to its copy
of the store and a restore empties back into `packages/` (then drops), so one file restores
agents deployed from uploaded code too. Packages are content-addressed and never change, so
whichever are in the directory when the backup runs include every one its snapshot names."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import uuid
from pathlib import Path

TABLE = "backup_packages"
_NAME = re.compile(r"^sha256-(?P<digest>[0-9a-f]{64})\.zip$")


class BadBackupPackage(ValueError):
    """A package in a backup whose name or content is not what a package is."""


def add_packages(conn: sqlite3.Connection, packages_dir: Path) -> int:
    """Copies every package file of `packages_dir` into the backup `conn`; returns how many."""
    conn.execute(f"CREATE TABLE {TABLE} (file_name TEXT PRIMARY KEY, data BLOB NOT NULL)")
    files = sorted(p for p in packages_dir.glob("sha256-*.zip") if _NAME.match(p.name))
    for path in files:
        conn.execute(f"INSERT INTO {TABLE} VALUES (?, ?)", (path.name, path.read_bytes()))
    return len(files)


def extract_packages(conn: sqlite3.Connection, packages_dir: Path) -> int:
    """Writes the packages a backup holds into `packages_dir` (each checked against its name,
    flushed and renamed into place; one already there is kept) and drops their table; returns
    how many the backup held."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name=?", (TABLE,)).fetchone() is None:
        return 0
    names = [row[0] for row in conn.execute(f"SELECT file_name FROM {TABLE}")]
    for name in names:
        found = _NAME.match(name)
        if found is None:
            raise BadBackupPackage(f"the backup holds a package named {name[:100]!r}")
        target = packages_dir / name
        if target.is_file():
            continue
        (data,) = conn.execute(f"SELECT data FROM {TABLE} WHERE file_name=?", (name,)).fetchone()
        if hashlib.sha256(data).hexdigest() != found["digest"]:
            raise BadBackupPackage(f"the backup's package {name} does not match its sha256")
        packages_dir.mkdir(parents=True, exist_ok=True)
        temporary = packages_dir / f"{name}.{uuid.uuid4().hex}.part"
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    conn.execute(f"DROP TABLE {TABLE}")
    return len(names)
