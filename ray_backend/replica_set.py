"""Book-keeping for the replicas of one agent: names, states, slots and dispatch choice.

Everything here runs on the backend's event loop (single-threaded), so state changes need no
locks; waiters are woken through a generation event (``notify`` swaps in a fresh event).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from models.agents import AgentSpec, ReplicaInfo, ReplicaState

NAME_SEPARATOR = "/"


def spec_hash(spec: AgentSpec) -> str:
    """Fingerprint of everything that shapes a replica process (not the replica count)."""
    payload = {
        "name": spec.name,
        "version": spec.version,
        "import_path": spec.import_path,
        "resources": asdict(spec.resources),
        "max_concurrency": spec.max_concurrency,
        "runtime_env": spec.runtime_env,
        "config": spec.config,
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def replica_name(agent: str, version: str, fingerprint: str, index: int) -> str:
    """``agent/version/fingerprint/index``: stable across control-plane restarts."""
    return NAME_SEPARATOR.join((agent, version, fingerprint, str(index)))


def parse_replica_name(agent: str, name: str) -> tuple[str, str, int] | None:
    """(version, fingerprint, index) if ``name`` is a replica name of ``agent``, else None."""
    prefix = agent + NAME_SEPARATOR
    if not name.startswith(prefix):
        return None
    parts = name[len(prefix):].rsplit(NAME_SEPARATOR, 2)
    if len(parts) != 3 or not parts[2].isdigit() or not parts[0]:
        return None
    return parts[0], parts[1], int(parts[2])


@dataclass(eq=False)
class Replica:
    name: str
    version: str
    index: int
    fingerprint: str
    handle: Any
    max_concurrency: int
    state: ReplicaState = ReplicaState.STARTING
    outstanding: int = 0
    node_id: str = ""
    pid: int = 0
    restarts: int = 0
    probing: bool = False
    drain_task: asyncio.Task[None] | None = None

    @property
    def has_free_slot(self) -> bool:
        return self.outstanding < self.max_concurrency

    def info(self) -> ReplicaInfo:
        return ReplicaInfo(
            name=self.name,
            version=self.version,
            state=self.state,
            outstanding_attempts=self.outstanding,
            node_id=self.node_id,
            restarts=self.restarts,
        )


@dataclass(eq=False)
class ReplicaSet:
    """The replicas of one agent (possibly of several versions during a rollout)."""

    spec: AgentSpec
    replicas: dict[str, Replica] = field(default_factory=dict)
    waiting: int = 0
    removing: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def agent(self) -> str:
        return self.spec.name

    def pick(self) -> Replica | None:
        """The READY replica with a free slot and the fewest outstanding attempts."""
        best: Replica | None = None
        for replica in self.replicas.values():
            if replica.state is not ReplicaState.READY or not replica.has_free_slot:
                continue
            if best is None or (replica.outstanding, replica.index, replica.name) < (
                best.outstanding,
                best.index,
                best.name,
            ):
                best = replica
        return best

    def notify(self) -> None:
        """Wakes everything waiting in ``wait_changed``."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def outstanding(self) -> int:
        return sum(r.outstanding for r in self.replicas.values())

    def infos(self) -> list[ReplicaInfo]:
        return [self.replicas[name].info() for name in sorted(self.replicas)]

    def state_counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in ReplicaState}
        for replica in self.replicas.values():
            counts[replica.state.value] += 1
        return counts
