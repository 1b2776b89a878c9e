"""`orchestrator admin`: check, back up and restore a data directory's store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from controlplane.cli.usage import UsageProblem
from controlplane.config import StoreConfig
from controlplane.store import integrity
from controlplane.store.backup import BackupRefused, Progress, backup_store
from controlplane.store.data_dir_lock import DataDirInUse
from controlplane.store.migrations import SchemaTooNew
from controlplane.store.packages import PACKAGES_DIR
from controlplane.store.restore import restore_store

MIB = 1 << 20


def run_check(args: argparse.Namespace) -> int:
    database = StoreConfig(data_dir=Path(args.data_dir)).database_path
    problems = integrity.run_check(database, full=True)
    if not problems:
        sys.stdout.write(f"{database}: ok\n")
        return 0
    for problem in problems[:50]:
        sys.stderr.write(f"{database}: {problem}\n")
    if len(problems) > 50:
        sys.stderr.write(f"{database}: ... and {len(problems) - 50} more problems\n")
    return 1


def progress_line(what: str, stream: TextIO) -> Progress | None:
    """A line on a terminal that counts the pages copied (nothing when not a terminal)."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        end = "\n" if done >= total else ""
        stream.write(f"\r{what}: {percent:3d}% ({done} of {total} pages){end}")
        stream.flush()

    return show


def run_backup(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    database = StoreConfig(data_dir=data_dir).database_path
    out = Path(args.out)
    try:
        copy = backup_store(
            database,
            out,
            packages_dir=data_dir / PACKAGES_DIR,
            replace=args.force,
            progress=progress_line("backing up", sys.stderr),
        )
    except BackupRefused as exc:
        raise UsageProblem(f"admin backup: {exc}") from None
    sys.stdout.write(
        f"backed up {database} to {copy.path} ({copy.size_bytes / MIB:.1f} MiB, schema "
        f"version {copy.schema_version}, {copy.packages} packages)\n"
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    database = StoreConfig(data_dir=Path(args.data_dir)).database_path
    try:
        restored = restore_store(
            database,
            Path(args.source),
            replace=args.force,
            keep_current=not args.discard_current,
            progress=progress_line("restoring", sys.stderr),
        )
    except (BackupRefused, SchemaTooNew) as exc:
        raise UsageProblem(f"admin restore: {exc}") from None
    except DataDirInUse as exc:
        sys.stderr.write(f"error: admin restore: {exc}; stop it first\n")
        return 1
    sys.stdout.write(
        f"restored {database} from {args.source} (schema version {restored.schema_version}, "
        f"{restored.packages} packages)\n"
    )
    if restored.kept is not None:
        sys.stdout.write(f"the store it replaced is kept as {restored.kept}\n")
    return 0
