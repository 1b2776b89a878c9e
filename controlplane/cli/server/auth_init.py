"""`orchestrator auth init`: the first admin key of a data directory, without a server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controlplane.cli.usage import UsageProblem
from controlplane.engine.security.bootstrap import create_first_admin_key
from models.errors import FailedPrecondition

EXIT_OK = 0


def init(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        info, token = create_first_admin_key(data_dir / "orchestrator.db", args.name)
    except FailedPrecondition as exc:
        raise UsageProblem(exc.message) from None
    sys.stderr.write(
        f"created admin key {info.name!r} (id {info.key_id}) on every namespace; it is shown "
        "this once: keep it secret (e.g. export ORCHESTRATOR_API_KEY=...)\n"
    )
    sys.stdout.write(token + "\n")
    return EXIT_OK
