"""The ScalingService commands' arguments: `scaling policy|status|events`, `forecast show`
and `load`. They join the `scaling` and `forecast` groups the parser owns; their handlers
(`scaling`, `load`) are imported when a command runs."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import (
    count_arg,
    decisions_arg,
    duration_arg,
    fraction_arg,
    fraction_or_zero_arg,
    positive_duration,
    positive_number,
    replicas_arg,
    utilization_arg,
)
from controlplane.cli.lazy import Fill, handler
from models.forecasting import MODEL_NAMES
from models.load import HOUR, MINUTE, RAW

Group = argparse._SubParsersAction
RESOLUTIONS = {"raw": RAW, "minute": MINUTE, "hour": HOUR}


def target_arg(text: str) -> tuple[str, float]:
    """`METRIC=VALUE`, e.g. `in_flight=0.7`."""
    from models.scaling_documents import METRICS

    metric, sep, value = text.partition("=")
    if not sep or metric not in METRICS:
        raise argparse.ArgumentTypeError(
            f"expected METRIC=VALUE with METRIC one of {', '.join(METRICS)}, got {text!r}"
        )
    try:
        return metric, positive_number(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"target of {metric}: {exc}") from None


def sub(
    group: Group[Any],
    common: argparse.ArgumentParser,
    name: str,
    help: str,
    target: str,
    fill: Fill | None = None,
) -> argparse.ArgumentParser:
    """A subcommand with --address/--output/--timeout (`common`) and --json whose handler is
    `target` ("module:function" in this package); `fill` adds its other flags on first use."""
    parser: argparse.ArgumentParser = group.add_parser(
        name, help=help, description=help, parents=[common], fill=fill
    )
    parser.set_defaults(handler=handler(f"controlplane.cli.client.{target}"))
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="print JSON (same as -o json)",
    )
    return parser


def _policy_set_flags(parser: argparse.ArgumentParser) -> None:
    # The metric names belong to the policy documents of the engine: read only when used.
    from models.scaling_documents import METRICS

    parser.add_argument("agent")
    parser.add_argument(
        "--file", help="YAML or JSON policy document (fields of ScalingPolicy; '-': stdin)"
    )
    parser.add_argument("--min-replicas", type=replicas_arg)
    parser.add_argument("--max-replicas", type=replicas_arg)
    parser.add_argument(
        "--target",
        action="append",
        type=target_arg,
        default=[],
        metavar="METRIC=VALUE",
        help=f"target tracking ({', '.join(METRICS)}); repeatable",
    )
    parser.add_argument(
        "--tolerance", type=fraction_or_zero_arg, help="of every --target, in [0, 1) (default 0.1)"
    )
    parser.add_argument("--scale-up-stabilization", type=duration_arg, metavar="DURATION")
    parser.add_argument(
        "--scale-down-stabilization", type=duration_arg, metavar="DURATION", help="default 5m"
    )
    parser.add_argument(
        "--scheduled",
        action="append",
        nargs=3,
        default=[],
        metavar=("CRON", "DURATION", "REPLICAS"),
        help="scheduled capacity, e.g. '0 9 * * mon-fri' 8h 5; repeatable",
    )
    parser.add_argument("--predictive", action="store_true", help="forecast-driven scale-out")
    parser.add_argument("--lead-time", type=duration_arg, metavar="DURATION", help="default 135s")
    parser.add_argument("--target-utilization", type=utilization_arg, help="default 0.7")
    parser.add_argument(
        "--level", type=fraction_arg, help="forecast interval level in (0, 1) (default 0.9)"
    )
    parser.add_argument("--bound", choices=("upper", "mean"), help="default upper")
    parser.add_argument(
        "--service-time", type=duration_arg, metavar="DURATION", help="default: measured"
    )
    parser.add_argument(
        "--concurrency", type=count_arg, help="per replica (default: max_concurrency)"
    )
    parser.add_argument("--slo-wait", type=duration_arg, metavar="DURATION")
    parser.add_argument(
        "--max-violation", type=fraction_arg, help="with --slo-wait, in (0, 1) (default 0.01)"
    )
    parser.add_argument("--scale-out-cooldown", type=duration_arg, metavar="DURATION")
    parser.add_argument("--scale-in-cooldown", type=duration_arg, metavar="DURATION")
    parser.add_argument("--max-scale-out", type=replicas_arg, help="replicas per decision")
    parser.add_argument("--max-scale-in", type=replicas_arg, help="replicas per decision")


def add_policy_commands(scaling: Group[Any], common: argparse.ArgumentParser) -> None:
    """`scaling policy set|get|delete`, `scaling status` and `scaling events`."""
    policy_parser = scaling.add_parser(
        "policy",
        help="set, show or delete an agent's scaling policy",
        description="An agent's scaling policy on the control plane (ScalingService).",
    )
    policy = policy_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub(
        policy,
        common,
        "set",
        "create or replace an agent's scaling policy (from --file and/or flags)",
        "scaling:scaling_policy_set",
        fill=_policy_set_flags,
    )
    get = sub(policy, common, "get", "show an agent's scaling policy", "scaling:scaling_policy_get")
    get.add_argument("agent")
    delete = sub(
        policy,
        common,
        "delete",
        "stop scaling an agent automatically",
        "scaling:scaling_policy_delete",
    )
    delete.add_argument("agent")

    status = sub(
        scaling,
        common,
        "status",
        "current and desired replicas, recent decisions and the forecast in use",
        "scaling:scaling_status",
    )
    status.add_argument("agent")
    status.add_argument(
        "--decisions", type=decisions_arg, default=10, help="how many to show (1 to 100)"
    )
    events = sub(
        scaling,
        common,
        "events",
        "an agent's scaling decisions, newest first",
        "scaling:scaling_events",
    )
    events.add_argument("agent")
    events.add_argument("--all", action="store_true", help="include holds (no change)")
    events.add_argument("--limit", type=count_arg, default=50)


def _forecast_show_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent")
    parser.add_argument(
        "--horizon", type=positive_duration, metavar="DURATION", help="how far ahead"
    )
    parser.add_argument("--model", default="", choices=("", *MODEL_NAMES), metavar="MODEL")
    parser.add_argument(
        "--level",
        type=fraction_or_zero_arg,
        default=0.0,
        help="interval level in (0, 1) (default 0: the server's)",
    )


def add_forecast_show(forecast: Group[Any], common: argparse.ArgumentParser) -> None:
    """`forecast show AGENT`: the forecast the control plane fitted."""
    sub(
        forecast,
        common,
        "show",
        "an agent's arrival-rate forecast as the control plane fitted it",
        "load:forecast_show",
        fill=_forecast_show_flags,
    )


def register_load(top: Group[Any], common: argparse.ArgumentParser) -> None:
    """`load AGENT`: an agent's recorded load, as a table, JSON or a trace CSV."""
    load = sub(top, common, "load", "an agent's (or pool:NAME's) recorded load", "load:load_show")
    load.add_argument("agent", help="agent name or pool:NAME")
    load.add_argument("--resolution", choices=tuple(RESOLUTIONS), default="raw")
    load.add_argument(
        "--since", type=duration_arg, default=3600.0, metavar="DURATION", help="default 1h"
    )
    load.add_argument(
        "--csv",
        metavar="FILE",
        help="write timestamp,value,... (value = arrivals per interval) for forecast predict "
        "and scaling simulate --trace",
    )
