"""`orchestrator serve`, `demo` and `config show`'s arguments (and `admin`'s, from
`admin_commands`); the runners are imported when a command runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from controlplane.cli.arg_types import bind_port_arg, host_arg, non_negative_int, ray_address_arg
from controlplane.cli.lazy import handler
from controlplane.cli.server import admin_commands

GIVEN = "given_settings"


class Setting(argparse.Action):
    """Stores a flag's value and notes that it was given: with `serve --config FILE`, a flag on
    the command line overrides the file, a flag's default does not."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.store(namespace, values)

    def store(self, namespace: argparse.Namespace, value: object) -> None:
        setattr(namespace, self.dest, value)
        setattr(namespace, GIVEN, (*getattr(namespace, GIVEN, ()), self.dest))


class SettingOn(Setting):
    """A `store_true` flag that notes it was given."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.store(namespace, True)


def _ray_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray-num-cpus",
        type=non_negative_int,
        action=Setting,
        help="CPUs for a local Ray (default: all)",
    )
    parser.add_argument("--no-dashboard", action=SettingOn, help="do not start the Ray dashboard")


def _setting_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `serve` (and `config show`) that set a setting; one not given leaves the
    setting to the environment, the file or its default (see settings.FLAG_SETTINGS)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML settings file with one table per section ([ray], [store], [grpc], [loops], "
        "[queueing], [forecasting], [tls], [auth], [retention], [limits]); environment "
        "variables ORCHESTRATOR_<SECTION>_<FIELD> override it, flags given override both",
    )
    parser.add_argument(
        "--port", type=bind_port_arg, action=Setting, help="default: 50051; 0: any free port"
    )
    parser.add_argument(
        "--host",
        type=host_arg,
        action=Setting,
        help="interface to bind: a host name, an IPv4 address or [IPv6] (default: 127.0.0.1; "
        "another address needs authentication, or --insecure)",
    )
    parser.add_argument(
        "--data-dir", action=Setting, help="where the SQLite store lives (orchestrator-data)"
    )
    parser.add_argument(
        "--ray-address",
        type=ray_address_arg,
        action=Setting,
        help="join this Ray cluster ('auto' or HOST:PORT); default: $RAY_ADDRESS, else start "
        "a local Ray",
    )
    _ray_flags(parser)
    parser.add_argument(
        "--sqlite-synchronous", choices=("FULL", "NORMAL"), type=str.upper, action=Setting
    )
    parser.add_argument("--tls-cert", metavar="PEM", action=Setting, help="server certificate")
    parser.add_argument("--tls-key", metavar="PEM", action=Setting, help="its private key")
    parser.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        action=Setting,
        help="mutual TLS: clients must present a certificate this CA signed",
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--auth", action=SettingOn, help="require credentials (default: on unless on loopback)"
    )
    auth.add_argument("--no-auth", action=SettingOn, help="do not require credentials")
    parser.add_argument(
        "--insecure",
        action=SettingOn,
        help="allow serving an address other than loopback without authentication",
    )


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """`serve`, `demo` and `config show`; `common` carries --address/--output/--timeout/
    --verbose."""
    help = "run the control plane until SIGTERM/SIGINT"
    serve = top.add_parser("serve", help=help, description=help, parents=[common])
    _setting_flags(serve)
    serve.set_defaults(runner=handler("controlplane.cli.server.serve:run_serve"))

    help = "run the build-app demo on an in-process control plane"
    demo = top.add_parser("demo", help=help, description=help, parents=[common])
    demo.add_argument("--keep", action="store_true", help="leave the server up afterwards")
    demo.add_argument("--port", type=bind_port_arg, default=0, help="default: any free port")
    demo.add_argument("--host", type=host_arg, default="127.0.0.1")
    demo.add_argument("--data-dir", default=None, help="default: a temporary directory")
    _ray_flags(demo)
    demo.set_defaults(runner=handler("controlplane.cli.server.demo:run_demo"), ray_num_cpus=2)

    config = top.add_parser("config", help="the server configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    help = (
        "print the configuration `serve` would run with, every setting with its value and where "
        "it came from (default, file, env or flag)"
    )
    show = config_commands.add_parser("show", help=help, description=help, parents=[common])
    _setting_flags(show)
    show.set_defaults(runner=handler("controlplane.cli.server.config_show:run_config_show"))

    admin_commands.register(top, common)  # admin check, backup, restore
