"""Agents: a type of worker with versions, run as a set of replicas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ReplicaState(enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    DRAINING = "DRAINING"
    DEAD = "DEAD"


class AgentState(enum.Enum):
    DEPLOYING = "DEPLOYING"
    READY = "READY"
    DEGRADED = "DEGRADED"
    DELETING = "DELETING"


@dataclass(frozen=True)
class ReplicaResources:
    """What one replica reserves from Ray (0 CPUs: no reservation, Ray's actor default)."""

    num_cpus: float = 0.0
    memory: int = 0
    num_gpus: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentSpec:
    name: str
    version: str
    import_path: str
    replicas: int = 1
    resources: ReplicaResources = field(default_factory=ReplicaResources)
    max_concurrency: int = 1
    capabilities: tuple[str, ...] = ()
    runtime_env: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    pool: str = ""  # resource pool the replicas run in ("" = anywhere in the cluster)


@dataclass(frozen=True)
class ReplicaInfo:
    name: str
    version: str
    state: ReplicaState
    outstanding_attempts: int = 0
    node_id: str = ""
    restarts: int = 0


@dataclass(frozen=True)
class AgentRecord:
    """What the store keeps of a deployed agent; replica states come from the backend."""

    spec: AgentSpec
    create_time: float
    update_time: float


@dataclass(frozen=True)
class AgentView:
    record: AgentRecord
    state: AgentState
    replicas: list[ReplicaInfo]
