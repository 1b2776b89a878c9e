"""Entry point of the `orchestrator` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli import bench, capacity, commands, forecast, ml, scaling, scaling_admin
from controlplane.cli.parsing import (
    error_line,
    parse_assignment,
    parse_json_object,
    parse_status,
    positive_int,
)
from controlplane.cli.render import make_console

DEFAULT_ADDRESS = "localhost:50051"
ADDRESS_ENV = "ORCHESTRATOR_ADDRESS"

EXIT_USAGE = 2
EXIT_FAILED = 1


def _client_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--address/--output/--timeout, accepted before or after the subcommand.

    On subcommands the defaults are SUPPRESS so they only override what was given globally.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--address",
        default=default(os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS),
        help=f"control plane address (default: ${ADDRESS_ENV} or {DEFAULT_ADDRESS})",
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
        type=float,
        default=default(30.0),
        help="seconds allowed for each call (not for watching)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False), help="debug logging"
    )


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray-num-cpus", type=positive_int, help="CPUs for a local Ray (default: all)"
    )
    parser.add_argument(
        "--no-dashboard", action="store_true", help="do not start the Ray dashboard"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Agent orchestration platform: gRPC control plane on Ray.",
    )
    _client_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _client_options(common, suppress=True)

    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def sub(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help, description=help, parents=[common])

    # serve
    serve = sub(top, "serve", "run the control plane until SIGTERM/SIGINT")
    serve.add_argument("--port", type=positive_int, default=50051)
    serve.add_argument("--host", default="[::]", help="interface to bind (default: all)")
    serve.add_argument(
        "--data-dir", default="orchestrator-data", help="where the SQLite store lives"
    )
    serve.add_argument(
        "--ray-address",
        default=None,
        help="join this Ray cluster ('auto' or HOST:PORT); default: start a local Ray",
    )
    _server_options(serve)
    serve.add_argument(
        "--sqlite-synchronous", choices=("FULL", "NORMAL"), type=str.upper, default="FULL"
    )
    serve.set_defaults(runner="serve")

    # demo
    demo = sub(top, "demo", "run the build-app demo on an in-process control plane")
    demo.add_argument("--keep", action="store_true", help="leave the server up afterwards")
    demo.add_argument("--port", type=positive_int, default=0, help="default: any free port")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--data-dir", default=None, help="default: a temporary directory")
    _server_options(demo)
    demo.set_defaults(runner="demo", ray_num_cpus=2)

    # agents
    agents = sub(top, "agents", "deploy and manage agents")
    agent_cmds = agents.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    deploy = sub(agent_cmds, "deploy", "deploy an agent (or a new version of it)")
    deploy.add_argument("--name", required=True)
    deploy.add_argument("--version", required=True)
    deploy.add_argument("--import-path", required=True, help="package.module:ClassName")
    deploy.add_argument("--replicas", type=positive_int, default=1)
    deploy.add_argument("--num-cpus", type=float, default=0.0)
    deploy.add_argument("--max-concurrency", type=positive_int, default=1)
    deploy.add_argument(
        "--pool", default="", help="resource pool the replicas run in (default: anywhere)"
    )
    deploy.add_argument(
        "--memory", type=capacity.parse_size, default=0, help="per replica, e.g. 2Gi"
    )
    deploy.add_argument("--num-gpus", type=float, default=0.0)
    deploy.add_argument(
        "--resource",
        action="append",
        type=capacity.parse_custom_amount,
        default=[],
        metavar="NAME=AMOUNT",
        help="custom Ray resource per replica (repeatable)",
    )
    deploy.add_argument("--capability", action="append", default=[])
    deploy.add_argument(
        "--config",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="constructor keyword argument (value parsed as JSON when it parses)",
    )
    deploy.add_argument("--runtime-env", type=parse_json_object, default=None, metavar="JSON")
    deploy.set_defaults(handler=commands.agents_deploy)
    sub(agent_cmds, "list", "list agents").set_defaults(handler=commands.agents_list)
    get = sub(agent_cmds, "get", "show one agent and its replicas")
    get.add_argument("name")
    get.set_defaults(handler=commands.agents_get)
    scale = sub(agent_cmds, "scale", "set an agent's replica count")
    scale.add_argument("name")
    scale.add_argument("replicas", type=positive_int)
    scale.set_defaults(handler=commands.agents_scale)
    delete = sub(agent_cmds, "delete", "drain and remove an agent")
    delete.add_argument("name")
    delete.set_defaults(handler=commands.agents_delete)

    # workflows
    workflows = sub(top, "workflows", "store and inspect workflow definitions")
    wf_cmds = workflows.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    create = sub(wf_cmds, "create", "store a definition (a new revision if it changed)")
    create.add_argument("file", help="YAML or JSON file ('-': stdin)")
    create.set_defaults(handler=commands.workflows_create)
    validate = sub(wf_cmds, "validate", "report every problem in a definition (exit 2 if any)")
    validate.add_argument("file", help="YAML or JSON file ('-': stdin)")
    validate.set_defaults(handler=commands.workflows_validate)
    sub(wf_cmds, "list", "list workflows").set_defaults(handler=commands.workflows_list)
    wf_get = sub(wf_cmds, "get", "show a workflow revision")
    wf_get.add_argument("name")
    wf_get.add_argument("--revision", type=positive_int, default=0, help="default: latest")
    wf_get.set_defaults(handler=commands.workflows_get)

    # run
    run = sub(top, "run", "create a workflow from FILE and start an execution")
    run.add_argument("file", help="YAML or JSON file ('-': stdin)")
    run.add_argument(
        "--input",
        "-i",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="KEY=VALUE",
        help="workflow input (value parsed as JSON when it parses); repeatable",
    )
    run.add_argument("--wait", "-w", action="store_true", help="follow until it ends")
    run.add_argument("--request-id", default="", help="idempotency key")
    run.add_argument(
        "--namespace", default="", help="tenancy namespace for quotas (default: default)"
    )
    run.set_defaults(handler=commands.run)

    # executions
    executions = sub(top, "executions", "inspect and control executions")
    ex_cmds = executions.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    ex_list = sub(ex_cmds, "list", "list executions, newest first")
    ex_list.add_argument("--workflow", default="")
    ex_list.add_argument(
        "--status", action="append", type=parse_status, default=[], help="repeatable"
    )
    ex_list.set_defaults(handler=commands.executions_list)
    ex_get = sub(ex_cmds, "get", "show one execution with its tasks")
    ex_get.add_argument("execution_id")
    ex_get.set_defaults(handler=commands.executions_get)
    cancel = sub(ex_cmds, "cancel", "cancel an execution")
    cancel.add_argument("execution_id")
    cancel.add_argument("--reason", default="")
    cancel.set_defaults(handler=commands.executions_cancel)
    watch = sub(ex_cmds, "watch", "follow an execution's events until it ends")
    watch.add_argument("execution_id")
    watch.add_argument("--from-sequence", type=positive_int, default=0)
    watch.set_defaults(handler=commands.executions_watch)

    # pools, cluster, quota, reserve, reservations, schedulers, plan
    capacity.register(top, common)

    # bench (runs in this process; no control plane needed)
    bench.register(top)
    ml.register(top)  # model training (local, no control plane)
    forecast.register(top)  # load forecasting from CSV files (local)
    scaling.register(top)  # autoscaling simulator (local, no control plane)
    # ScalingService commands (scaling policy/status/events, forecast show, load): they join
    # the `scaling` and `forecast` groups made above, so this must stay after those registers.
    scaling_admin.register(top, common)
    return parser


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    return EXIT_USAGE


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return code


def _run_server_command(runner: str, args: argparse.Namespace) -> int:
    from controlplane.cli.demo import run_demo
    from controlplane.cli.serve import run_serve

    try:
        return run_demo(args) if runner == "demo" else run_serve(args)
    except (KeyboardInterrupt, OSError):
        raise
    except Exception as exc:
        if args.verbose:
            logging.getLogger(__name__).exception("%s failed", runner)
        return _fail(f"error: {runner} failed: {type(exc).__name__}: {exc}", EXIT_FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return _exit_code(exc)
    try:
        local_handler = getattr(args, "local_handler", None)
        if local_handler is not None:
            local_code: int = local_handler(args)
            return local_code
        runner = getattr(args, "runner", None)
        if runner is not None:
            return _run_server_command(runner, args)
        with OrchestratorClient(args.address, timeout_s=args.timeout) as client:
            code: int = args.handler(args, client, make_console())
            return code
    except ClientError as exc:
        return _fail(error_line(exc.code_name, exc.message, exc.violations))
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except commands.UsageProblem as exc:
        return _fail(f"error: {exc}")
    except OSError as exc:
        return _fail(f"error: {exc}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
