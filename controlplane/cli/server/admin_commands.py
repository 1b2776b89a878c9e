"""`orchestrator admin`'s arguments: check, back up and restore a data directory's store."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.lazy import handler

DATA_DIR_HELP = "the data directory (default: orchestrator-data)"


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    admin = top.add_parser("admin", help="operate on a data directory's store")
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)

    help = "check the store of a data directory (SQLite integrity_check)"
    check = admin_commands.add_parser("check", help=help, description=help, parents=[common])
    check.add_argument("--data-dir", default="orchestrator-data", help=DATA_DIR_HELP)
    check.set_defaults(runner=handler("controlplane.cli.server.admin:run_check"))

    help = (
        "copy the store to a file, consistently, while a server may be running (SQLite's "
        "online backup); the copy is checked before it is put in place"
    )
    backup = admin_commands.add_parser("backup", help=help, description=help, parents=[common])
    backup.add_argument("--data-dir", default="orchestrator-data", help=DATA_DIR_HELP)
    backup.add_argument("--out", required=True, metavar="FILE", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(runner=handler("controlplane.cli.server.admin:run_backup"))

    help = (
        "replace the store of a data directory with a backup (no server may be running on it); "
        "the store it replaces is kept beside it as orchestrator.db.before-restore-TIME"
    )
    restore = admin_commands.add_parser("restore", help=help, description=help, parents=[common])
    restore.add_argument("--data-dir", default="orchestrator-data", help=DATA_DIR_HELP)
    restore.add_argument(
        "--from", dest="source", required=True, metavar="FILE", help="a file `admin backup` wrote"
    )
    restore.add_argument(
        "--force", action="store_true", help="replace a store the data directory already holds"
    )
    restore.add_argument(
        "--discard-current",
        action="store_true",
        help="do not keep the replaced store (default: kept as a .before-restore-TIME file)",
    )
    restore.set_defaults(runner=handler("controlplane.cli.server.admin:run_restore"))
