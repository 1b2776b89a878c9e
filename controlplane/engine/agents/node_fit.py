"""Whether a replica could ever be placed: its demand against the nodes of the cluster as they
are now. A request no node can hold would wait for the whole readiness deadline and then fail
with no cause, so it is refused before anything is stored or started. A cluster can grow (an
autoscaler adds nodes), so this only refuses what exceeds every node present."""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.engine.capacity.cluster import replica_amounts
from models.agents import ReplicaResources
from models.errors import FieldViolation
from models.resources import CPU, GPU, MEMORY, NodeInfo


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e18 else f"{value:g}"


def _bytes(value: float) -> str:
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{_number(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _amount(resource: str, value: float) -> str:
    """`"2 CPUs"`, `"1 GPU"`, `"7.6 GiB"`, `"3 accel"`."""
    if resource == MEMORY:
        return _bytes(value)
    if resource in (CPU, GPU):
        unit = resource.upper()
        return f"{_number(value)} {unit}" + ("" if value == 1 else "s")
    return f"{_number(value)} {resource}"


def _none_of(resource: str) -> str:
    if resource in (CPU, GPU):
        return f"no node has {resource.upper()}s"
    if resource == MEMORY:
        return "no node has schedulable memory"
    return f"no node has the resource {resource!r}"


def _field(resource: str) -> str:
    return {CPU: "num_cpus", GPU: "num_gpus", MEMORY: "memory"}.get(resource, f"custom[{resource}]")


def impossible_demands(
    resources: ReplicaResources, nodes: Iterable[NodeInfo], prefix: str = "agent.resources"
) -> list[FieldViolation]:
    """Every resource one replica asks for that exceeds the total of every live node, or
    (when each does fit somewhere) the whole demand that no single node holds. Nothing when no
    live node is known (the cluster cannot be judged)."""
    alive = [node for node in nodes if node.alive]
    if not alive:
        return []
    demand = replica_amounts(resources)
    problems: list[FieldViolation] = []
    for resource in demand.names():
        wanted = demand.get(resource)
        largest = max(node.capacity.get(resource) for node in alive)
        if wanted <= largest + 1e-9:
            continue
        shown = _bytes(wanted) if resource == MEMORY else _number(wanted)
        if largest > 0:
            why = f"{shown} exceeds the largest node ({_amount(resource, largest)})"
        else:
            why = f"{shown} exceeds the largest node ({_none_of(resource)})"
        problems.append(FieldViolation(f"{prefix}.{_field(resource)}", why))
    if problems or any(demand.fits(node.capacity) for node in alive):
        return problems
    wanted_all = ", ".join(_amount(r, demand.get(r)) for r in demand.names())
    return [
        FieldViolation(prefix, f"no node has {wanted_all} together (checked {len(alive)} nodes)")
    ]


def fits_nowhere_message(name: str, problems: list[FieldViolation]) -> str:
    causes = "; ".join(f"{p.field}: {p.description}" for p in problems)
    return f"agent {name!r} cannot be placed on this cluster: {causes}"
