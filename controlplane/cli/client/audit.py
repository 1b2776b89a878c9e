"""Handler of `audit list` (AdminService.ListAuditEvents)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from controlplane.api.client import OrchestratorClient
from controlplane.cli.quantities import when
from controlplane.cli.render import compact, print_json, wants_json
from models.audit import AuditFilter
from models.security import AuditEvent

EXIT_OK = 0


def code_text(code: str) -> Text:
    return Text(code, style="green" if code == "OK" else "red")


def audit_table(events: Iterable[AuditEvent]) -> Table:
    table = Table("SEQ", "TIME", "CALLER", "NAMESPACE", "RPC", "RESOURCE", "CODE", "REQUEST")
    for event in events:
        table.add_row(
            str(event.sequence),
            when(event.time),
            event.caller,
            event.namespace or "-",
            event.rpc,
            event.resource or "-",
            code_text(event.code),
            compact(event.request_summary, 60),
        )
    return table


def audit_dict(event: AuditEvent) -> dict[str, Any]:
    return dataclasses.asdict(event)


def list_(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    query = AuditFilter(
        namespace=args.only_namespace,
        caller=args.caller,
        rpc=args.rpc,
        start_time=args.since,
        end_time=args.until,
    )
    events = client.list_audit_events(query, limit=args.limit)
    if wants_json(args):
        print_json([audit_dict(e) for e in events])
    else:
        console.print(audit_table(events))
    return EXIT_OK
