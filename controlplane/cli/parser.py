"""The `orchestrator` argument parser: the global options and every command group, each
registered once. Building it imports no handler: each command names its handler, imported when
the command runs (see `lazy`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from controlplane.cli.arg_types import address_arg, timeout_arg
from controlplane.cli.client import (
    audit_commands,
    capacity_commands,
    scaling_commands,
    schedule_commands,
    workload_commands,
)
from controlplane.cli.lazy import DeferredParser
from controlplane.cli.research import (
    bench_commands,
    forecast_commands,
    ml_commands,
    simulate_commands,
)
from controlplane.cli.server import commands as server_commands

DEFAULT_ADDRESS = "localhost:50051"
ADDRESS_ENV = "ORCHESTRATOR_ADDRESS"


def _client_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--address/--output/--timeout, accepted before or after the subcommand.

    On subcommands the defaults are SUPPRESS so they only override what was given globally.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--address",
        type=address_arg,
        default=default(os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS),
        help=f"control plane HOST:PORT (default: ${ADDRESS_ENV} or {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--output",
        "-o",
        choices=("table", "json"),
        default=default("table"),
        help="output format of read commands",
    )
    parser.add_argument(
        "--timeout",
        type=timeout_arg,
        default=default(30.0),
        help="time allowed for each call, e.g. 30 or 2m (not for watching)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="debug logging"
    )


def _group(top: argparse._SubParsersAction[Any], name: str, help: str, description: str) -> Any:
    """A top-level command whose subcommands come from more than one side (local tools and
    control-plane commands)."""
    parser = top.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = DeferredParser(
        prog="orchestrator",
        description="Agent orchestration platform: gRPC control plane on Ray.",
    )
    _client_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _client_options(common, suppress=True)
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    server_commands.register(top, common)  # serve, demo
    workload_commands.register(top, common)  # agents, workflows, run, executions
    schedule_commands.register(top, common)  # schedules
    # pools, cluster, quota, reserve, reservations, schedulers, plan
    capacity_commands.register(top, common)
    audit_commands.register(top, common)  # audit
    bench_commands.register(top)  # local, no control plane
    ml_commands.register(top)  # local model training

    forecast = _group(
        top,
        "forecast",
        help="forecast a load series from a CSV file",
        description="Forecast a load series (statsmodels models, chosen automatically or by "
        "name) and evaluate the models by rolling-origin backtests.",
    )
    forecast_commands.add_predict_and_backtest(forecast)  # local
    scaling_commands.add_forecast_show(forecast, common)  # the control plane's forecast

    scaling = _group(
        top,
        "scaling",
        help="autoscaling: simulate policies on a load trace, manage agents' policies",
        description="Autoscaling: simulate scaling policies on a load trace (`simulate`, no "
        "control plane needed); the other subcommands talk to the control plane.",
    )
    simulate_commands.add_simulate(scaling)  # local
    scaling_commands.add_policy_commands(scaling, common)  # policy, status, events

    scaling_commands.register_load(top, common)
    return parser
