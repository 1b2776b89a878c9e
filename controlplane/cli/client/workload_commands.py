"""The arguments of `agents`, `workflows`, `run` and `executions`; their handlers (`agents`,
`executions`) are imported when a command runs."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import (
    count_arg,
    non_negative_int,
    non_negative_number,
    positive_duration,
    replicas_arg,
    sequence_arg,
)
from controlplane.cli.client import modification_args, replica_health_args, rollout_args
from controlplane.cli.client.capacity_values import parse_custom_amount, parse_size
from controlplane.cli.lazy import handler
from controlplane.cli.parsing import (
    parse_assignment,
    parse_env_var,
    parse_json_object,
    parse_json_value,
    parse_status,
    parse_text_pair,
)
from models.packages import DEFAULT_MAX_PACKAGE_BYTES

AGENTS = "controlplane.cli.client.agents"
EXECUTIONS = "controlplane.cli.client.executions"


def register(top: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Adds the commands; `common` carries --address/--output/--timeout/--verbose."""

    def sub(
        group: argparse._SubParsersAction[Any], name: str, help: str
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, help=help, description=help, parents=[common]
        )
        return parser

    # agents
    agents = sub(top, "agents", "deploy and manage agents")
    agent_cmds = agents.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    deploy = sub(agent_cmds, "deploy", "deploy an agent (or a new version of it)")
    named = deploy.add_mutually_exclusive_group(required=True)
    named.add_argument("name", nargs="?", metavar="NAME", help="the agent's name")
    named.add_argument("--name", dest="name_option", metavar="NAME", help="same as NAME")
    deploy.add_argument(
        "--version",
        default=None,
        help="default: code-<digest> of the code shipped with --working-dir/--py-module, else v1",
    )
    code = deploy.add_mutually_exclusive_group(required=True)
    code.add_argument("--import-path", default="", help="package.module:ClassName")
    code.add_argument(
        "--endpoint",
        default="",
        help="an external agent: http(s)://host:port/base or grpc://host:port",
    )
    _code_options(deploy)
    deploy.add_argument(
        "--header",
        action="append",
        type=parse_text_pair,
        default=[],
        metavar="NAME=VALUE",
        help="sent to the endpoint with every call (stored and shown: no secrets; repeatable)",
    )
    deploy.add_argument(
        "--header-from-env",
        action="append",
        type=parse_text_pair,
        default=[],
        metavar="NAME=VARIABLE",
        help="a header whose value the replica reads from its environment (repeatable)",
    )
    deploy.add_argument("--connect-timeout", type=positive_duration, default=None)
    deploy.add_argument("--read-timeout", type=positive_duration, default=None)
    deploy.add_argument("--replicas", type=replicas_arg, default=1)
    deploy.add_argument("--num-cpus", type=non_negative_number, default=0.0)
    deploy.add_argument("--max-concurrency", type=count_arg, default=1)
    deploy.add_argument(
        "--pool", default="", help="resource pool the replicas run in (default: anywhere)"
    )
    deploy.add_argument("--memory", type=parse_size, default=0, help="per replica, e.g. 2Gi")
    deploy.add_argument("--num-gpus", type=non_negative_number, default=0.0)
    deploy.add_argument(
        "--resource",
        action="append",
        type=parse_custom_amount,
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
    deploy.add_argument(
        "--runtime-env",
        type=parse_json_object,
        default=None,
        metavar="JSON",
        help="Ray runtime_env; the flags below add to it",
    )
    replica_health_args.add_arguments(deploy)
    rollout_args.add_arguments(deploy)
    deploy.set_defaults(handler=handler(f"{AGENTS}:agents_deploy"))
    sub(agent_cmds, "list", "list agents").set_defaults(handler=handler(f"{AGENTS}:agents_list"))
    get = sub(agent_cmds, "get", "show one agent and its replicas")
    get.add_argument("name")
    get.set_defaults(handler=handler(f"{AGENTS}:agents_get"))
    scale = sub(agent_cmds, "scale", "set an agent's replica count")
    scale.add_argument("name")
    scale.add_argument("replicas", type=replicas_arg)
    scale.set_defaults(handler=handler(f"{AGENTS}:agents_scale"))
    delete = sub(agent_cmds, "delete", "drain and remove an agent")
    delete.add_argument("name")
    delete.set_defaults(handler=handler(f"{AGENTS}:agents_delete"))
    versions = sub(agent_cmds, "versions", "an agent's versions with their state and health")
    versions.add_argument("name")
    versions.set_defaults(handler=handler(f"{AGENTS}:agents_versions"))
    rollback = sub(agent_cmds, "rollback", "deploy an earlier version of an agent again")
    rollback.add_argument("name")
    rollback.add_argument(
        "--to", default="", metavar="VERSION", help="default: the version that served before"
    )
    rollback.set_defaults(handler=handler(f"{AGENTS}:agents_rollback"))
    rollout = sub(agent_cmds, "rollout", "an agent's rollout in progress, or its latest one")
    rollout.add_argument("name")
    rollout.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="follow it until it ends; exit 1 unless it succeeded",
    )
    rollout.set_defaults(handler=handler(f"{AGENTS}:agents_rollout"))
    events = sub(
        agent_cmds,
        "events",
        "an agent's events: replica health and circuit-breaker changes, replicas started and "
        "stopped, rollout steps and ends",
    )
    events.add_argument("name")
    events.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="print them oldest first, then each new event as it is stored (until interrupted)",
    )
    events.add_argument(
        "--limit", type=count_arg, default=50, help="the newest events shown (default 50)"
    )
    events.set_defaults(handler=handler(f"{AGENTS}:agents_events"))

    # workflows
    workflows = sub(top, "workflows", "store and inspect workflow definitions")
    wf_cmds = workflows.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    create = sub(wf_cmds, "create", "store a definition (a new revision if it changed)")
    create.add_argument("file", help="YAML or JSON file ('-': stdin)")
    create.set_defaults(handler=handler(f"{EXECUTIONS}:workflows_create"))
    validate = sub(wf_cmds, "validate", "report every problem in a definition (exit 2 if any)")
    validate.add_argument("file", help="YAML or JSON file ('-': stdin)")
    validate.set_defaults(handler=handler(f"{EXECUTIONS}:workflows_validate"))
    sub(wf_cmds, "list", "list workflows").set_defaults(
        handler=handler(f"{EXECUTIONS}:workflows_list")
    )
    wf_get = sub(wf_cmds, "get", "show a workflow revision")
    wf_get.add_argument("name")
    wf_get.add_argument("--revision", type=non_negative_int, default=0, help="default: latest")
    wf_get.set_defaults(handler=handler(f"{EXECUTIONS}:workflows_get"))

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
    run.add_argument("--request-id", default="", help="idempotency key (per namespace)")
    run.set_defaults(handler=handler(f"{EXECUTIONS}:run"))

    # executions
    executions = sub(top, "executions", "inspect and control executions")
    ex_cmds = executions.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    ex_list = sub(ex_cmds, "list", "list executions, newest first")
    ex_list.add_argument("--workflow", default="")
    ex_list.add_argument(
        "--status", action="append", type=parse_status, default=[], help="repeatable"
    )
    ex_list.add_argument(
        "--view",
        choices=("basic", "full"),
        default="basic",
        help="full: with inputs and outputs (default: basic, without)",
    )
    ex_list.set_defaults(handler=handler(f"{EXECUTIONS}:executions_list"))
    ex_get = sub(ex_cmds, "get", "show one execution with its tasks")
    ex_get.add_argument("execution_id")
    ex_get.set_defaults(handler=handler(f"{EXECUTIONS}:executions_get"))
    value = sub(ex_cmds, "value", "print one value of an execution whole, as JSON")
    value.add_argument("execution_id")
    which = value.add_mutually_exclusive_group()
    which.add_argument("--task", default="", help="this task's output")
    which.add_argument("--inputs", action="store_true", help="the inputs")
    value.set_defaults(handler=handler(f"{EXECUTIONS}:executions_value"))
    cancel = sub(ex_cmds, "cancel", "cancel an execution")
    cancel.add_argument("execution_id")
    cancel.add_argument("--reason", default="")
    cancel.set_defaults(handler=handler(f"{EXECUTIONS}:executions_cancel"))
    signal = sub(ex_cmds, "signal", "send a signal to the tasks of an execution waiting for it")
    signal.add_argument("execution_id")
    signal.add_argument("name", help="the signal's name, as a task's wait_for_signal names it")
    payload = signal.add_mutually_exclusive_group()
    payload.add_argument(
        "--payload",
        type=parse_json_value,
        default=None,
        metavar="JSON",
        help="any JSON value, the waiting task's output (default: null)",
    )
    payload.add_argument(
        "--payload-file", default="", metavar="FILE", help="the payload as a JSON file ('-': stdin)"
    )
    signal.add_argument(
        "--request-id",
        default="",
        help="idempotency key: a signal is stored once per key (default: a new one)",
    )
    signal.set_defaults(handler=handler(f"{EXECUTIONS}:executions_signal"))
    pause = sub(ex_cmds, "pause", "start no new attempt of an execution (running ones finish)")
    pause.add_argument("execution_id")
    pause.add_argument("--reason", default="")
    pause.set_defaults(handler=handler(f"{EXECUTIONS}:executions_pause"))
    resume = sub(ex_cmds, "resume", "let a paused execution start attempts again")
    resume.add_argument("execution_id")
    resume.add_argument("--reason", default="")
    resume.set_defaults(handler=handler(f"{EXECUTIONS}:executions_resume"))
    retry = sub(
        ex_cmds,
        "retry",
        "run a failed, cancelled or timed-out execution again from its unfinished tasks",
    )
    retry.add_argument("execution_id")
    retry.add_argument("--wait", "-w", action="store_true", help="follow until it ends")
    retry.add_argument(
        "--request-id",
        default="",
        help="idempotency key: the same key as the last retry does not retry again",
    )
    retry.set_defaults(handler=handler(f"{EXECUTIONS}:executions_retry"))
    modify = sub(
        ex_cmds,
        "modify",
        "change tasks of a running execution that have not started, as one change",
    )
    modify.add_argument("execution_id")
    modification_args.add_arguments(modify)
    modify.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help="why: recorded with the change, and the reason of every task it skips",
    )
    modify.add_argument(
        "--request-id",
        default="",
        help="idempotency key: a change is applied once per key (default: a new one)",
    )
    modify.set_defaults(handler=handler(f"{EXECUTIONS}:executions_modify"))
    watch = sub(ex_cmds, "watch", "follow an execution's events until it ends")
    watch.add_argument("execution_id")
    watch.add_argument("--from-sequence", type=sequence_arg, default=0)
    watch.set_defaults(handler=handler(f"{EXECUTIONS}:executions_watch"))


def _code_options(deploy: argparse.ArgumentParser) -> None:
    """The agent's code and environment: directories packaged here and uploaded, pip
    packages and environment variables (runtime_env fields)."""
    deploy.add_argument(
        "--working-dir",
        metavar="DIR",
        help="directory of the agent's code, packaged and uploaded; the replicas run in it",
    )
    deploy.add_argument(
        "--py-module",
        action="append",
        default=[],
        metavar="DIR",
        help="a Python package directory to ship too, imported by its name (repeatable)",
    )
    deploy.add_argument(
        "--pip",
        action="append",
        default=[],
        metavar="PKG",
        help="pip requirement installed for the replicas (repeatable)",
    )
    deploy.add_argument(
        "--env",
        action="append",
        type=parse_env_var,
        default=[],
        metavar="KEY=VALUE",
        help="environment variable of the replicas (repeatable)",
    )
    deploy.add_argument(
        "--max-package-size",
        type=parse_size,
        default=DEFAULT_MAX_PACKAGE_BYTES,
        metavar="SIZE",
        help="refuse a directory that packs to more (default: 100Mi)",
    )
