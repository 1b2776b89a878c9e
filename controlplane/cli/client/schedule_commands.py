"""The ScheduleService commands' arguments: `schedules create|list|get|pause|resume|delete`;
their handlers (`schedules`) are imported when a command runs."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import non_negative_int, positive_duration
from controlplane.cli.client.scaling_commands import sub
from controlplane.cli.parsing import parse_assignment
from models.schedules import DEFAULT_CATCH_UP_WINDOW_S

HANDLERS = "schedules"
OVERLAP_CHOICES = ("skip", "buffer-one", "allow-all", "cancel-other")


def _create_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="1-63 lower-case letters, digits or '-'")
    parser.add_argument("--workflow", required=True, help="the workflow each firing starts")
    parser.add_argument(
        "--cron",
        required=True,
        help="'minute hour day-of-month month day-of-week' (e.g. '30 9 * * mon-fri') or "
        "@hourly, @daily, @weekly, @monthly, @yearly",
    )
    parser.add_argument(
        "--time-zone",
        default="UTC",
        metavar="ZONE",
        help="IANA name the cron times are read in, e.g. Europe/Paris (default: UTC)",
    )
    parser.add_argument(
        "--revision", type=non_negative_int, default=0, help="default: latest at each firing"
    )
    parser.add_argument(
        "--input",
        "-i",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="workflow input (value parsed as JSON when it parses); repeatable",
    )
    parser.add_argument(
        "--overlap",
        choices=OVERLAP_CHOICES,
        default="skip",
        help="when the previous execution still runs (default: skip)",
    )
    parser.add_argument(
        "--catch-up-window",
        type=positive_duration,
        default=DEFAULT_CATCH_UP_WINDOW_S,
        metavar="DURATION",
        help="how late a missed firing may still start, e.g. 10m (default: 1h)",
    )
    parser.add_argument("--paused", action="store_true", help="create it paused")


def _named(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Adds `schedules`; `common` carries --address/--output/--timeout/--verbose."""
    schedules = top.add_parser(
        "schedules",
        help="start workflows at cron times",
        description="Schedules start a workflow at the times of a cron expression in a time "
        "zone, each time once (ScheduleService).",
        parents=[common],
    )
    group = schedules.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    sub(group, common, "create", "create a schedule", f"{HANDLERS}:create", fill=_create_flags)
    sub(group, common, "list", "list schedules", f"{HANDLERS}:list_")
    for name, help, target in (
        ("get", "show one schedule with its firing state", "get"),
        ("pause", "stop firing (executions started run on)", "pause"),
        ("resume", "fire again from the next time after now", "resume"),
        ("delete", "delete a schedule (executions started run on)", "delete"),
    ):
        sub(group, common, name, help, f"{HANDLERS}:{target}", fill=_named)
