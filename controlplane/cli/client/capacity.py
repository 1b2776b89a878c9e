"""Handlers of the capacity commands: `pools`, `cluster`, `quota`, `reserve`,
`reservations`, `schedulers` and `plan` (ResourceService and SchedulerService)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from rich.console import Console

from controlplane.api.client import OrchestratorClient
from controlplane.cli.client import capacity_render as view
from controlplane.cli.render import print_json, wants_json
from controlplane.cli.usage import UsageProblem, read_text
from models.capacity import PoolInfo, PoolSpec, Reservation
from models.queueing import NamespacePolicy
from models.resources import NodeSelector, ResourceAmounts

EXIT_OK = 0


def _given_amounts(args: argparse.Namespace, base: ResourceAmounts | None) -> ResourceAmounts:
    """`base` with the components given on the command line replaced."""
    base = base or ResourceAmounts()
    custom = dict(base.custom)
    custom.update(dict(args.custom or ()))
    return ResourceAmounts(
        cpu=base.cpu if args.cpu is None else args.cpu,
        memory=base.memory if args.memory is None else args.memory,
        gpu=base.gpu if args.gpu is None else args.gpu,
        custom={k: v for k, v in custom.items() if v},
    )


def _any_resource_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) is not None for name in ("cpu", "memory", "gpu", "custom"))


def _selector(args: argparse.Namespace, base: NodeSelector) -> NodeSelector:
    return NodeSelector(
        labels=base.labels if args.label is None else dict(args.label),
        custom_resources=(
            base.custom_resources if args.custom_resource is None else tuple(args.custom_resource)
        ),
        node_ids=base.node_ids if args.node is None else tuple(args.node),
    )


def pool_spec_from_args(args: argparse.Namespace, current: PoolSpec | None = None) -> PoolSpec:
    """The spec `pools create` sends, or (with `current`) the one `pools update` sends: the
    current spec with every part given on the command line replaced."""
    base = current or PoolSpec(name=args.name)
    share = base.share
    if args.share is not None:
        share = args.share
    elif getattr(args, "whole_nodes", False):
        share = None
    return PoolSpec(
        name=args.name,
        selector=_selector(args, base.selector),
        share=share,
        strategy=args.strategy or base.strategy,
    )


def _show_pool(args: argparse.Namespace, console: Console, pool: PoolInfo) -> int:
    if wants_json(args):
        print_json(view.pool_dict(pool))
    else:
        view.pool_detail(console, pool)
    return EXIT_OK


def pools_create(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    return _show_pool(args, console, client.create_pool(pool_spec_from_args(args)))


def pools_update(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    current = client.get_pool(args.name).spec
    return _show_pool(args, console, client.update_pool(pool_spec_from_args(args, current)))


def pools_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    return _show_pool(args, console, client.get_pool(args.name))


def pools_list(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    pools = client.list_pools()
    if wants_json(args):
        print_json([view.pool_dict(p) for p in pools])
    else:
        console.print(view.pools_table(pools))
    return EXIT_OK


def pools_delete(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.delete_pool(args.name)
    if wants_json(args):
        print_json({"deleted": args.name})
    else:
        console.print(f"deleted pool {args.name}", markup=False)
    return EXIT_OK


def cluster(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    state = client.cluster_state()
    if wants_json(args):
        print_json(view.cluster_dict(state))
    else:
        view.cluster_view(console, state)
    return EXIT_OK


def quota_from_args(args: argparse.Namespace, current: NamespacePolicy) -> NamespacePolicy:
    """`current` with every setting given on the command line replaced (0 = unlimited)."""
    quota = current.quota
    if _any_resource_given(args):
        amounts = _given_amounts(args, quota.max_resources)
        quota = replace(quota, max_resources=None if amounts.is_zero() else amounts)
    if args.max_replicas is not None:
        quota = replace(quota, max_replicas=args.max_replicas or None)
    if args.max_executions is not None:
        quota = replace(quota, max_concurrent_executions=args.max_executions or None)
    changes: dict[str, object] = {"quota": quota}
    for arg, attr in (
        ("weight", "weight"),
        ("priority", "priority"),
        ("backpressure", "backpressure"),
        ("placement_policy", "placement_policy"),
        ("plan_interval", "plan_interval_s"),
    ):
        value = getattr(args, arg)
        if value is not None:
            changes[attr] = value
    if args.batch_scheduler is not None:
        name = args.batch_scheduler.strip()
        changes["batch_scheduler"] = "" if name.lower() in ("", "none") else name
    return replace(current, **changes)  # type: ignore[arg-type]


def _show_quota(args: argparse.Namespace, console: Console, policy: NamespacePolicy) -> int:
    if wants_json(args):
        print_json(view.quota_dict(policy))
    else:
        view.quota_detail(console, policy)
    return EXIT_OK


def quota_set(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    current = client.get_quota(args.namespace)
    return _show_quota(args, console, client.set_quota(quota_from_args(args, current)))


def quota_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    return _show_quota(args, console, client.get_quota(args.namespace))


def _show_reservation(args: argparse.Namespace, console: Console, info: Reservation) -> int:
    if wants_json(args):
        print_json(view.reservation_dict(info))
    else:
        view.reservation_detail(console, info)
    return EXIT_OK


def reserve(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    resources = _given_amounts(args, None)
    if resources.is_zero():
        raise UsageProblem("reserve: give at least one of --cpu, --memory, --gpu or --custom")
    start = args.start.resolve(time.time()) if args.start is not None else None
    info = client.reserve(
        namespace=args.namespace,
        pool=args.pool,
        resources=resources,
        duration_s=args.duration,
        start_time=start,
        request_id=args.request_id or "",
    )
    return _show_reservation(args, console, info)


def reservations_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    return _show_reservation(args, console, client.get_reservation(args.reservation_id))


def reservations_cancel(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    return _show_reservation(args, console, client.cancel_reservation(args.reservation_id))


def schedulers(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    found = client.list_schedulers()
    if wants_json(args):
        print_json(found)
    else:
        console.print(view.schedulers_table(found))
    return EXIT_OK


def read_problem(path: str) -> str:
    """The problem file's text, checked to be a JSON object (a usage problem otherwise)."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"--problem {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageProblem(f"--problem {path} is nested too deeply to be a problem") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"--problem {path} must hold a JSON object (a scheduling problem)")
    return text


def plan(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    if args.adopt and args.problem:
        raise UsageProblem("--adopt is not for --problem (it adopts a namespace's live plan)")
    problem = read_problem(args.problem) if args.problem else ""
    result = client.plan(
        problem_json=problem,
        scheduler=args.scheduler or "",
        time_limit_s=args.time_limit,
        seed=args.seed,
        workers=args.workers or 0,
        namespace="" if args.problem else args.namespace,
        adopt=args.adopt,
    )
    if wants_json(args):
        print_json(view.plan_dict(result))
    else:
        view.plan_view(console, result)
    return EXIT_OK
