"""Restoring a data dir's store from a backup file, with no server running on it.

The backup is checked (an orchestrator store, sound, not newer than this code), copied beside
the store, its packages put back in `packages/`, flushed, and then renamed over the store in
one step: a crash leaves either the old store or the new one. The old store is first brought
to a single file (its WAL checkpointed) and kept as `<store>.before-restore-<UTC time>` unless
told otherwise; a stale WAL or shared-memory file never meets the new store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controlplane.store.backup import (
    STEP_PAGES,
    BackupRefused,
    Progress,
    check_store_file,
    copy_store,
    fsync_path,
)
from controlplane.store.backup_packages import BadBackupPackage, extract_packages
from controlplane.store.data_dir_lock import DataDirLock
from controlplane.store.integrity import mark
from controlplane.store.packages import PACKAGES_DIR

KEPT_SUFFIX = ".before-restore-"


@dataclass(frozen=True)
class Restored:
    database: Path
    schema_version: int
    kept: Path | None  # where the replaced store is, if one was kept
    packages: int


def _sidecar(database: Path, suffix: str) -> Path:
    return database.with_name(database.name + suffix)


def _settle(database: Path) -> None:
    """Folds the WAL of a store no one has open into its file (best effort: a damaged store
    is set aside as it is, WAL and all)."""
    if not database.is_file():
        return
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(database, isolation_level=None, timeout=5)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()


def _kept_name(database: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    kept = database.with_name(f"{database.name}{KEPT_SUFFIX}{stamp}")
    number = 1
    while kept.exists():
        number += 1
        kept = database.with_name(f"{database.name}{KEPT_SUFFIX}{stamp}-{number}")
    return kept


def _set_aside(database: Path, keep: bool, now: float) -> Path | None:
    """Moves the current store's WAL and shared memory out of the way (keeping the store under
    a new name if `keep`, while it stays in place until the new one replaces it)."""
    _settle(database)
    wal, shm = _sidecar(database, "-wal"), _sidecar(database, "-shm")
    has_store = database.is_file() and database.stat().st_size > 0
    kept = None
    if keep and (has_store or wal.exists()):
        kept = _kept_name(database, now)
        if database.is_file():
            try:
                os.link(database, kept)
            except OSError:
                shutil.copy2(database, kept)
        if wal.exists():
            os.replace(wal, _sidecar(kept, "-wal"))
    wal.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)
    return kept


def restore_store(
    database: Path,
    source: Path,
    *,
    replace: bool = False,
    keep_current: bool = True,
    progress: Progress | None = None,
    now: Callable[[], float] = time.time,
) -> Restored:
    """Replaces the store `database` with the backup `source`. Raises DataDirInUse while a
    server holds the data dir, BackupRefused (or SchemaTooNew) for a source it will not
    restore, and BackupRefused when a store is there and `replace` is not given."""
    data_dir = database.parent
    if source.resolve() == database.resolve():
        raise BackupRefused(f"{source} is the store itself")
    lock = DataDirLock(data_dir)
    try:
        version = check_store_file(source)
        if database.is_file() and database.stat().st_size > 0 and not replace:
            raise BackupRefused(
                f"{data_dir} already holds a store; --force replaces it (it is kept as "
                f"{database.name}{KEPT_SUFFIX}TIME)"
            )
        temporary = data_dir / f".{database.name}.restoring"
        temporary.unlink(missing_ok=True)
        try:
            copy_store(source, temporary, progress, STEP_PAGES)
            conn = sqlite3.connect(temporary, isolation_level=None)
            try:
                packages = extract_packages(conn, data_dir / PACKAGES_DIR)
            except BadBackupPackage as exc:
                raise BackupRefused(f"{source}: {exc}") from None
            finally:
                conn.close()
            fsync_path(temporary)
            kept = _set_aside(database, keep_current, now())
            os.replace(temporary, database)
            fsync_path(data_dir)
        finally:
            temporary.unlink(missing_ok=True)
        mark(database)
    finally:
        lock.release()
    return Restored(database, version, kept, packages)
