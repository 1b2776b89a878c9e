"""`orchestrator serve` and `orchestrator demo`'s arguments; the runners (`serve`, `demo`) are
imported when a command runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from controlplane.cli.arg_types import bind_port_arg, host_arg, non_negative_int, ray_address_arg
from controlplane.cli.lazy import handler

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


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """`serve` and `demo`; `common` carries --address/--output/--timeout/--verbose."""
    help = "run the control plane until SIGTERM/SIGINT"
    serve = top.add_parser("serve", help=help, description=help, parents=[common])
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="TOML settings file with tables [ray], [store], [grpc], [loops], [queueing] and "
        "[forecasting] (the fields of controlplane.config); flags given override it",
    )
    serve.add_argument(
        "--port", type=bind_port_arg, default=50051, action=Setting, help="0: any free port"
    )
    serve.add_argument(
        "--host",
        type=host_arg,
        default="[::]",
        action=Setting,
        help="interface to bind: a host name, an IPv4 address or [IPv6] (default: all)",
    )
    serve.add_argument(
        "--data-dir",
        default="orchestrator-data",
        action=Setting,
        help="where the SQLite store lives",
    )
    serve.add_argument(
        "--ray-address",
        type=ray_address_arg,
        default=None,
        action=Setting,
        help="join this Ray cluster ('auto' or HOST:PORT); default: start a local Ray",
    )
    _ray_flags(serve)
    serve.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        type=str.upper,
        default="FULL",
        action=Setting,
    )
    serve.set_defaults(runner=handler("controlplane.cli.server.serve:run_serve"))

    help = "run the build-app demo on an in-process control plane"
    demo = top.add_parser("demo", help=help, description=help, parents=[common])
    demo.add_argument("--keep", action="store_true", help="leave the server up afterwards")
    demo.add_argument("--port", type=bind_port_arg, default=0, help="default: any free port")
    demo.add_argument("--host", type=host_arg, default="127.0.0.1")
    demo.add_argument("--data-dir", default=None, help="default: a temporary directory")
    _ray_flags(demo)
    demo.set_defaults(runner=handler("controlplane.cli.server.demo:run_demo"), ray_num_cpus=2)

    help = "check the store of a data directory (SQLite integrity_check)"
    admin = top.add_parser("admin", help="operate on a data directory without a server")
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    check = admin_commands.add_parser("check", help=help, description=help, parents=[common])
    check.add_argument("--data-dir", default="orchestrator-data", help="the data directory")
    check.set_defaults(runner=handler("controlplane.cli.server.admin:run_check"))
