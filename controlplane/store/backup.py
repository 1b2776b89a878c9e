"""Backups of a store: a consistent copy made with SQLite's online backup API while a server
may be writing (WAL), checked and put in place atomically; and the checks a restore runs on one.

The copy reads the store through a read-only connection inside one read transaction, so every
step of the backup sees the same snapshot however much the server commits meanwhile (a WAL
reader never blocks the writer), and the steps never restart. It is written to a temporary file
beside the target, switched to a rollback journal (one self-contained file), checked
(integrity_check and its schema version), flushed to disk and only then given its name. The
data dir's uploaded packages travel inside the backup (see `backup_packages`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controlplane.store.backup_packages import add_packages
from controlplane.store.migrations import SchemaTooNew, schema_version
from controlplane.store.schema import SCHEMA_VERSION

# Pages copied per step (4 MiB of 4 KiB pages): how often progress is reported.
STEP_PAGES = 1024
# Tables every orchestrator store has had since its first version.
CORE_TABLES = ("executions", "events", "workflow_revisions")

SQLITE_HEADER = b"SQLite format 3\x00"

# Called after each step with (pages copied, pages in all).
Progress = Callable[[int, int], None]


class BackupRefused(RuntimeError):
    """What a backup or restore will not do, and why (a file that is not a sound store, a
    target that exists)."""


@dataclass(frozen=True)
class StoreFile:
    path: Path
    schema_version: int
    size_bytes: int
    packages: int = 0


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write `path` (autocommit: the caller begins transactions)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)


def fsync_path(path: Path) -> None:
    """Flushes a file, or a directory's entries (a rename in it), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_store_file(path: Path, supported: int | None = SCHEMA_VERSION) -> int:
    """The schema version of the orchestrator store in `path`; BackupRefused when it is not a
    readable SQLite file, not an orchestrator store or damaged, SchemaTooNew when its version
    is above `supported` (None: any)."""
    if not path.is_file():
        raise BackupRefused(f"{path} is not a file")
    try:
        conn = open_read_only(path)
        try:
            version = schema_version(conn)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        with path.open("rb") as handle:
            sqlite_file = handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
        if sqlite_file:
            raise BackupRefused(f"{path} is damaged ({exc})") from None
        raise BackupRefused(f"{path} is not an SQLite database ({exc})") from None
    missing = [t for t in CORE_TABLES if t not in tables]
    if version < 1 or missing:
        raise BackupRefused(
            f"{path} is not an orchestrator store (schema version {version}"
            + (f", no {', '.join(missing)} table)" if missing else ")")
        )
    if problems != ["ok"]:
        raise BackupRefused(f"{path} is damaged: {'; '.join(problems[:3])}")
    if supported is not None and version > supported:
        raise SchemaTooNew(path, version, supported)
    return version


def copy_store(source: Path, target: Path, progress: Progress | None, step_pages: int) -> int:
    """Copies the store `source` into the new file `target` from one snapshot; returns the
    source's schema version."""
    reader = open_read_only(source)
    try:
        # One read transaction for every step: one snapshot, never restarted by a commit.
        reader.execute("BEGIN")
        version = schema_version(reader)
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
        writer = sqlite3.connect(target, isolation_level=None)
        try:

            def report(status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            reader.backup(writer, pages=step_pages, progress=report)
            # The copy carries the source's WAL flag: make it one self-contained file.
            writer.execute("PRAGMA journal_mode=DELETE")
        finally:
            writer.close()
        reader.execute("COMMIT")
    finally:
        reader.close()
    return version


def _publish(temporary: Path, out: Path, replace: bool) -> None:
    """Gives the checked, flushed copy its name: atomically, and without replacing an existing
    file unless `replace`."""
    fsync_path(temporary)
    if replace:
        os.replace(temporary, out)
    else:
        try:
            os.link(temporary, out)  # fails, atomically, if `out` exists
        except FileExistsError:
            raise BackupRefused(f"{out} exists; --force replaces it") from None
        temporary.unlink()
    fsync_path(out.parent)


def backup_store(
    database: Path,
    out: Path,
    *,
    packages_dir: Path | None = None,
    replace: bool = False,
    progress: Progress | None = None,
    step_pages: int = STEP_PAGES,
) -> StoreFile:
    """Writes a consistent, checked copy of `database` (and the packages in `packages_dir`) to
    `out`; a server may be running on it."""
    if not database.is_file() or database.stat().st_size == 0:
        raise BackupRefused(f"there is no store at {database}")
    if out.exists() and not replace:
        raise BackupRefused(f"{out} exists; --force replaces it")
    if not out.parent.is_dir():
        raise BackupRefused(f"{out.parent} is not a directory")
    temporary = out.parent / f".{out.name}.{uuid.uuid4().hex}.partial"
    try:
        version = copy_store(database, temporary, progress, step_pages)
        packages = 0
        if packages_dir is not None:
            conn = sqlite3.connect(temporary, isolation_level=None)
            try:
                packages = add_packages(conn, packages_dir)
            finally:
                conn.close()
        try:
            checked = check_store_file(temporary, supported=None)
        except BackupRefused as exc:
            raise BackupRefused(f"the copy of {database} failed its check: {exc}") from None
        if checked != version:
            raise BackupRefused(f"the copy has schema version {checked}, the store {version}")
        _publish(temporary, out, replace)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return StoreFile(out, version, out.stat().st_size, packages)
