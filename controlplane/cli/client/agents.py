"""Handlers of `agents` (each returns an exit code)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from controlplane.api.client import OrchestratorClient
from controlplane.cli import render
from controlplane.cli.client import replica_health_args
from controlplane.cli.client.agent_code import ship_code
from controlplane.cli.parsing import assignments_to_dict
from models.agents import AgentSpec, AgentVersion, EndpointOptions, ReplicaResources

EXIT_OK = 0


def agents_deploy(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    code = ship_code(args, client)
    if not render.wants_json(args):
        for shipped in code.shipped:
            console.print(shipped.describe(), markup=False, soft_wrap=True)
    spec = AgentSpec(
        name=args.name or args.name_option,
        version=args.version or code.default_version,
        import_path=args.import_path,
        replicas=args.replicas,
        resources=ReplicaResources(
            num_cpus=args.num_cpus,
            memory=args.memory,
            num_gpus=args.num_gpus,
            custom=dict(args.resource),
        ),
        max_concurrency=args.max_concurrency,
        capabilities=tuple(args.capability or ()),
        runtime_env=code.runtime_env,
        config=assignments_to_dict(args.config),
        pool=args.pool,
        **replica_health_args.settings(args),
        endpoint=args.endpoint,
        endpoint_options=endpoint_options(args),
    )
    view = client.deploy_agent(spec)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


def endpoint_options(args: argparse.Namespace) -> EndpointOptions:
    defaults = EndpointOptions()
    return EndpointOptions(
        headers=dict(args.header),
        headers_from_env=dict(args.header_from_env),
        connect_timeout_s=args.connect_timeout or defaults.connect_timeout_s,
        read_timeout_s=args.read_timeout or defaults.read_timeout_s,
    )


def agents_list(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    views = client.list_agents()
    if render.wants_json(args):
        render.print_json([render.agent_dict(v) for v in views])
    else:
        console.print(render.agents_table(views))
    return EXIT_OK


def agents_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    view = client.get_agent(args.name)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


def agents_scale(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    view = client.scale_agent(args.name, args.replicas)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


def agents_delete(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.delete_agent(args.name)
    if render.wants_json(args):
        render.print_json({"deleted": args.name})
    else:
        console.print(f"deleted agent {args.name}", markup=False)
    return EXIT_OK


def agents_versions(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    versions = client.list_agent_versions(args.name)
    if render.wants_json(args):
        render.print_json(versions)
    else:
        console.print(versions_table(versions))
    return EXIT_OK


def agents_rollback(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    view = client.rollback_agent(args.name, args.to)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


def _latency(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def versions_table(versions: list[AgentVersion]) -> Table:
    table = Table("VERSION", "STATE", "CREATED", "ATTEMPTS (5 MIN)", "SUCCESS", "P50", "P95")
    for v in versions:
        health = v.health
        rate = health.success_rate if health is not None else None
        table.add_row(
            v.spec.version,
            render.status_text(v.state.value),
            render.when(v.create_time),
            str(health.attempts) if health is not None else "-",
            "-" if rate is None else f"{rate:.1%}",
            _latency(health.p50_latency_s if health else None),
            _latency(health.p95_latency_s if health else None),
        )
    return table
