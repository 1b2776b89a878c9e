"""Online placement of one live task: the policies of `scheduler.placement.policies`, applied to
the nodes the engine may use for it.

The engine's nodes carry `ResourceAmounts` (cpu, memory in bytes, gpu, custom); the policies
work on the trace model (millicores, MiB, per-GPU milli slots). This module translates one into
the other: custom resources are checked up front (they are a hard filter, never a score), and a
node's free GPU amount is laid out as whole free GPUs plus one partial slot, which is what a
fractional Ray GPU allocation leaves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from models.placement import GPU_MILLI, GpuNode, Pod
from models.resources import ResourceAmounts
from scheduler.placement.catalog import ONLINE, make_policy
from scheduler.placement.policies import FIT_WEIGHTS
from scheduler.placement.state import ClusterState

_MIB = 2**20
_ANY_MODEL = "any"
_AIMS_FOR_WORKLOAD = frozenset({"fgd", "cpsat"})  # policies that score against the recent mix
# Policies whose choice for a CPU-only pod is a scalar score per node: worked out in plain
# Python, which for the handful of nodes a task may go to costs a fraction of building arrays.
_SCALAR = frozenset({"first-fit", "best-fit", "worst-fit"})


class Candidate(NamedTuple):  # a tuple: one is built per eligible node for every task placed
    """A node the task may go to, with what it holds in total and what is still free."""

    node_id: str
    capacity: ResourceAmounts
    free: ResourceAmounts


def _gpu_node(candidate: Candidate) -> GpuNode:
    cap = candidate.capacity
    return GpuNode(
        name=candidate.node_id,
        cpu_milli=round(cap.cpu * 1000),
        memory_mib=cap.memory // _MIB,
        gpus=math.ceil(cap.gpu - 1e-9),
        gpu_model=_ANY_MODEL,
    )


def _pod(name: str, demand: ResourceAmounts) -> Pod:
    gpu = demand.gpu
    if gpu <= 0:
        num_gpu, milli = 0, 0
    elif gpu < 1:
        num_gpu, milli = 1, max(1, round(gpu * GPU_MILLI))
    else:
        num_gpu, milli = math.ceil(gpu - 1e-9), GPU_MILLI
    return Pod(
        name=name,
        cpu_milli=round(demand.cpu * 1000),
        memory_mib=math.ceil(demand.memory / _MIB),
        num_gpu=num_gpu,
        gpu_milli=milli,
    )


def _state(candidates: Sequence[Candidate]) -> ClusterState:
    state = ClusterState([_gpu_node(c) for c in candidates])
    for i, candidate in enumerate(candidates):
        free = candidate.free
        state.cpu_free[i] = max(0, round(free.cpu * 1000))
        state.mem_free[i] = max(0, free.memory // _MIB)
        left = max(0.0, min(free.gpu, candidate.capacity.gpu))
        slots = int(state.gpu_count[i])
        for g in range(slots):
            take = min(1.0, left)
            state.gpu_free[i, g] = round(take * GPU_MILLI)
            left -= take
    return state


def place_task(
    candidates: Sequence[Candidate],
    demand: ResourceAmounts,
    policy: str,
    workload: Sequence[ResourceAmounts] = (),
) -> str | None:
    """The node id `policy` picks for `demand` among `candidates`, or None if it fits none.

    `workload` is the recent demand mix, which the fragmentation-aware policy (fgd) aims for.
    """
    if policy not in ONLINE:
        raise ValueError(f"unknown placement policy {policy!r}; known: {', '.join(ONLINE)}")
    fitting = [
        c
        for c in candidates
        if not demand.custom
        or all(v <= c.free.custom.get(k, 0.0) + 1e-9 for k, v in demand.custom.items())
    ]
    if not fitting:
        return None
    if policy in _SCALAR and demand.gpu <= 0:  # a CPU-only pod (see `_pod`)
        cpu_milli, memory_mib = round(demand.cpu * 1000), math.ceil(demand.memory / _MIB)
        chosen = _place_scalar(fitting, cpu_milli, memory_mib, policy)
        return None if chosen is None else fitting[chosen].node_id
    return _place_with_arrays(fitting, _pod("task", demand), demand, policy, workload)


def _place_with_arrays(
    fitting: Sequence[Candidate],
    pod: Pod,
    demand: ResourceAmounts,
    policy: str,
    workload: Sequence[ResourceAmounts],
) -> str | None:
    """The policy run on a `ClusterState` of the candidates (any policy, any pod)."""
    state = _state(fitting)
    pods = [pod]
    if policy in _AIMS_FOR_WORKLOAD:  # the others never look at it
        pods = [_pod(f"w{i}", d) for i, d in enumerate(workload)] or [pod]
    decision = make_policy(policy, pods, state).place(state, pod)
    return None if decision is None else fitting[decision.node].node_id


def _gpu_free_milli(candidate: Candidate) -> int:
    """Free milli-GPUs summed over the node's slots, as `_state` lays them out."""
    left = max(0.0, min(candidate.free.gpu, candidate.capacity.gpu))
    total = 0
    for _ in range(math.ceil(candidate.capacity.gpu - 1e-9)):
        take = min(1.0, left)
        total += round(take * GPU_MILLI)
        left -= take
    return total


def _place_scalar(
    candidates: Sequence[Candidate], cpu_milli: int, memory_mib: int, policy: str
) -> int | None:
    """The index first-fit, best-fit or worst-fit picks for a CPU-only pod asking `cpu_milli`
    and `memory_mib`: the same choice, tie-breaks and float arithmetic as those policies on a
    `ClusterState` of the candidates."""
    best: tuple[float, ...] | None = None
    chosen: int | None = None
    for i, candidate in enumerate(candidates):
        free, capacity = candidate.free, candidate.capacity
        cpu_free = max(0, round(free.cpu * 1000))
        mem_free = max(0, free.memory // _MIB)
        if cpu_free < cpu_milli or mem_free < memory_mib:
            continue
        if policy == "first-fit":
            return i
        gpu_free = _gpu_free_milli(candidate)
        if policy == "best-fit":  # least GPU, then CPU, then memory left; then node order
            key: tuple[float, ...] = (gpu_free, cpu_free - cpu_milli, mem_free - memory_mib)
            if best is None or key < best:
                best, chosen = key, i
            continue
        # worst-fit: the most weighted fraction left; the first node on ties
        gpu_cap = max(math.ceil(capacity.gpu - 1e-9) * GPU_MILLI, 1)
        cpu_cap = max(round(capacity.cpu * 1000), 1)
        mem_cap = max(capacity.memory // _MIB, 1)
        wg, wc, wm = FIT_WEIGHTS
        score = (
            wg * (gpu_free / gpu_cap)
            + wc * ((cpu_free - cpu_milli) / cpu_cap)
            + wm * ((mem_free - memory_mib) / mem_cap)
        )
        if best is None or score > best[0]:
            best, chosen = (score,), i
    return chosen
