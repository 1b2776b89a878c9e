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
from dataclasses import dataclass

from models.placement import GPU_MILLI, GpuNode, Pod
from models.resources import ResourceAmounts
from scheduler.placement.catalog import ONLINE, make_policy
from scheduler.placement.state import ClusterState

_MIB = 2**20
_ANY_MODEL = "any"
_AIMS_FOR_WORKLOAD = frozenset({"fgd", "cpsat"})  # policies that score against the recent mix


@dataclass(frozen=True)
class Candidate:
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
        if all(v <= c.free.custom.get(k, 0.0) + 1e-9 for k, v in demand.custom.items())
    ]
    if not fitting:
        return None
    state = _state(fitting)
    pod = _pod("task", demand)
    pods = [pod]
    if policy in _AIMS_FOR_WORKLOAD:  # the others never look at it
        pods = [_pod(f"w{i}", d) for i, d in enumerate(workload)] or [pod]
    decision = make_policy(policy, pods, state).place(state, pod)
    return None if decision is None else fitting[decision.node].node_id
