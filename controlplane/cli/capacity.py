"""Capacity commands: `pools`, `cluster`, `quota`, `reserve`, `reservations`, `schedulers`
and `plan` (ResourceService and SchedulerService).

The value parsers here are argparse `type=` callables: bad text is an
`argparse.ArgumentTypeError`, which argparse reports naming the flag, with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime

from rich.console import Console

from controlplane.api.client import OrchestratorClient
from controlplane.cli import capacity_render as view
from controlplane.cli.commands import UsageProblem, read_text
from controlplane.cli.parsing import duration_arg, positive_duration, positive_int
from controlplane.cli.render import print_json
from controlplane.workflow.task_resources import parse_memory
from models.capacity import PoolInfo, PoolSpec, Reservation
from models.queueing import Backpressure, NamespacePolicy
from models.resources import CPU, GPU, MEMORY, NodeSelector, PlacementStrategy, ResourceAmounts

EXIT_OK = 0

# -- value parsers ----------------------------------------------------------------------------

_SIZE_HINT = "bytes or a size such as 512Mi, 8Gi or 1G"


def parse_size(text: str) -> int:
    """Bytes from `1073741824`, `512Mi`, `8Gi`, `1.5Gi` (binary) or `1G`, `500M`, `2k` (decimal).

    A trailing `B` is allowed (`8GiB`, `1GB`); units are case-insensitive.
    """
    try:
        return parse_memory(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {_SIZE_HINT}, got {text!r}") from None


def non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def positive_number(text: str) -> float:
    value = non_negative_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {text!r}")
    return value


def parse_strategy(text: str) -> PlacementStrategy:
    """`pack`, `SPREAD`, `strict-pack`, `STRICT_SPREAD` or `PLACEMENT_STRATEGY_PACK`."""
    name = text.strip().upper().replace("-", "_").removeprefix("PLACEMENT_STRATEGY_")
    try:
        return PlacementStrategy(name)
    except ValueError:
        choices = ", ".join(s.value for s in PlacementStrategy)
        raise argparse.ArgumentTypeError(
            f"unknown strategy {text!r} (choose from {choices})"
        ) from None


def parse_backpressure(text: str) -> Backpressure:
    name = text.strip().upper().removeprefix("BACKPRESSURE_")
    try:
        return Backpressure(name)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown backpressure {text!r} (choose from queue, reject)"
        ) from None


def _split_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value.strip()


def parse_label(text: str) -> tuple[str, str]:
    """`key=value` (the value is kept as text; Ray selector syntax such as `!v` or
    `in(a,b)` is passed through)."""
    return _split_pair(text)


def parse_custom_amount(text: str) -> tuple[str, float]:
    """`name=amount` for a custom resource, e.g. `accelerator_x=2`."""
    key, value = _split_pair(text)
    if key in (CPU, MEMORY, GPU):
        raise argparse.ArgumentTypeError(f"use --{key} for {key!r}, not a custom resource")
    try:
        return key, non_negative_number(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc}") from None


def parse_amounts(text: str) -> ResourceAmounts:
    """`cpu=4,memory=8Gi,gpu=1,acc=2` -> ResourceAmounts (other names are custom resources)."""
    cpu = gpu = 0.0
    memory = 0
    custom: dict[str, float] = {}
    seen: set[str] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        key, value = _split_pair(part)
        if key in seen:
            raise argparse.ArgumentTypeError(f"{key!r} is given twice in {text!r}")
        seen.add(key)
        try:
            if key == MEMORY:
                memory = parse_size(value)
            elif key == CPU:
                cpu = non_negative_number(value)
            elif key == GPU:
                gpu = non_negative_number(value)
            else:
                custom[key] = non_negative_number(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{key}: {exc}") from None
    if not seen:
        raise argparse.ArgumentTypeError(
            f"expected RESOURCE=AMOUNT[,...] such as cpu=4,memory=8Gi, got {text!r}"
        )
    return ResourceAmounts(cpu=cpu, memory=memory, gpu=gpu, custom=custom)


@dataclass(frozen=True)
class StartTime:
    """When a reservation starts: an absolute time (epoch seconds) or an offset from now."""

    absolute: float | None = None
    offset_s: float = 0.0

    def resolve(self, now: float) -> float:
        return self.absolute if self.absolute is not None else now + self.offset_s


def parse_start(text: str) -> StartTime:
    """`now`, `+10m` (from now) or an ISO 8601 time (`2030-01-02T15:04:05Z`; local time when
    no offset is given)."""
    spec = text.strip()
    if spec.lower() == "now":
        return StartTime()
    if spec.startswith("+"):
        return StartTime(offset_s=duration_arg(spec[1:]))
    try:
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time (2030-01-02T15:04:05Z), 'now' or '+DURATION' "
            f"(+10m), got {text!r}"
        ) from None
    return StartTime(absolute=moment.timestamp())


# -- shared option groups ---------------------------------------------------------------------


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="print JSON (same as -o json)",
    )


def _resource_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--cpu", type=non_negative_number, metavar="N", help=f"CPUs {what}")
    parser.add_argument(
        "--memory", type=parse_size, metavar="SIZE", help=f"memory {what} (512Mi, 8Gi, 1G, bytes)"
    )
    parser.add_argument("--gpu", type=non_negative_number, metavar="N", help=f"GPUs {what}")
    parser.add_argument(
        "--custom",
        action="append",
        type=parse_custom_amount,
        default=None,
        metavar="NAME=N",
        help=f"custom resource {what}; repeatable",
    )


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


def _pool_flags(parser: argparse.ArgumentParser, update: bool) -> None:
    parser.add_argument("name", help="pool name (lower-case letters, digits, '-')")
    keep = " (replaces the current ones)" if update else ""
    parser.add_argument(
        "--label",
        action="append",
        type=parse_label,
        default=None,
        metavar="KEY=VALUE",
        help=f"select nodes with this label; repeatable{keep}",
    )
    parser.add_argument(
        "--custom-resource",
        action="append",
        default=None,
        metavar="NAME",
        help=f"select nodes offering this custom Ray resource; repeatable{keep}",
    )
    parser.add_argument(
        "--node",
        action="append",
        default=None,
        metavar="NODE_ID",
        help=f"select this node; repeatable{keep}",
    )
    capacity = parser.add_mutually_exclusive_group()
    capacity.add_argument(
        "--share",
        type=parse_amounts,
        default=None,
        metavar="cpu=N,memory=SIZE,gpu=N,NAME=N",
        help="own this share of the selected nodes (default: the nodes whole)",
    )
    if update:
        capacity.add_argument(
            "--whole-nodes", action="store_true", help="own the selected nodes whole"
        )
    parser.add_argument(
        "--strategy",
        type=parse_strategy,
        default=None,
        metavar="PACK|SPREAD|STRICT_PACK|STRICT_SPREAD",
        help="how the pool's bundles are laid over nodes (default: PACK)",
    )
    _json_flag(parser)


def _selector(args: argparse.Namespace, base: NodeSelector) -> NodeSelector:
    return NodeSelector(
        labels=base.labels if args.label is None else dict(args.label),
        custom_resources=(
            base.custom_resources if args.custom_resource is None else tuple(args.custom_resource)
        ),
        node_ids=base.node_ids if args.node is None else tuple(args.node),
    )


# -- handlers ---------------------------------------------------------------------------------


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "output", "table") == "json")


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
    if _json(args):
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
    if _json(args):
        print_json([view.pool_dict(p) for p in pools])
    else:
        console.print(view.pools_table(pools))
    return EXIT_OK


def pools_delete(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.delete_pool(args.name)
    if _json(args):
        print_json({"deleted": args.name})
    else:
        console.print(f"deleted pool {args.name}", markup=False)
    return EXIT_OK


def cluster(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    state = client.cluster_state()
    if _json(args):
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
    if _json(args):
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
    if _json(args):
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
    if _json(args):
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
    if not isinstance(data, dict):
        raise UsageProblem(f"--problem {path} must hold a JSON object (a scheduling problem)")
    return text


def plan(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    if args.adopt and not args.namespace:
        raise UsageProblem("--adopt needs --namespace (it adopts a namespace's live plan)")
    problem = read_problem(args.problem) if args.problem else ""
    result = client.plan(
        problem_json=problem,
        scheduler=args.scheduler or "",
        time_limit_s=args.time_limit,
        seed=args.seed,
        workers=args.workers or 0,
        namespace=args.namespace or "",
        adopt=args.adopt,
    )
    if _json(args):
        print_json(view.plan_dict(result))
    else:
        view.plan_view(console, result)
    return EXIT_OK


# -- registration -----------------------------------------------------------------------------


def register(
    top: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Adds the capacity commands; `common` carries --address/--output/--timeout."""

    def sub(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        help: str,
        handler: object = None,
    ) -> argparse.ArgumentParser:
        parser = group.add_parser(name, help=help, description=help, parents=[common])
        if handler is not None:
            parser.set_defaults(handler=handler)
            _json_flag(parser)
        return parser

    def commands(
        parser: argparse.ArgumentParser,
    ) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    # pools
    pool_cmds = commands(sub(top, "pools", "resource pools over Ray nodes"))
    create = pool_cmds.add_parser(
        "create",
        help="create a pool",
        description="Create a pool: the nodes matching every selector flag, owned whole or "
        "as a --share of their capacity.",
        parents=[common],
    )
    _pool_flags(create, update=False)
    create.set_defaults(handler=pools_create)
    update = pool_cmds.add_parser(
        "update",
        help="change a pool",
        description="Change a pool: every flag given replaces that part of its spec; the "
        "others keep their current values.",
        parents=[common],
    )
    _pool_flags(update, update=True)
    update.set_defaults(handler=pools_update)
    sub(pool_cmds, "get", "show one pool", pools_get).add_argument("name")
    sub(pool_cmds, "list", "list pools", pools_list)
    sub(
        pool_cmds, "delete", "delete a pool (not while reservations hold it)", pools_delete
    ).add_argument("name")

    # cluster
    sub(top, "cluster", "nodes, pool and namespace usage, fragmentation", cluster)

    # quota
    quota_cmds = commands(sub(top, "quota", "namespace quotas and scheduling settings"))
    quota_set_parser = sub(
        quota_cmds,
        "set",
        "change a namespace's settings (flags not given keep their values; 0 = unlimited)",
        quota_set,
    )
    quota_set_parser.add_argument("namespace")
    _resource_flags(quota_set_parser, "at most (0: unlimited)")
    quota_set_parser.add_argument("--max-replicas", type=positive_int, metavar="N")
    quota_set_parser.add_argument(
        "--max-executions", type=positive_int, metavar="N", help="concurrent executions"
    )
    quota_set_parser.add_argument(
        "--weight", type=positive_number, metavar="W", help="fair-share weight (default 1)"
    )
    quota_set_parser.add_argument(
        "--priority", type=int, metavar="P", help="higher runs first (default 0)"
    )
    quota_set_parser.add_argument(
        "--backpressure",
        type=parse_backpressure,
        metavar="queue|reject",
        help="at the limit: queue new executions or reject them",
    )
    quota_set_parser.add_argument(
        "--placement-policy",
        metavar="NAME",
        help="first-fit, best-fit, worst-fit, dot-product or fgd",
    )
    quota_set_parser.add_argument(
        "--batch-scheduler",
        metavar="NAME",
        help="cpsat, ga, ml, auto or a rule ('none': online placement only)",
    )
    quota_set_parser.add_argument(
        "--plan-interval", type=positive_duration, metavar="DURATION", help="e.g. 5s"
    )
    sub(quota_cmds, "get", "show a namespace's settings", quota_get).add_argument("namespace")

    # reservations
    res = sub(top, "reserve", "reserve capacity in a pool for a time window", reserve)
    res.add_argument("--namespace", required=True)
    res.add_argument("--pool", required=True)
    _resource_flags(res, "to reserve")
    res.add_argument(
        "--start",
        type=parse_start,
        default=None,
        metavar="ISO8601|+DURATION",
        help="window start: 2030-01-02T15:04:05Z, now or +10m (default: now)",
    )
    res.add_argument(
        "--duration", type=positive_duration, required=True, metavar="DURATION", help="e.g. 1h"
    )
    res.add_argument("--request-id", default="", help="idempotency key")
    res_cmds = commands(sub(top, "reservations", "inspect and cancel reservations"))
    sub(res_cmds, "get", "show a reservation", reservations_get).add_argument("reservation_id")
    sub(res_cmds, "cancel", "cancel a reservation", reservations_cancel).add_argument(
        "reservation_id"
    )

    # schedulers and plans
    sub(top, "schedulers", "list the schedulers and placement policies", schedulers)
    plan_parser = sub(
        top, "plan", "plan a problem file or a namespace's live work (nothing is run)", plan
    )
    source = plan_parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--problem", metavar="FILE.json", help="scheduling problem in JSON")
    source.add_argument("--namespace", help="plan this namespace's queued work")
    plan_parser.add_argument("--scheduler", default="", help="default: auto (or the namespace's)")
    plan_parser.add_argument(
        "--time-limit", type=positive_duration, default=None, metavar="DURATION", help="e.g. 10s"
    )
    plan_parser.add_argument("--seed", type=int, default=0)
    plan_parser.add_argument("--workers", type=positive_int, default=0, help="solver threads")
    plan_parser.add_argument(
        "--adopt", action="store_true", help="with --namespace: the dispatcher uses it now"
    )
