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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from models.agents import REPLICA_LIFECYCLE, AgentSpec, ReplicaInfo, ReplicaState, VersionTarget
from models.failures import one_line
from models.replica_health import BreakerState, HealthStatus
from ray_backend.balancing import Balancer
from ray_backend.breaker import Breaker
from ray_backend.health_tracker import HealthTracker
from ray_backend.latency import LatencyStats
from ray_backend.traffic import TrafficSplit

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
    # Exactly three parts: a version holds no separator, so the replicas of agent `a` of
    # another namespace (`a/b/version/...`) are never taken for those of the agent `a`.
    parts = name[len(prefix) :].split(NAME_SEPARATOR)
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
    breaker: Breaker = field(default_factory=Breaker)
    health: HealthTracker = field(default_factory=HealthTracker)
    latency: LatencyStats = field(default_factory=LatencyStats)
    # Monotonic time of the next periodic health probe (0: at the next round).
    next_probe_at: float = 0.0
    last_error: str = ""
    # Epoch seconds (what clients are shown).
    last_error_time: float | None = None
    health_response_time_s: float | None = None
    health_change_time: float | None = None
    breaker_change_time: float | None = None
    # Its actor was created by this backend (not found running from an earlier one).
    created: bool = False

    def move_to(self, state: ReplicaState) -> None:
        REPLICA_LIFECYCLE.move(self, state)

    def mark_dead(self) -> None:
        """DEAD unless it is already (a removal and a crash probe can both get there)."""
        if self.state is not ReplicaState.DEAD:
            self.move_to(ReplicaState.DEAD)

    @property
    def has_free_slot(self) -> bool:
        return self.outstanding - self.parked < self.max_concurrency

    @property
    def latency_ewma(self) -> float | None:
        return self.latency.ewma

    def usable(self, now: float, spec: AgentSpec) -> bool:
        """May take new attempts: READY, healthy, and its breaker lets them through."""
        return (
            self.state is ReplicaState.READY
            and self.health.status is HealthStatus.HEALTHY
            and self.breaker.admits(now, spec.circuit_breaker)
        )

    def failed(self, error: str) -> None:
        self.last_error = one_line(error, 300)
        self.last_error_time = time.time()

    def unusable_because(self, now: float, spec: AgentSpec) -> str:
        """Why it takes no new attempts ("" if it does)."""
        if self.state is not ReplicaState.READY:
            return self.state.value.lower()
        if self.health.status is not HealthStatus.HEALTHY:
            return "unhealthy"
        if not self.breaker.admits(now, spec.circuit_breaker):
            if self.breaker.state is BreakerState.OPEN:
                return f"circuit breaker open for {max(self.breaker.reopen_at - now, 0):.0f}s more"
            return "circuit breaker half-open, its probe attempt running"
        return ""

    def info(self) -> ReplicaInfo:
        return ReplicaInfo(
            name=self.name,
            version=self.version,
            state=self.state,
            outstanding_attempts=self.outstanding,
            node_id=self.node_id,
            restarts=self.restarts,
            health=self.health.status,
            breaker=self.breaker.state,
            last_error=self.last_error,
            last_error_time=self.last_error_time,
            latency_p50_s=self.latency.percentile(50),
            latency_p95_s=self.latency.percentile(95),
            health_response_time_s=self.health_response_time_s,
            health_change_time=self.health_change_time,
            breaker_change_time=self.breaker_change_time,
        )


@dataclass(eq=False)
class ReplicaSet:
    """The replicas of one agent (possibly of several versions during a rollout)."""

    spec: AgentSpec
    replicas: dict[str, Replica] = field(default_factory=dict)
    # What should run, by version (one target outside rollouts; spec is the last one's).
    targets: tuple[VersionTarget, ...] = ()
    traffic: TrafficSplit | None = None
    waiting: int = 0
    removing: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    balancer: Balancer = field(default_factory=Balancer)
    clock: Callable[[], float] = time.monotonic
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _slot_waiters: collections.deque[asyncio.Future[None]] = field(
        default_factory=collections.deque
    )

    @property
    def agent(self) -> str:
        return self.spec.name

    def set_targets(self, targets: tuple[VersionTarget, ...]) -> None:
        self.targets = targets
        self.spec = targets[-1].spec
        split = TrafficSplit.of(targets)
        if split is None or not split.same_as(self.traffic):
            self.traffic = split

    def pick(
        self,
        nodes: frozenset[str] | None = None,
        routing_key: str = "",
        avoid_version: str = "",
    ) -> Replica | None:
        """A usable replica with a free slot (on one of `nodes`, when given), of the version
        the traffic split sends this lease to, chosen by the agent's load-balancing strategy;
        a half-open one first, so that its probe attempt decides soon whether it serves
        again."""
        now = self.clock()
        usable = [r for r in self.replicas.values() if r.usable(now, self.spec)]
        candidates = [
            r for r in usable if r.has_free_slot and (nodes is None or r.node_id in nodes)
        ]
        if self.traffic is not None:
            usable, candidates = self.traffic.narrow(usable, candidates, avoid_version)
        chosen = next((r for r in candidates if r.breaker.state is not BreakerState.CLOSED), None)
        if chosen is None:
            chosen = self.balancer.choose(self.spec.load_balancing, usable, candidates, routing_key)
        if chosen is not None and self.traffic is not None:
            self.traffic.count(chosen.version)
        return chosen

    def unusable_reason(self, nodes: frozenset[str] | None = None) -> str:
        """Why no replica (on `nodes`) could take an attempt even if it had a free slot; ""
        when one could (a wait for a slot is only a queue)."""
        now = self.clock()
        replicas = [r for r in self.replicas.values() if nodes is None or r.node_id in nodes]
        reasons = [(r, r.unusable_because(now, self.spec)) for r in replicas]
        if any(not why for _, why in reasons):
            return ""
        where = f" on nodes {', '.join(sorted(nodes))}" if nodes is not None else ""
        if not reasons:
            return f"agent {self.agent!r} has no replica{where}"
        parts = []
        for replica, why in sorted(reasons, key=lambda item: item[0].name):
            error = f"; last error: {replica.last_error}" if replica.last_error else ""
            parts.append(f"{replica.name} {why}{error}")
        text = f"no usable replica of agent {self.agent!r}{where}: " + "; ".join(parts)
        return one_line(text, 500)

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

    def condition_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Replicas by breaker state and by health status."""
        breakers = {state.value: 0 for state in BreakerState}
        healths = {status.value: 0 for status in HealthStatus}
        for replica in self.replicas.values():
            breakers[replica.breaker.state.value] += 1
            healths[replica.health.status.value] += 1
        return breakers, healths
