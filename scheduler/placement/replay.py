"""Trace replay in the manner of "Beware of Fragmentation" (ATC 2023): pods drawn from a pod
list with replacement in a seeded order arrive one by one and are placed (never removed) until
the GPU they asked for in total reaches the cluster's GPU capacity. A pod that fits nowhere
fails and is skipped. Pure: no clock, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.placement import GpuNode, Placement, Pod
from scheduler.placement.policies import PlacementPolicy
from scheduler.placement.state import ClusterState, check_placements

LOADS = (0.5, 0.8, 0.9, 1.0)


def sample_arrivals(
    pods: Sequence[Pod], capacity_milli: int, seed: int, target: float = 1.0
) -> list[Pod]:
    """Pods drawn uniformly with replacement (numpy default_rng(seed)) until their summed GPU
    request reaches `target` times the capacity (the last pod crosses it)."""
    if not pods or not any(p.gpu_request_milli for p in pods):
        raise ValueError("the pod list has no GPU pod, so the load can never grow")
    rng = np.random.default_rng(seed)
    goal = target * capacity_milli
    out: list[Pod] = []
    arrived = 0
    while arrived < goal:
        for i in rng.integers(0, len(pods), size=1024):
            pod = pods[int(i)]
            out.append(pod)
            arrived += pod.gpu_request_milli
            if arrived >= goal:
                break
    return out


@dataclass(frozen=True)
class LoadPoint:
    load: float  # arrived GPU request / capacity when measured
    allocated: float  # allocated GPU / capacity
    unallocated: float  # 1 - allocated
    failed: int  # pods that fitted nowhere so far
    failed_gpu: float  # their GPU request / capacity


@dataclass
class ReplayResult:
    policy: str
    capacity_milli: int
    placements: list[Placement] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # after each arrival
    allocated: list[float] = field(default_factory=list)  # after each arrival
    at_load: dict[float, LoadPoint] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(not p.placed for p in self.placements)


def replay(
    nodes: Sequence[GpuNode],
    arrivals: Sequence[Pod],
    policy: PlacementPolicy,
    loads: Sequence[float] = LOADS,
    on_step: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Places `arrivals` in order with `policy`; the result's violations come from the
    independent checker and must be empty."""
    state = ClusterState(nodes)
    capacity = state.capacity_milli
    result = ReplayResult(policy.name, capacity)
    lookahead = int(getattr(policy, "lookahead", 0))
    pending = sorted(loads)
    arrived = 0
    failed = 0
    failed_milli = 0
    for step, pod in enumerate(arrivals):
        upcoming = arrivals[step + 1 : step + 1 + lookahead] if lookahead else ()
        decision = policy.place(state, pod, upcoming)
        if decision is None:
            result.placements.append(Placement(pod, None))
            failed += 1
            failed_milli += pod.gpu_request_milli
        else:
            state.allocate(decision.node, pod, decision.gpus)
            result.placements.append(
                Placement(pod, nodes[decision.node].name, tuple(decision.gpus))
            )
        arrived += pod.gpu_request_milli
        load = arrived / capacity
        allocated = state.allocated_milli / capacity
        result.arrived.append(load)
        result.allocated.append(allocated)
        while pending and arrived >= pending[0] * capacity - 1e-9:
            result.at_load[pending.pop(0)] = LoadPoint(
                load, allocated, 1.0 - allocated, failed, failed_milli / capacity
            )
        if on_step is not None:
            on_step(step)
    result.violations = check_placements(nodes, result.placements)
    return result
