"""`orchestrator admin check`: the full integrity check of a data directory's store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controlplane.config import StoreConfig
from controlplane.store import integrity


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
