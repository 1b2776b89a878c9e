"""Free resources of a cluster as numpy arrays over nodes, and an independent placement checker.

`ClusterState` keeps, per node, free CPU, free memory and free milli-GPU per GPU slot (slots past
a node's GPU count stay at 0 and are never usable). Policies read it through `fits_mask` and the
arrays; the replay changes it only through `allocate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.placement import GPU_MILLI, GpuNode, NodeState, Placement, Pod

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class PlacementError(ValueError):
    """An allocation that does not fit the node it names."""


@dataclass(frozen=True)
class Decision:
    """A policy's answer for one pod: node index and GPU slot indices on that node."""

    node: int
    gpus: tuple[int, ...] = ()


class ClusterState:
    def __init__(self, nodes: Sequence[GpuNode]) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        self.nodes = list(nodes)
        self.models = sorted({n.gpu_model for n in nodes})
        self.model_index = {m: i for i, m in enumerate(self.models)}
        self.max_gpus = max(1, max(n.gpus for n in nodes))
        self.cpu_cap = np.array([n.cpu_milli for n in nodes], dtype=np.int64)
        self.mem_cap = np.array([n.memory_mib for n in nodes], dtype=np.int64)
        self.gpu_count = np.array([n.gpus for n in nodes], dtype=np.int64)
        self.model = np.array([self.model_index[n.gpu_model] for n in nodes], dtype=np.int64)
        self.gpu_cap = np.zeros((len(nodes), self.max_gpus), dtype=np.int64)
        for i, n in enumerate(nodes):
            self.gpu_cap[i, : n.gpus] = GPU_MILLI
        self.cpu_free = self.cpu_cap.copy()
        self.mem_free = self.mem_cap.copy()
        self.gpu_free = self.gpu_cap.copy()
        self.capacity_milli = int(self.gpu_cap.sum())
        self.allocated_milli = 0

    def __len__(self) -> int:
        return len(self.nodes)

    def copy(self) -> ClusterState:
        other = ClusterState.__new__(ClusterState)
        other.__dict__.update(self.__dict__)
        other.cpu_free = self.cpu_free.copy()
        other.mem_free = self.mem_free.copy()
        other.gpu_free = self.gpu_free.copy()
        return other

    def node_state(self, i: int) -> NodeState:
        node = self.nodes[i]
        return NodeState(
            node,
            int(self.cpu_free[i]),
            int(self.mem_free[i]),
            tuple(int(x) for x in self.gpu_free[i, : node.gpus]),
        )

    def allowed_models(self, pod: Pod) -> BoolArray:
        """Per model index: may the pod run on it."""
        return np.array([pod.allows(m) for m in self.models], dtype=np.bool_)

    def fits_mask(self, pod: Pod) -> BoolArray:
        """Per node: could the pod be placed there now (CPU, memory, GPU model and GPUs)."""
        ok = (self.cpu_free >= pod.cpu_milli) & (self.mem_free >= pod.memory_mib)
        if pod.cpu_only:
            return ok
        ok &= self.allowed_models(pod)[self.model]
        if pod.shares_gpu:
            ok &= self.gpu_free.max(axis=1) >= pod.gpu_milli
        else:
            ok &= (self.gpu_free == GPU_MILLI).sum(axis=1) >= pod.num_gpu
        return ok

    def fits(self, i: int, pod: Pod, gpus: Sequence[int] = ()) -> bool:
        """Does the pod fit node i on exactly these GPU slots."""
        node = self.nodes[i]
        if self.cpu_free[i] < pod.cpu_milli or self.mem_free[i] < pod.memory_mib:
            return False
        if pod.cpu_only:
            return len(gpus) == 0
        if not pod.allows(node.gpu_model):
            return False
        if len(gpus) != pod.num_gpu or len(set(gpus)) != len(gpus):
            return False
        if any(not 0 <= g < node.gpus for g in gpus):
            return False
        need = pod.gpu_milli if pod.shares_gpu else GPU_MILLI
        return all(self.gpu_free[i, g] >= need for g in gpus)

    def allocate(self, i: int, pod: Pod, gpus: Sequence[int] = ()) -> None:
        if not self.fits(i, pod, gpus):
            raise PlacementError(f"pod {pod.name} does not fit node {self.nodes[i].name} {gpus}")
        self.cpu_free[i] -= pod.cpu_milli
        self.mem_free[i] -= pod.memory_mib
        per_gpu = pod.gpu_milli if pod.shares_gpu else GPU_MILLI
        for g in gpus:
            self.gpu_free[i, g] -= per_gpu
        self.allocated_milli += per_gpu * len(gpus)

    # -- helpers shared by policies ----------------------------------------------------------

    def whole_gpus(self, i: int, k: int) -> tuple[int, ...]:
        """The first k fully free GPU slots of node i."""
        free = np.flatnonzero(self.gpu_free[i] == GPU_MILLI)
        return tuple(int(g) for g in free[:k])


def check_placements(nodes: Sequence[GpuNode], placements: Sequence[Placement]) -> list[str]:
    """Re-derives every node's usage from the placements alone and lists each violation
    (empty when all placements respect CPU, memory, per-GPU capacity, whole-GPU and GPU-model
    rules). Independent of `ClusterState` so that it can guard it."""
    by_name = {n.name: n for n in nodes}
    cpu: dict[str, int] = {}
    mem: dict[str, int] = {}
    gpu: dict[tuple[str, int], int] = {}
    problems: list[str] = []
    for p in placements:
        pod = p.pod
        if p.node is None:
            if p.gpu_indices:
                problems.append(f"{pod.name}: unplaced but has GPUs")
            continue
        node = by_name.get(p.node)
        if node is None:
            problems.append(f"{pod.name}: unknown node {p.node}")
            continue
        cpu[node.name] = cpu.get(node.name, 0) + pod.cpu_milli
        mem[node.name] = mem.get(node.name, 0) + pod.memory_mib
        wanted = 0 if pod.cpu_only else pod.num_gpu
        if len(p.gpu_indices) != wanted or len(set(p.gpu_indices)) != wanted:
            problems.append(f"{pod.name}: {len(p.gpu_indices)} GPU indices for {wanted} GPUs")
        if not pod.cpu_only and pod.gpu_spec and node.gpu_model not in pod.gpu_spec:
            problems.append(f"{pod.name}: model {node.gpu_model} not in its gpu_spec")
        share = pod.gpu_milli if pod.shares_gpu else GPU_MILLI
        for g in p.gpu_indices:
            if not 0 <= g < node.gpus:
                problems.append(f"{pod.name}: GPU {g} outside {node.name}")
                continue
            gpu[(node.name, g)] = gpu.get((node.name, g), 0) + share
    for name, used in cpu.items():
        if used > by_name[name].cpu_milli:
            problems.append(f"{name}: CPU {used} > {by_name[name].cpu_milli}")
    for name, used in mem.items():
        if used > by_name[name].memory_mib:
            problems.append(f"{name}: memory {used} > {by_name[name].memory_mib}")
    for (name, g), used in gpu.items():
        if used > GPU_MILLI:
            problems.append(f"{name} GPU {g}: {used} milli > {GPU_MILLI}")
    return problems
