"""Handlers of `agents` (each returns an exit code)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from controlplane.api.client import OrchestratorClient
from controlplane.cli import agent_event_render, render
from controlplane.cli.client import replica_health_args, rollout_args
from controlplane.cli.client.agent_code import ship_code
from controlplane.cli.client.rollout_follow import follow_rollout, outcome
from controlplane.cli.parsing import assignments_to_dict
from controlplane.cli.rollout_render import rollout_view
from models.agent_events import AgentEvent
from models.agents import AgentSpec, AgentVersion, EndpointOptions, ReplicaResources, RolloutRecord

EXIT_OK = 0


def agents_deploy(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    strategy = rollout_args.strategy(args)  # before anything is uploaded
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
    view = client.deploy_agent(spec, strategy)
    # A deploy that changed nothing starts no rollout; the one it shows may be an earlier
    # deploy's, to another version (e.g. one rolled back), which is not this deploy's outcome.
    if args.wait and view.rollout is not None and view.rollout.new.version == spec.version:
        return _follow(args, client, console, view.rollout)
    if render.wants_json(args):
        render.print_json(render.agent_dict(view))
    else:
        render.agent_detail(console, view)
    return EXIT_OK


def _follow(
    args: argparse.Namespace, client: OrchestratorClient, console: Console, rollout: RolloutRecord
) -> int:
    """Follows `rollout` live (on stderr when JSON is wanted on stdout), then says how it ended;
    JSON: the agent as it is then."""
    json_out = render.wants_json(args)
    live = render.make_console(stderr=True) if json_out else console
    followed = follow_rollout(client, rollout, live)
    code, line = outcome(followed)
    (live if code == EXIT_OK else render.make_console(stderr=True)).print(line, soft_wrap=True)
    if json_out:
        render.print_json(render.agent_dict(client.get_agent(rollout.agent)))
    return code


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


def agents_rollout(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    """The agent's rollout in progress or its latest one; --watch follows it to its end."""
    rollout = client.get_agent(args.name).rollout
    if rollout is None:
        if render.wants_json(args):
            render.print_json(None)
        else:
            console.print(f"agent {args.name} has no rollout", markup=False)
        return EXIT_OK
    if args.watch:
        return _follow(args, client, console, rollout)
    if render.wants_json(args):
        render.print_json(rollout)
    else:
        console.print(rollout_view(rollout))
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


def agents_events(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    """The agent's newest events (a table, newest first); --follow: one line each, oldest
    first, then every new one as it is stored (JSON: one object per line)."""
    newest = client.list_agent_events(args.name, limit=args.limit)
    if not args.follow:
        if render.wants_json(args):
            render.print_json(newest)
        elif not newest:
            console.print(f"no events of agent {args.name}", markup=False)
        else:
            title = f"events of agent {args.name} (newest first)"
            console.print(agent_event_render.events_table(newest, title))
        return EXIT_OK

    def show(event: AgentEvent) -> None:
        if render.wants_json(args):
            render.print_json_line(event)
        else:
            console.print(agent_event_render.event_line(event), soft_wrap=True)

    for event in reversed(newest):
        show(event)
    # From the newest shown on: whatever was stored meanwhile is replayed first.
    cursor = newest[0].sequence if newest else 0
    for event in client.watch_agent_events(args.name, cursor):
        show(event)
        cursor = event.sequence
    render.make_console(stderr=True).print(
        f"the control plane ended the stream (it is stopping); the last event was #{cursor}",
        markup=False,
        soft_wrap=True,
    )
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
