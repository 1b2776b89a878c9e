"""Tables, detail views and JSON for the capacity commands: pools, cluster, quotas,
reservations, schedulers and plans (pure: data in, rich renderables or plain dicts out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from controlplane.cli.quantities import number, seconds_text
from controlplane.cli.render import compact, status_text, to_jsonable, when
from models.capacity import ClusterUsage, PoolInfo, Reservation
from models.queueing import NamespacePolicy
from models.resources import CPU, GPU, MEMORY, ResourceAmounts
from models.scheduling import PlanResult, SchedulerInfo, SolveStatus

_BINARY_UNITS = (
    ("Pi", 1 << 50),
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
)


# -- values -----------------------------------------------------------------------------------


def size(value: float) -> str:
    """Bytes in binary units: `8Gi`, `1.5Gi`, `512Mi`, `100` (plain bytes below 1 KiB)."""
    for unit, factor in _BINARY_UNITS:
        if abs(value) >= factor:
            return f"{value / factor:.1f}".removesuffix(".0") + unit
    return number(value)


def amount_text(resource: str, value: float) -> str:
    return size(value) if resource == MEMORY else number(value)


def amounts_text(amounts: ResourceAmounts | None, unlimited: str = "-") -> str:
    """`cpu=4 memory=8Gi gpu=1 acc=2` (the same syntax `--share` takes); only non-zero parts."""
    if amounts is None or amounts.is_zero():
        return unlimited
    return " ".join(f"{name}={amount_text(name, amounts.get(name))}" for name in amounts.names())


def usage_text(allocated: ResourceAmounts, capacity: ResourceAmounts) -> str:
    """`cpu 1/4 memory 2Gi/8Gi` over the resources the capacity has."""
    parts = []
    for name in capacity.names():
        used, total = amount_text(name, allocated.get(name)), amount_text(name, capacity.get(name))
        parts.append(f"{name} {used}/{total}")
    return " ".join(parts) or "-"


def utilisation(allocated: ResourceAmounts, capacity: ResourceAmounts) -> float:
    """The dominant share: the largest allocated/capacity over the capacity's resources."""
    shares = [allocated.get(n) / capacity.get(n) for n in capacity.names() if capacity.get(n) > 0]
    return max(shares, default=0.0)


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


# Labels every Ray node carries that repeat what a column already shows.
_REDUNDANT_LABELS = frozenset({"ray.io/node-id"})


def labels_text(labels: Mapping[str, str]) -> str:
    shown = sorted((k, v) for k, v in labels.items() if k not in _REDUNDANT_LABELS)
    return ", ".join(f"{k}={v}" for k, v in shown) or "-"


def amounts_dict(amounts: ResourceAmounts | None) -> dict[str, Any] | None:
    if amounts is None:
        return None
    return {
        CPU: amounts.cpu,
        MEMORY: amounts.memory,
        GPU: amounts.gpu,
        "custom": dict(amounts.custom),
    }


# -- pools ------------------------------------------------------------------------------------


def pool_dict(pool: PoolInfo) -> dict[str, Any]:
    spec = pool.spec
    return {
        "name": spec.name,
        "selector": {
            "labels": dict(spec.selector.labels),
            "custom_resources": list(spec.selector.custom_resources),
            "node_ids": list(spec.selector.node_ids),
        },
        "whole_nodes": spec.share is None,
        "share": amounts_dict(spec.share),
        "strategy": spec.strategy.value,
        "node_ids": list(pool.node_ids),
        "capacity": amounts_dict(pool.capacity),
        "allocated": amounts_dict(pool.allocated),
        "realization": pool.state.value,
        "placement_group_id": pool.placement_group_id,
        "message": pool.message,
        "repair": _repair_dict(pool),
        "create_time": pool.record.create_time,
        "update_time": pool.record.update_time,
    }


def _repair_dict(pool: PoolInfo) -> dict[str, Any] | None:
    repair = pool.repair
    if repair is None:
        return None
    return {
        "phase": repair.phase.value,
        "losses": repair.losses,
        "lost_time": repair.lost_time,
        "failed_tries": repair.attempts,
        "next_try_time": repair.retry_time or None,
        "message": repair.message,
    }


def repair_text(pool: PoolInfo) -> str:
    """`HEALED (lost 2 times, last 2026-01-02 03:04:05; moved the replicas ...)`."""
    repair = pool.repair
    if repair is None:
        return ""
    times = "once" if repair.losses == 1 else f"{repair.losses} times"
    parts = [f"lost {times}, last {when(repair.lost_time)}"]
    if repair.attempts:
        parts.append(f"{repair.attempts} failed tries, next {when(repair.retry_time)}")
    if repair.message:
        parts.append(repair.message)
    return f"{repair.phase.value} ({'; '.join(parts)})"


def _selector_text(pool: PoolInfo) -> str:
    selector = pool.spec.selector
    parts = [f"{k}={v}" for k, v in sorted(selector.labels.items())]
    parts += [f"has:{r}" for r in selector.custom_resources]
    parts += [f"node:{n[:12]}" for n in selector.node_ids]
    return ", ".join(parts) or "all nodes"


def pools_table(pools: Iterable[PoolInfo]) -> Table:
    table = Table("POOL", "SELECTOR", "NODES", "CAPACITY", "ALLOCATED", "STRATEGY", "STATE")
    for pool in pools:
        owns = "whole" if pool.spec.share is None else "share"
        table.add_row(
            pool.name,
            _selector_text(pool),
            str(len(pool.node_ids)),
            f"{amounts_text(pool.capacity)} ({owns})",
            amounts_text(pool.allocated),
            pool.spec.strategy.value,
            status_text(pool.state.value),
        )
    return table


def pool_detail(console: Console, pool: PoolInfo) -> None:
    spec = pool.spec
    header = Text.assemble(("pool ", "bold"), (pool.name, "bold"))
    header.append("  ")
    header.append_text(status_text(pool.state.value))
    console.print(header)
    rows = [
        ("selector", _selector_text(pool)),
        ("capacity", "whole nodes" if spec.share is None else f"share {amounts_text(spec.share)}"),
        ("strategy", spec.strategy.value),
        ("nodes", ", ".join(n[:12] for n in pool.node_ids) or "-"),
        ("holds", amounts_text(pool.capacity)),
        ("allocated", amounts_text(pool.allocated)),
    ]
    if pool.placement_group_id:
        rows.append(("placement group", pool.placement_group_id))
    if pool.message:
        rows.append(("message", pool.message))
    if pool.repair is not None:
        rows.append(("repair", repair_text(pool)))
    rows += [("created", when(pool.record.create_time)), ("updated", when(pool.record.update_time))]
    _rows(console, rows)


def _rows(console: Console, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"  {label:<{width}}  {value}", markup=False, highlight=False)


# -- cluster ----------------------------------------------------------------------------------


def cluster_dict(state: ClusterUsage) -> dict[str, Any]:
    return {
        "observe_time": state.observe_time,
        "nodes": [
            {
                "node_id": n.info.node_id,
                "address": n.info.address,
                "alive": n.info.alive,
                "labels": dict(n.info.labels),
                "capacity": amounts_dict(n.info.capacity),
                "allocated": amounts_dict(n.allocated),
                "free": amounts_dict(n.info.free),
                "pools": list(n.pools),
            }
            for n in state.nodes
        ],
        "pools": [
            {
                "pool": p.pool,
                "capacity": amounts_dict(p.capacity),
                "allocated": amounts_dict(p.allocated),
            }
            for p in state.pools
        ],
        "namespaces": [
            {**to_jsonable(n), "allocated": amounts_dict(n.allocated)} for n in state.namespaces
        ],
        "fragmentation": dict(state.fragmentation),
    }


def nodes_table(state: ClusterUsage) -> Table:
    table = Table(
        "NODE", "ADDRESS", "ALIVE", "LABELS", "CAPACITY", "ALLOCATED", "FREE", "POOLS",
        title="nodes", title_justify="left",
    )  # fmt: skip
    for n in state.nodes:
        table.add_row(
            n.info.node_id[:12],
            n.info.address or "-",
            Text("yes", style="green") if n.info.alive else Text("no", style="red"),
            labels_text(n.info.labels),
            amounts_text(n.info.capacity),
            amounts_text(n.allocated),
            amounts_text(n.info.free),
            ", ".join(n.pools) or "-",
        )
    return table


def pool_usage_table(state: ClusterUsage) -> Table:
    table = Table("POOL", "ALLOCATED / CAPACITY", "USED", title="pools", title_justify="left")
    for p in state.pools:
        table.add_row(
            p.pool,
            usage_text(p.allocated, p.capacity),
            percent(utilisation(p.allocated, p.capacity)),
        )
    return table


def namespace_usage_table(state: ClusterUsage) -> Table:
    table = Table(
        "NAMESPACE", "ALLOCATED", "EXECUTIONS run/queued", "TASKS run/queued",
        "OLDEST WAIT", "WEIGHTED SHARE", title="namespaces", title_justify="left",
    )  # fmt: skip
    for n in state.namespaces:
        table.add_row(
            n.namespace,
            amounts_text(n.allocated),
            f"{n.running_executions}/{n.queued_executions}",
            f"{n.running_tasks}/{n.queued_tasks}",
            seconds_text(n.oldest_wait_s) if n.queued_tasks else "-",
            f"{n.weighted_dominant_share:.3f}",
        )
    return table


def fragmentation_table(state: ClusterUsage) -> Table:
    """Per resource: the figure the server computed, with the free total and the largest free
    amount on one live node it comes from (1 - largest / total)."""
    table = Table(
        "RESOURCE", "FRAGMENTATION", "FREE (TOTAL)", "LARGEST FREE ON ONE NODE",
        title="fragmentation", title_justify="left",
    )  # fmt: skip
    alive = [n for n in state.nodes if n.info.alive]
    for resource, figure in sorted(state.fragmentation.items()):
        free = [n.info.free.get(resource) for n in alive]
        table.add_row(
            resource,
            percent(figure),
            amount_text(resource, sum(free)),
            amount_text(resource, max(free, default=0.0)),
        )
    return table


def cluster_view(console: Console, state: ClusterUsage) -> None:
    alive = sum(1 for n in state.nodes if n.info.alive)
    console.print(
        f"cluster at {when(state.observe_time)}: {alive}/{len(state.nodes)} nodes alive, "
        f"{len(state.pools)} pools, {len(state.namespaces)} namespaces in use",
        markup=False,
        style="bold",
    )
    console.print(nodes_table(state))
    for title, present, table in (
        ("pools", state.pools, pool_usage_table),
        ("namespaces", state.namespaces, namespace_usage_table),
        ("fragmentation", state.fragmentation, fragmentation_table),
    ):
        if present:
            console.print(table(state))
        else:
            console.print(f"{title}: none", style="dim", markup=False)


# -- quotas -----------------------------------------------------------------------------------


def quota_dict(policy: NamespacePolicy) -> dict[str, Any]:
    quota = policy.quota
    return {
        "namespace": policy.name,
        "max": amounts_dict(quota.max_resources),
        "max_replicas": quota.max_replicas,
        "max_concurrent_executions": quota.max_concurrent_executions,
        "weight": policy.weight,
        "priority": policy.priority,
        "backpressure": policy.backpressure.value,
        "placement_policy": policy.placement_policy,
        "batch_scheduler": policy.batch_scheduler,
        "plan_interval_s": policy.plan_interval_s,
    }


def _limit(value: int | None) -> str:
    return "unlimited" if not value else str(value)


def quota_detail(console: Console, policy: NamespacePolicy) -> None:
    quota = policy.quota
    console.print(f"namespace {policy.name}", markup=False, style="bold")
    _rows(
        console,
        [
            ("max resources", amounts_text(quota.max_resources, unlimited="unlimited")),
            ("max replicas", _limit(quota.max_replicas)),
            ("max executions", _limit(quota.max_concurrent_executions)),
            ("weight", number(policy.weight)),
            ("priority", str(policy.priority)),
            ("backpressure", policy.backpressure.value.lower()),
            ("placement policy", policy.placement_policy or "-"),
            ("batch scheduler", policy.batch_scheduler or "- (online placement only)"),
            ("plan interval", seconds_text(policy.plan_interval_s)),
        ],
    )


# -- reservations -----------------------------------------------------------------------------


def reservation_dict(r: Reservation) -> dict[str, Any]:
    return {
        "reservation_id": r.reservation_id,
        "namespace": r.namespace,
        "pool": r.pool,
        "resources": amounts_dict(r.resources),
        "start_time": r.start_time,
        "end_time": r.end_time,
        "duration_s": r.duration_s,
        "state": r.state.value,
        "strategy": r.strategy.value,
        "create_time": r.create_time,
        "message": r.message,
        "placement_group_id": r.placement_group_id,
    }


def reservation_detail(console: Console, r: Reservation) -> None:
    console.print(
        Text.assemble(
            ("reservation ", "bold"), (r.reservation_id, "bold"), "  ", status_text(r.state.value)
        )
    )
    rows = [
        ("namespace", r.namespace),
        ("pool", r.pool),
        ("resources", amounts_text(r.resources)),
        ("window", f"{when(r.start_time)} -> {when(r.end_time)} ({seconds_text(r.duration_s)})"),
        ("strategy", r.strategy.value),
        ("created", when(r.create_time)),
    ]
    if r.placement_group_id:
        rows.append(("placement group", r.placement_group_id))
    if r.message:
        rows.append(("message", r.message))
    _rows(console, rows)


# -- schedulers and plans ---------------------------------------------------------------------


def schedulers_table(schedulers: Iterable[SchedulerInfo]) -> Table:
    table = Table("NAME", "KIND", "DESCRIPTION")
    for s in schedulers:
        table.add_row(s.name, s.kind or "-", s.description or "-")
    return table


def plan_dict(plan: PlanResult) -> dict[str, Any]:
    return dict(to_jsonable(plan))


def plan_summary(plan: PlanResult) -> str:
    parts = [f"plan by {plan.scheduler or '?'}: {plan.status.value}"]
    parts.append(f"objective {number(plan.objective)}")
    if plan.bound is not None:
        parts.append(f"bound {number(plan.bound)}")
        if plan.objective:
            gap = max(0.0, plan.objective - plan.bound) / abs(plan.objective)
            parts.append(f"gap {percent(gap)}")
    parts.append(f"{len(plan.operations)} operations in {plan.solve_time_s:.2f}s")
    return ", ".join(parts)


def plan_table(plan: PlanResult) -> Table:
    live = any(o.task_id for o in plan.operations)
    table = Table(
        "TASK" if live else "OPERATION",
        "NODE" if live else "MACHINE",
        "START",
        "END",
        "DURATION",
    )
    for o in sorted(plan.operations, key=lambda o: (o.start, o.machine, o.operation)):
        if o.task_id:
            task = f"{o.execution_id[:8]}/{o.task_id}" if o.execution_id else o.task_id
        else:
            task = f"job {o.job} op {o.position} (#{o.operation})"
        where = o.node_id[:12] if o.node_id else str(o.machine)
        table.add_row(task, where, str(o.start), str(o.end), str(o.end - o.start))
    return table


def plan_view(console: Console, plan: PlanResult) -> None:
    style = "green" if plan.status is SolveStatus.OPTIMAL else ""
    console.print(plan_summary(plan), markup=False, style=style)
    if plan.info:
        console.print(f"info: {compact(plan.info, 200)}", markup=False, style="dim")
    console.print(plan_table(plan))
