"""The capacity commands' arguments: `pools`, `cluster`, `quota`, `reserve`, `reservations`,
`schedulers` and `plan`; their handlers (`capacity`) are imported when a command runs."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import (
    non_negative_int,
    non_negative_number,
    positive_duration,
    positive_number,
    priority_arg,
    seed_arg,
)
from controlplane.cli.client.capacity_values import (
    parse_amounts,
    parse_backpressure,
    parse_custom_amount,
    parse_label,
    parse_size,
    parse_start,
    parse_strategy,
)
from controlplane.cli.lazy import handler

HANDLERS = "controlplane.cli.client.capacity"


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="print JSON (same as -o json)",
    )


def resource_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--cpu", type=non_negative_number, metavar="N", help=f"CPUs {what}")
    parser.add_argument(
        "--memory", type=parse_size, metavar="SIZE", help=f"memory {what} (512Mi, 8Gi, 1G, bytes)"
    )
    parser.add_argument("--gpu", type=non_negative_number, metavar="N", help=f"GPUs {what}")
    parser.add_argument(
        "--custom",
        action="append",
        type=parse_custom_amount,
        default=None,
        metavar="NAME=N",
        help=f"custom resource {what}; repeatable",
    )


def pool_flags(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("name", help="pool name (lower-case letters, digits, '-')")
    keep = " (replaces the current ones)" if update else ""
    parser.add_argument(
        "--label",
        action="append",
        type=parse_label,
        default=None,
        metavar="KEY=VALUE",
        help=f"select nodes with this label; repeatable{keep}",
    )
    parser.add_argument(
        "--custom-resource",
        action="append",
        default=None,
        metavar="NAME",
        help=f"select nodes offering this custom Ray resource; repeatable{keep}",
    )
    parser.add_argument(
        "--node",
        action="append",
        default=None,
        metavar="NODE_ID",
        help=f"select this node; repeatable{keep}",
    )
    capacity = parser.add_mutually_exclusive_group()
    capacity.add_argument(
        "--share",
        type=parse_amounts,
        default=None,
        metavar="cpu=N,memory=SIZE,gpu=N,NAME=N",
        help="own this share of the selected nodes (default: the nodes whole)",
    )
    if update:
        capacity.add_argument(
            "--whole-nodes", action="store_true", help="own the selected nodes whole"
        )
    parser.add_argument(
        "--strategy",
        type=parse_strategy,
        default=None,
        metavar="PACK|SPREAD|STRICT_PACK|STRICT_SPREAD",
        help="how the pool's bundles are laid over nodes (default: PACK)",
    )
    json_flag(parser)


# -- registration -----------------------------------------------------------------------------


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Adds the capacity commands; `common` carries --address/--output/--timeout."""

    def sub(
        group: argparse._SubParsersAction[Any],
        name: str,
        help: str,
        function: str = "",
    ) -> argparse.ArgumentParser:
        parser = group.add_parser(name, help=help, description=help, parents=[common])
        if function:
            parser.set_defaults(handler=handler(f"{HANDLERS}:{function}"))
            json_flag(parser)
        return parser

    def commands(
        parser: argparse.ArgumentParser,
    ) -> argparse._SubParsersAction[Any]:
        return parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    # pools
    pool_cmds = commands(sub(top, "pools", "resource pools over Ray nodes"))
    create = pool_cmds.add_parser(
        "create",
        help="create a pool",
        description="Create a pool: the nodes matching every selector flag, owned whole or "
        "as a --share of their capacity.",
        parents=[common],
    )
    pool_flags(create, update=False)
    create.set_defaults(handler=handler(f"{HANDLERS}:pools_create"))
    update = pool_cmds.add_parser(
        "update",
        help="change a pool",
        description="Change a pool: every flag given replaces that part of its spec; the "
        "others keep their current values.",
        parents=[common],
    )
    pool_flags(update, update=True)
    update.set_defaults(handler=handler(f"{HANDLERS}:pools_update"))
    sub(pool_cmds, "get", "show one pool", "pools_get").add_argument("name")
    sub(pool_cmds, "list", "list pools", "pools_list")
    sub(
        pool_cmds, "delete", "delete a pool (not while reservations hold it)", "pools_delete"
    ).add_argument("name")

    # cluster
    sub(top, "cluster", "nodes, pool and namespace usage, fragmentation", "cluster")

    # quota
    quota_cmds = commands(sub(top, "quota", "namespace quotas and scheduling settings"))
    quota_set_parser = sub(
        quota_cmds,
        "set",
        "change a namespace's settings (flags not given keep their values; 0 = unlimited)",
        "quota_set",
    )
    quota_set_parser.add_argument("namespace")
    resource_flags(quota_set_parser, "at most (0: unlimited)")
    quota_set_parser.add_argument("--max-replicas", type=non_negative_int, metavar="N")
    quota_set_parser.add_argument(
        "--max-executions", type=non_negative_int, metavar="N", help="concurrent executions"
    )
    quota_set_parser.add_argument(
        "--weight", type=positive_number, metavar="W", help="fair-share weight (default 1)"
    )
    quota_set_parser.add_argument(
        "--priority", type=priority_arg, metavar="P", help="higher runs first (default 0)"
    )
    quota_set_parser.add_argument(
        "--backpressure",
        type=parse_backpressure,
        metavar="queue|reject",
        help="at the limit: queue new executions or reject them",
    )
    quota_set_parser.add_argument(
        "--placement-policy",
        metavar="NAME",
        help="first-fit, best-fit, worst-fit, dot-product or fgd",
    )
    quota_set_parser.add_argument(
        "--batch-scheduler",
        metavar="NAME",
        help="cpsat, ga, ml, auto or a rule ('none': online placement only)",
    )
    quota_set_parser.add_argument(
        "--plan-interval", type=positive_duration, metavar="DURATION", help="e.g. 5s"
    )
    sub(quota_cmds, "get", "show a namespace's settings", "quota_get").add_argument("namespace")

    # reservations
    res = sub(top, "reserve", "reserve capacity in a pool for a time window", "reserve")
    res.add_argument("--pool", required=True)
    resource_flags(res, "to reserve")
    res.add_argument(
        "--start",
        type=parse_start,
        default=None,
        metavar="ISO8601|+DURATION",
        help="window start: 2030-01-02T15:04:05Z, now or +10m (default: now)",
    )
    res.add_argument(
        "--duration", type=positive_duration, required=True, metavar="DURATION", help="e.g. 1h"
    )
    res.add_argument("--request-id", default="", help="idempotency key")
    res_cmds = commands(sub(top, "reservations", "inspect and cancel reservations"))
    sub(res_cmds, "get", "show a reservation", "reservations_get").add_argument("reservation_id")
    sub(res_cmds, "cancel", "cancel a reservation", "reservations_cancel").add_argument(
        "reservation_id"
    )

    # schedulers and plans
    sub(top, "schedulers", "list the schedulers and placement policies", "schedulers")
    plan_parser = sub(
        top, "plan", "plan a problem file or a namespace's live work (nothing is run)", "plan"
    )
    plan_parser.add_argument(
        "--problem",
        metavar="FILE.json",
        help="scheduling problem in JSON (default: the live work of the namespace, -n)",
    )
    plan_parser.add_argument("--scheduler", default="", help="default: auto (or the namespace's)")
    plan_parser.add_argument(
        "--time-limit", type=positive_duration, default=None, metavar="DURATION", help="e.g. 10s"
    )
    plan_parser.add_argument("--seed", type=seed_arg, default=0)
    plan_parser.add_argument(
        "--workers", type=non_negative_int, default=0, help="solver threads (default: 1)"
    )
    plan_parser.add_argument(
        "--adopt", action="store_true", help="without --problem: the dispatcher uses it now"
    )
