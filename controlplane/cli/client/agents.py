"""Handlers of `agents` (each returns an exit code)."""

from __future__ import annotations

import argparse

from rich.console import Console

from controlplane.api.client import OrchestratorClient
from controlplane.cli import render
from controlplane.cli.client import replica_health_args
from controlplane.cli.parsing import assignments_to_dict
from models.agents import AgentSpec, ReplicaResources

EXIT_OK = 0


def agents_deploy(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    spec = AgentSpec(
        name=args.name,
        version=args.version,
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
        runtime_env=args.runtime_env or {},
        config=assignments_to_dict(args.config),
        pool=args.pool,
        **replica_health_args.settings(args),
    )
    view = client.deploy_agent(spec)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


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
