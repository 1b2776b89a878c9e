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
    auth_commands,
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
from models.security import DEFAULT_NAMESPACE

DEFAULT_ADDRESS = "localhost:50051"
ADDRESS_ENV = "ORCHESTRATOR_ADDRESS"
NAMESPACE_ENV = "ORCHESTRATOR_NAMESPACE"


def _client_options(
    parser: argparse.ArgumentParser, suppress: bool, credentials: bool = True
) -> None:
    """--address/--namespace/--output/--timeout, accepted before or after the subcommand.

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
        "--namespace",
        "-n",
        default=default(os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE),
        help="the namespace of workflows, executions and schedules ('*' lists every one; "
        f"default: ${NAMESPACE_ENV} or {DEFAULT_NAMESPACE})",
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
    if credentials:
        _credential_options(parser, default)


def _credential_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--api-key",
        default=default(None),
        metavar="KEY",
        help="API key sent as `authorization: Bearer` (default: $ORCHESTRATOR_API_KEY)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        default=default(False),
        help="connect with TLS, trusting the system's roots (default: $ORCHESTRATOR_TLS)",
    )
    for name, what in (
        ("ca", "CA certificate that signed the server's (implies --tls)"),
        ("cert", "client certificate for mutual TLS"),
        ("key", "the client certificate's key"),
    ):
        parser.add_argument(
            f"--tls-{name}",
            default=default(None),
            metavar="FILE",
            help=f"{what} (default: $ORCHESTRATOR_TLS_{name.upper()})",
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
    # The server's commands have TLS flags of their own (its certificate, not a client's).
    server_common = argparse.ArgumentParser(add_help=False)
    _client_options(server_common, suppress=True, credentials=False)
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    server_commands.register(top, server_common)  # serve, demo
    workload_commands.register(top, common)  # agents, workflows, run, executions
    schedule_commands.register(top, common)
    auth_commands.register(
        top, common
    )  # auth: keys, roles, policies; `auth init` is local  # schedules
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
