"""Resources, nodes and resource pools (standard library only).

Resource names used across the project: ``"cpu"``, ``"memory"`` (bytes), ``"gpu"`` and any
custom resource by its own name (``"accelerator_x"``). The Ray backend maps these to and from
Ray's names (``CPU``, ``memory``, ``GPU``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

CPU = "cpu"
MEMORY = "memory"
GPU = "gpu"

_EPSILON = 1e-9


@dataclass(frozen=True)
class ResourceAmounts:
    """An amount of every resource kind; absent custom resources count as zero."""

    cpu: float = 0.0
    memory: int = 0
    gpu: float = 0.0
    custom: Mapping[str, float] = field(default_factory=dict)

    def get(self, resource: str) -> float:
        """The amount of one resource by name (``cpu``, ``memory``, ``gpu`` or a custom name)."""
        if resource == CPU:
            return self.cpu
        if resource == MEMORY:
            return float(self.memory)
        if resource == GPU:
            return self.gpu
        return float(self.custom.get(resource, 0.0))

    def names(self) -> tuple[str, ...]:
        """Names of the resources with a non-zero amount."""
        fixed = [(CPU, self.cpu), (MEMORY, float(self.memory)), (GPU, self.gpu)]
        out = [name for name, value in fixed if value]
        out.extend(sorted(name for name, value in self.custom.items() if value))
        return tuple(out)

    def add(self, other: ResourceAmounts) -> ResourceAmounts:
        if not self.custom and not other.custom:  # the common case, on every dispatch path
            return ResourceAmounts(
                self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu, {}
            )
        keys = set(self.custom) | set(other.custom)
        return ResourceAmounts(
            cpu=self.cpu + other.cpu,
            memory=self.memory + other.memory,
            gpu=self.gpu + other.gpu,
            custom={k: self.custom.get(k, 0.0) + other.custom.get(k, 0.0) for k in sorted(keys)},
        )

    def sub(self, other: ResourceAmounts) -> ResourceAmounts:
        """Component-wise difference; may be negative (use ``fits`` first to avoid that)."""
        if not self.custom and not other.custom:
            return ResourceAmounts(
                self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu, {}
            )
        keys = set(self.custom) | set(other.custom)
        return ResourceAmounts(
            cpu=self.cpu - other.cpu,
            memory=self.memory - other.memory,
            gpu=self.gpu - other.gpu,
            custom={k: self.custom.get(k, 0.0) - other.custom.get(k, 0.0) for k in sorted(keys)},
        )

    def fits(self, available: ResourceAmounts) -> bool:
        """True if this amount fits into ``available`` (every component <=)."""
        if self.cpu > available.cpu + _EPSILON or self.gpu > available.gpu + _EPSILON:
            return False
        if self.memory > available.memory:
            return False
        return all(v <= available.custom.get(k, 0.0) + _EPSILON for k, v in self.custom.items())

    def is_zero(self) -> bool:
        # `not self.names()`, without building the names
        return not (self.cpu or self.memory or self.gpu or any(self.custom.values()))

    @staticmethod
    def total(amounts: list[ResourceAmounts]) -> ResourceAmounts:
        if all(not a.custom for a in amounts):  # summed in the same order as `add` would
            cpu, memory, gpu = 0.0, 0, 0.0
            for a in amounts:
                cpu += a.cpu
                memory += a.memory
                gpu += a.gpu
            return ResourceAmounts(cpu, memory, gpu, {})
        result = ResourceAmounts()
        for amount in amounts:
            result = result.add(amount)
        return result


@dataclass(frozen=True)
class NodeInfo:
    """One cluster node as observed: identity, labels, capacity and what is still unreserved."""

    node_id: str
    address: str
    alive: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    capacity: ResourceAmounts = field(default_factory=ResourceAmounts)
    free: ResourceAmounts = field(default_factory=ResourceAmounts)


@dataclass(frozen=True)
class NodeSelector:
    """Which nodes a pool may use; every given criterion must hold (AND).

    ``labels`` maps a label key to a value in Ray's label-selector syntax: ``"v"`` (equals),
    ``"!v"`` (not equal or absent), ``"in(v1,v2)"`` and ``"!in(v1,v2)"``.
    ``custom_resources`` names resources the node must have (capacity > 0);
    ``node_ids`` (if not empty) restricts the choice to those nodes.
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    custom_resources: tuple[str, ...] = ()
    node_ids: tuple[str, ...] = ()


class PlacementStrategy(enum.Enum):
    """How the bundles of a pool or reservation are laid over nodes (Ray's strategies)."""

    PACK = "PACK"
    SPREAD = "SPREAD"
    STRICT_PACK = "STRICT_PACK"
    STRICT_SPREAD = "STRICT_SPREAD"


class RealizationState(enum.Enum):
    """Whether Ray holds a pool's (or reservation's) placement group right now."""

    PENDING = "PENDING"  # not every bundle is placed yet (no room, or infeasible)
    READY = "READY"  # every bundle is placed: the capacity is held
    RESCHEDULING = "RESCHEDULING"  # a node holding bundles is gone; Ray is re-placing them


@dataclass(frozen=True)
class PoolRealization:
    """How a resource pool is held on the cluster: its placement group and where it landed."""

    name: str
    node_ids: tuple[str, ...]
    capacity: ResourceAmounts
    placement_group_id: str
    state: RealizationState = RealizationState.PENDING
    # Why the group is not READY (empty when it is).
    message: str = ""
