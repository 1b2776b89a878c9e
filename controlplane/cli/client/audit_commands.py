"""The `audit list` command's arguments (AdminService.ListAuditEvents); its handler (`audit`)
is imported when it runs."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

from controlplane.cli.arg_types import duration_arg, integer_between
from controlplane.cli.client.scaling_commands import sub

HANDLERS = "audit"


def moment_arg(text: str) -> float:
    """A time: ISO 8601 (`2026-03-09T09:30`, local time unless it names its zone) or a
    duration before now (`90m`, `2h`, `7d`), as seconds since the epoch."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return time.time() - duration_arg(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time or a duration before now (e.g. 2h), got {text!r}"
        ) from None


def _list_flags(parser: argparse.ArgumentParser) -> None:
    # Not the global --namespace (default "default"): the log lists every namespace unless
    # told otherwise.
    parser.add_argument(
        "--only-namespace", default="", metavar="NAMESPACE", help="only this namespace's events"
    )
    parser.add_argument("--caller", default="", help="only this caller's calls (exact)")
    parser.add_argument(
        "--rpc", default="", help="only this RPC: AgentService/DeployAgent, or DeployAgent"
    )
    parser.add_argument(
        "--since", type=moment_arg, metavar="TIME", help="from this time: ISO 8601 or e.g. 2h"
    )
    parser.add_argument(
        "--until", type=moment_arg, metavar="TIME", help="before this time: ISO 8601 or e.g. 1h"
    )
    parser.add_argument(
        "--limit",
        type=integer_between(1, 1_000_000),
        default=100,
        help="at most this many events, newest first (default: 100)",
    )


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Adds `audit`; `common` carries --address/--output/--timeout/--verbose."""
    audit = top.add_parser(
        "audit",
        help="who changed what: the audit log",
        description="The audit log: every mutating call, accepted or refused, with its "
        "caller, namespace, resource, redacted request and result (AdminService).",
        parents=[common],
    )
    group = audit.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    sub(group, common, "list", "list audit events, newest first", f"{HANDLERS}:list_", _list_flags)
