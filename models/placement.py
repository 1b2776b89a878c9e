"""Domain types of GPU placement: nodes with (shareable) GPUs, pods asking for CPU, memory and
GPU, and the placement decided for each pod (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass, field

GPU_MILLI = 1000  # one whole GPU


@dataclass(frozen=True)
class GpuNode:
    """A machine: CPU in millicores, memory in MiB, `gpus` identical GPUs of `gpu_model`."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    gpu_model: str

    def __post_init__(self) -> None:
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.gpus < 0:
            raise ValueError(f"node {self.name}: negative capacity")


Node = GpuNode


@dataclass(frozen=True)
class Pod:
    """A task to place.

    num_gpu=0 (or gpu_milli=0): CPU only. num_gpu=1 and gpu_milli<1000: shares one GPU, needs
    gpu_milli free on a single GPU. Otherwise num_gpu whole GPUs (gpu_milli is then 1000).
    gpu_spec: the GPU models allowed (empty = any).
    """

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int = 0
    gpu_milli: int = 0
    gpu_spec: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.cpu_milli < 0 or self.memory_mib < 0 or self.num_gpu < 0:
            raise ValueError(f"pod {self.name}: negative request")
        if not 0 <= self.gpu_milli <= GPU_MILLI:
            raise ValueError(f"pod {self.name}: gpu_milli {self.gpu_milli} outside 0..1000")
        if self.num_gpu > 1 and 0 < self.gpu_milli < GPU_MILLI:
            raise ValueError(f"pod {self.name}: multi-GPU pods take whole GPUs")

    @property
    def cpu_only(self) -> bool:
        return self.num_gpu == 0 or self.gpu_milli == 0

    @property
    def shares_gpu(self) -> bool:
        return not self.cpu_only and self.gpu_milli < GPU_MILLI

    @property
    def gpu_request_milli(self) -> int:
        """Total GPU asked for, in milli-GPUs (num_gpu * gpu_milli)."""
        return 0 if self.cpu_only else self.num_gpu * self.gpu_milli

    def allows(self, gpu_model: str) -> bool:
        return not self.gpu_spec or gpu_model in self.gpu_spec


@dataclass(frozen=True)
class NodeState:
    """What is still free on one node."""

    node: GpuNode
    cpu_free: int
    memory_free: int
    gpu_free: tuple[int, ...]  # per GPU, milli


@dataclass(frozen=True)
class Placement:
    """Where one pod went: a node name and the GPU indices used there, or node=None (failed)."""

    pod: Pod
    node: str | None
    gpu_indices: tuple[int, ...] = ()

    @property
    def placed(self) -> bool:
        return self.node is not None
