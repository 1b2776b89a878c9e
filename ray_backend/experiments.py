"""Running a grid of independent experiment runs as Ray tasks across the cluster.

The unit of work is any importable, picklable function (the control plane passes its
`run_one`); each call becomes one Ray task reserving `num_cpus` CPUs, named so it can be told
apart in the Ray dashboard. Results are yielded as tasks finish (`ray.wait`), so the caller can
drive a progress bar. This module knows nothing about scheduling: it maps calls to tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ray

from ray_backend import cluster


class NotEnoughCpus(RuntimeError):
    """No node of the cluster can hold a task that reserves this many CPUs."""


def ensure_connected(address: str | None) -> bool:
    """Connects the driver to `address` ('auto', 'host:port'; None starts a local Ray) unless
    Ray is already initialised. Returns True when this call connected (the caller disconnects)."""
    if ray.is_initialized():
        return False
    cluster.connect(address)
    return True


def cluster_cpus() -> float:
    return float(ray.cluster_resources().get("CPU", 0.0))


def largest_node_cpus() -> float:
    best = 0.0
    for node in ray.nodes():
        if node.get("Alive"):
            best = max(best, float(node.get("Resources", {}).get("CPU", 0.0)))
    return best


def map_tasks(
    function: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    num_cpus: float = 1,
    names: Sequence[str] | None = None,
    check_capacity: bool = True,
) -> Iterator[tuple[int, Any]]:
    """Submits `function(*call)` for every call as a Ray task and yields `(index, result)` as
    each finishes; a task that failed (its worker died, the function raised) yields
    `(index, exception)` instead, so one bad run never stops the others.

    With `check_capacity`, raises NotEnoughCpus up front when no live node has `num_cpus`
    CPUs (such tasks would wait forever on a cluster that cannot scale up)."""
    if not calls:
        return
    if check_capacity and largest_node_cpus() < num_cpus:
        raise NotEnoughCpus(
            f"each run reserves {num_cpus:g} CPUs but the largest Ray node has "
            f"{largest_node_cpus():g}; lower --workers"
        )
    remote = ray.remote(function)
    index_of: dict[Any, int] = {}
    for i, args in enumerate(calls):
        options: dict[str, Any] = {"num_cpus": num_cpus}
        if names is not None:
            options["name"] = names[i]
        ref = remote.options(**options).remote(*args)
        index_of[ref] = i
    pending = list(index_of)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            try:
                result: Any = ray.get(ref)
            except Exception as exc:
                result = exc
            yield index_of[ref], result
