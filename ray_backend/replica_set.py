"""Book-keeping for the replicas of one agent: names, states, slots and dispatch choice.

Everything here runs on the backend's event loop (single-threaded), so state changes need no
locks. Leases waiting for a slot queue first-come-first-served and a freed slot wakes exactly one
of them (waking all of them on every release made the loop's cost grow with the queue);
other watchers (drains) wait on a generation event that ``notify`` swaps for a fresh one.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from models.agents import REPLICA_LIFECYCLE, AgentSpec, ReplicaInfo, ReplicaState

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
    if spec.pool:  # only when set, so replicas outside pools keep their fingerprint
        payload["pool"] = spec.pool
    if spec.endpoint:  # likewise
        payload["endpoint"] = spec.endpoint
        payload["endpoint_options"] = asdict(spec.endpoint_options)
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
    parts = name[len(prefix) :].rsplit(NAME_SEPARATOR, 2)
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
    # Of the outstanding attempts, those waiting for an asynchronous agent: they hold no slot.
    parked: int = 0
    node_id: str = ""
    pid: int = 0
    restarts: int = 0
    probing: bool = False
    drain_task: asyncio.Task[None] | None = None

    def move_to(self, state: ReplicaState) -> None:
        REPLICA_LIFECYCLE.move(self, state)

    def mark_dead(self) -> None:
        """DEAD unless it is already (a removal and a crash probe can both get there)."""
        if self.state is not ReplicaState.DEAD:
            self.move_to(ReplicaState.DEAD)

    @property
    def has_free_slot(self) -> bool:
        return self.outstanding - self.parked < self.max_concurrency

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
    _slot_waiters: collections.deque[asyncio.Future[None]] = field(
        default_factory=collections.deque
    )

    @property
    def agent(self) -> str:
        return self.spec.name

    def pick(self, nodes: frozenset[str] | None = None) -> Replica | None:
        """The READY replica with a free slot and the fewest outstanding attempts (on one of
        `nodes`, when given)."""
        best: Replica | None = None
        for replica in self.replicas.values():
            if replica.state is not ReplicaState.READY or not replica.has_free_slot:
                continue
            if nodes is not None and replica.node_id not in nodes:
                continue
            if best is None or (replica.outstanding, replica.index, replica.name) < (
                best.outstanding,
                best.index,
                best.name,
            ):
                best = replica
        return best

    def notify(self) -> None:
        """A general change (replica ready, dead, removed): wakes every waiter."""
        self._bump()
        while self._slot_waiters:
            self._wake(self._slot_waiters.popleft())

    def slot_freed(self) -> None:
        """One slot came free: wakes the longest-waiting lease only."""
        self._bump()
        while self._slot_waiters:
            if self._wake(self._slot_waiters.popleft()):
                return

    @property
    def has_slot_waiters(self) -> bool:
        return bool(self._slot_waiters)

    async def wait_for_slot(self, front: bool) -> None:
        """Queues for the next freed slot (``front``: a woken waiter that lost the race keeps
        its place at the head of the queue)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if front:
            self._slot_waiters.appendleft(waiter)
        else:
            self._slot_waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.slot_freed()  # woken but leaving: hand the slot to the next in line
            elif waiter in self._slot_waiters:
                self._slot_waiters.remove(waiter)
            raise

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    def _wake(waiter: asyncio.Future[None]) -> bool:
        if waiter.done():
            return False
        waiter.set_result(None)
        return True

    def outstanding(self) -> int:
        return sum(r.outstanding for r in self.replicas.values())

    def infos(self) -> list[ReplicaInfo]:
        return [self.replicas[name].info() for name in sorted(self.replicas)]

    def state_counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in ReplicaState}
        for replica in self.replicas.values():
            counts[replica.state.value] += 1
        return counts
