"""Online placement policies: one pod at a time, a node and GPU slots or None.

Every policy scores the nodes that fit (vectorised over numpy arrays) and breaks ties by node
order, so that results are deterministic. Within the chosen node, the GPU slots are picked by a
per-policy rule (first, tightest or loosest slot for a GPU-sharing pod; the first fully free
slots for whole-GPU pods).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.placement import GPU_MILLI, Pod
from scheduler.placement.state import BoolArray, ClusterState, Decision, IntArray

FloatArray = npt.NDArray[np.float64]


class PlacementPolicy(Protocol):
    name: str

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        """Where to put `pod` now (None: it fits nowhere). `upcoming` are the next arrivals,
        which only window-based policies look at; the state must not be changed."""
        ...


def _gpu_slots(state: ClusterState, i: int, pod: Pod, rule: str) -> tuple[int, ...]:
    if pod.cpu_only:
        return ()
    if not pod.shares_gpu:
        return state.whole_gpus(i, pod.num_gpu)
    free = state.gpu_free[i]
    ok = np.flatnonzero(free >= pod.gpu_milli)
    if rule == "first":
        return (int(ok[0]),)
    values = free[ok]
    pick = np.argmin(values) if rule == "tightest" else np.argmax(values)
    return (int(ok[pick]),)


def _after(state: ClusterState, pod: Pod) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per node, the fraction of GPU, CPU and memory left if the pod went there."""
    gpu_cap = np.maximum(state.gpu_count * GPU_MILLI, 1)
    gpu = (state.gpu_free.sum(axis=1) - pod.gpu_request_milli) / gpu_cap
    cpu = (state.cpu_free - pod.cpu_milli) / np.maximum(state.cpu_cap, 1)
    mem = (state.mem_free - pod.memory_mib) / np.maximum(state.mem_cap, 1)
    return gpu, cpu, mem


def _pick(mask: BoolArray, score: FloatArray, lowest: bool) -> int | None:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    values = score[idx]
    return int(idx[np.argmin(values) if lowest else np.argmax(values)])


@dataclass
class FirstFit:
    """The first node in list order that fits; the first GPU slot that fits."""

    name: str = "first-fit"

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        idx = np.flatnonzero(state.fits_mask(pod))
        if idx.size == 0:
            return None
        i = int(idx[0])
        return Decision(i, _gpu_slots(state, i, pod, "first"))


# Weights of the remaining-resource score of worst-fit: GPU dominates, then CPU,
# then memory (each as the fraction of the node's capacity left after placement).
FIT_WEIGHTS = (1.0, 0.5, 0.25)


@dataclass
class BestFit:
    """Textbook best-fit: among the nodes the pod fits, the one with the least GPU left after
    placing it (free milli summed over the node's GPUs), then the least CPU left (milli), then
    the least memory left (MiB), then the first in node order; within it, the tightest GPU
    slot. Amounts are absolute, not fractions of the node: the bin left with the least room."""

    name: str = "best-fit"

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        idx = np.flatnonzero(state.fits_mask(pod))
        if idx.size == 0:
            return None
        gpu_left = state.gpu_free[idx].sum(axis=1) - pod.gpu_request_milli
        cpu_left = state.cpu_free[idx] - pod.cpu_milli
        mem_left = state.mem_free[idx] - pod.memory_mib
        # np.lexsort sorts by its last key first; the node index breaks the remaining ties.
        i = int(idx[np.lexsort((idx, mem_left, cpu_left, gpu_left))[0]])
        return Decision(i, _gpu_slots(state, i, pod, "tightest"))


@dataclass
class WorstFit:
    """The node with the most weighted remaining resources after placement (spreading); the
    loosest GPU slot."""

    name: str = "worst-fit"

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        gpu, cpu, mem = _after(state, pod)
        wg, wc, wm = FIT_WEIGHTS
        i = _pick(state.fits_mask(pod), wg * gpu + wc * cpu + wm * mem, lowest=False)
        return None if i is None else Decision(i, _gpu_slots(state, i, pod, "loosest"))


@dataclass
class DotProduct:
    """Tetris-style alignment: the node maximising the dot product of the pod's demand and the
    node's free resources, both normalised by the node's capacity; the tightest GPU slot."""

    name: str = "dot-product"

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        gpu_cap = np.maximum(state.gpu_count * GPU_MILLI, 1)
        cpu_cap = np.maximum(state.cpu_cap, 1)
        mem_cap = np.maximum(state.mem_cap, 1)
        score = (
            (pod.gpu_request_milli / gpu_cap) * (state.gpu_free.sum(axis=1) / gpu_cap)
            + (pod.cpu_milli / cpu_cap) * (state.cpu_free / cpu_cap)
            + (pod.memory_mib / mem_cap) * (state.mem_free / mem_cap)
        )
        i = _pick(state.fits_mask(pod), score, lowest=False)
        return None if i is None else Decision(i, _gpu_slots(state, i, pod, "tightest"))


# -- fragmentation gradient descent ----------------------------------------------------------


class TargetWorkload:
    """The distribution of GPU pods expected to arrive (the empirical mix of a pod list), and
    the fragmentation measure of the FGD paper built on it.

    For a node and a pod type m: if m cannot run on the node at all (CPU, memory, GPU model or
    not enough GPU), all of the node's free GPU milli is fragment; otherwise the free milli of
    each GPU with less free than m's per-GPU demand (gpu_milli when sharing, 1000 for whole
    GPUs) is fragment. A node's fragmentation is the expectation over the pod types. CPU-only
    pods use no GPU and are left out of the mix (they would add the same amount to every
    placement choice).
    """

    def __init__(self, pods: Sequence[Pod], models: Sequence[str]) -> None:
        counts: dict[tuple[int, int, int, int, frozenset[str]], int] = {}
        for p in pods:
            if p.cpu_only:
                continue
            per_gpu = p.gpu_milli if p.shares_gpu else GPU_MILLI
            key = (p.cpu_milli, p.memory_mib, p.num_gpu, per_gpu, p.gpu_spec)
            counts[key] = counts.get(key, 0) + 1
        total = sum(counts.values())
        keys = sorted(counts, key=lambda k: (k[2], k[3], k[0], k[1], sorted(k[4])))
        self.types = len(keys)
        self.cpu = np.array([k[0] for k in keys], dtype=np.int64)
        self.mem = np.array([k[1] for k in keys], dtype=np.int64)
        self.allowed = np.array(
            [[not k[4] or m in k[4] for m in models] for k in keys], dtype=np.bool_
        ).reshape(len(keys), len(models))
        signatures = sorted({(k[2], k[3]) for k in keys})
        sig_of = {s: i for i, s in enumerate(signatures)}
        self.sig_k = np.array([s[0] for s in signatures], dtype=np.int64)
        self.sig_d = np.array([s[1] for s in signatures], dtype=np.int64)
        self.weights = np.zeros((len(signatures), len(keys)))
        for t, k in enumerate(keys):
            self.weights[sig_of[(k[2], k[3])], t] = counts[k] / total
        # share() as a table lookup: by how many distinct CPU / memory requests a row can
        # afford, and its GPU model (cumulative sums over the two request ranks).
        self.cpu_levels = np.unique(self.cpu)
        self.mem_levels = np.unique(self.mem)
        table = np.zeros(
            (len(signatures), self.cpu_levels.size + 1, self.mem_levels.size + 1, len(models))
        )
        cpu_rank = np.searchsorted(self.cpu_levels, self.cpu)
        mem_rank = np.searchsorted(self.mem_levels, self.mem)
        for t, k in enumerate(keys):
            table[sig_of[(k[2], k[3])], cpu_rank[t] + 1, mem_rank[t] + 1, :] += (
                self.weights[sig_of[(k[2], k[3])], t] * self.allowed[t]
            )
        self.table = table.cumsum(axis=1).cumsum(axis=2)

    def share(self, cpu_free: IntArray, mem_free: IntArray, model: IntArray) -> FloatArray:
        """Per signature (GPU demand shape) x row: the probability that an arriving GPU pod
        has that shape and fits the row's CPU, memory and GPU model."""
        ci = np.searchsorted(self.cpu_levels, cpu_free, side="right")
        mi = np.searchsorted(self.mem_levels, mem_free, side="right")
        result: FloatArray = self.table[:, ci, mi, model]
        return result

    def fragmentation_with(self, gpu_free: IntArray, share: FloatArray) -> FloatArray:
        """Expected fragmented GPU milli of each row, given its `share` column."""
        total = gpu_free.sum(axis=1).astype(np.float64)
        if self.types == 0:
            return total
        enough = gpu_free[:, :, None] >= self.sig_d[None, None, :]  # rows x gpus x sigs
        count = enough.sum(axis=1)  # rows x sigs
        usable = (gpu_free[:, :, None] * enough).sum(axis=1).astype(np.float64)
        usable *= count >= self.sig_k[None, :]
        result: FloatArray = total - (share.T * usable).sum(axis=1)
        return result

    def fragmentation(
        self, gpu_free: IntArray, cpu_free: IntArray, mem_free: IntArray, model: IntArray
    ) -> FloatArray:
        """Expected fragmented GPU milli of each row (a node or a hypothetical node state)."""
        return self.fragmentation_with(gpu_free, self.share(cpu_free, mem_free, model))


@dataclass(frozen=True)
class Option:
    decision: Decision
    delta: float  # fragmentation increase
    packed: int  # free GPU milli left on the node afterwards (tie-break: less is better)


class Fgd:
    """Fragmentation gradient descent: every (node, GPU slot) choice that fits is scored by how
    much it increases the node's expected fragmentation; the smallest increase wins, ties go
    to the node left with less free GPU, then node order."""

    name = "fgd"

    def __init__(self, workload: TargetWorkload) -> None:
        self.workload = workload

    def best(self, state: ClusterState, pod: Pod, limit: int) -> list[Option]:
        """The `limit` best choices that fit, best first.

        Nodes in identical states (model, free CPU, memory and the multiset of free GPU milli)
        and GPU slots with equal free milli on one node score alike, so each class is scored
        once and expanded in node order only when listing the winners."""
        nodes = np.flatnonzero(state.fits_mask(pod))
        if nodes.size == 0:
            return []
        f_all = state.gpu_free
        key = np.column_stack(
            (
                state.model[nodes],
                state.cpu_free[nodes],
                state.mem_free[nodes],
                np.sort(f_all[nodes], axis=1),
            )
        )
        sort = np.lexsort(key.T[::-1])  # stable: equal rows stay in node order
        starts = np.ones(sort.size, dtype=np.bool_)
        starts[1:] = (np.diff(key[sort], axis=0) != 0).any(axis=1)
        first = sort[starts]
        inverse = np.empty(sort.size, dtype=np.int64)
        inverse[sort] = np.cumsum(starts) - 1
        reps = nodes[first]
        f = f_all[reps]
        w = self.workload
        cpu, mem, model = state.cpu_free[reps], state.mem_free[reps], state.model[reps]
        before = w.fragmentation_with(f, w.share(cpu, mem, model))
        share_after = w.share(cpu - pod.cpu_milli, mem - pod.memory_mib, model)
        slot: IntArray | None = None
        if pod.shares_gpu:
            g_count = f.shape[1]
            same = f[:, :, None] == f[:, None, :]
            earlier = np.tril(np.ones((g_count, g_count), dtype=np.bool_), k=-1)
            first_of_value = ~(same & earlier[None, :, :]).any(axis=2)
            rows, slot = np.nonzero((f >= pod.gpu_milli) & first_of_value)
            new_f = f[rows].copy()
            new_f[np.arange(rows.size), slot] -= pod.gpu_milli
        else:
            rows = np.arange(reps.size)
            new_f = f.copy()
            if not pod.cpu_only:
                full = new_f == GPU_MILLI
                new_f[full & (np.cumsum(full, axis=1) <= pod.num_gpu)] = 0
        after = w.fragmentation_with(new_f, share_after[:, rows])
        delta = after - before[rows]
        packed = new_f.sum(axis=1)
        order = np.lexsort((reps[rows], packed, np.round(delta, 6)))
        members: dict[int, IntArray] = {}
        out: list[Option] = []
        for j in order:
            r = int(rows[j])
            if r not in members:
                members[r] = nodes[inverse == r]
            for node in members[r]:
                n = int(node)
                if slot is not None:
                    value = f[r, slot[j]]
                    gpus: tuple[int, ...] = (int(np.flatnonzero(f_all[n] == value)[0]),)
                elif pod.cpu_only:
                    gpus = ()
                else:
                    gpus = state.whole_gpus(n, pod.num_gpu)
                out.append(Option(Decision(n, gpus), float(delta[j]), int(packed[j])))
                if len(out) >= limit:
                    return out
        return out

    def place(self, state: ClusterState, pod: Pod, upcoming: Sequence[Pod] = ()) -> Decision | None:
        best = self.best(state, pod, 1)
        return best[0].decision if best else None
