"""Deploying agents: the replicas of each agent's spec started (or found again) first, then
every other replica drained and killed; scaling, removal, and what is deployed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import traceback
from collections.abc import Coroutine, Sequence
from typing import Any

import ray

from models.agents import AgentSpec, ReplicaInfo, ReplicaState, VersionTarget
from models.backend import AgentUnavailable, ReplicaChange
from models.failures import bounded_detail, failure_summary
from ray_backend.backend_state import BackendState
from ray_backend.named_actors import DeployError, ReplicaActors
from ray_backend.replica_set import Replica, ReplicaSet, replica_name, spec_hash

logger = logging.getLogger(__name__)


def check_spec(spec: AgentSpec) -> None:
    if spec.replicas < 0:
        raise ValueError("replicas must be >= 0")
    if spec.max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")


class Deployments:
    """Makes the replica set of every agent match its spec."""

    def __init__(self, state: BackendState, actors: ReplicaActors) -> None:
        self._state = state
        self._actors = actors

    async def deploy(self, spec: AgentSpec) -> None:
        await self.apply(spec.name, (VersionTarget(spec, spec.replicas),))

    async def apply(self, name: str, targets: Sequence[VersionTarget]) -> None:
        """Runs each target's replicas (new ones started first), splits traffic by their
        weights, and retires every other replica."""
        if not targets or any(t.spec.name != name for t in targets):
            raise ValueError(f"targets must be specs of agent {name!r}")
        while True:
            rs = self._state.sets.get(name)
            if rs is None:
                rs = ReplicaSet(targets[-1].spec)
                self._state.sets[name] = rs
            async with rs.lock:
                if self._state.sets.get(name) is not rs:
                    continue  # removed while we waited for the lock
                rs.set_targets(tuple(targets))
                rs.removing = False
                await self.reconcile(rs)
                return

    async def scale(self, name: str, replicas: int) -> None:
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        rs = self._state.sets.get(name)
        if rs is None:
            raise AgentUnavailable(f"agent {name!r} is not deployed")
        async with rs.lock:
            if self._state.sets.get(name) is not rs:
                raise AgentUnavailable(f"agent {name!r} was removed")
            spec = dataclasses.replace(rs.spec, replicas=replicas)
            rs.set_targets((VersionTarget(spec, replicas),))
            await self.reconcile(rs)

    async def remove(self, name: str) -> None:
        rs = self._state.sets.get(name)
        if rs is None:
            if ray.is_initialized():
                await self._actors.kill_orphans(name, keep=set())
            return
        async with rs.lock:
            rs.removing = True
            for replica in rs.replicas.values():
                if replica.drain_task is not None:
                    replica.drain_task.cancel()
                    replica.drain_task = None
                if replica.state not in (ReplicaState.DEAD, ReplicaState.DRAINING):
                    replica.move_to(ReplicaState.DRAINING)
            rs.notify()  # waiting leases raise AgentUnavailable
            while rs.outstanding() > 0:
                await rs.wait_changed()
            replicas = list(rs.replicas.values())
            for replica in replicas:
                before = replica.state
                replica.mark_dead()
                if before is not ReplicaState.DEAD:
                    self._stopped(rs, replica, before, "its agent was removed")
            rs.replicas.clear()
            await asyncio.gather(*(self._actors.kill(r.handle, r.name) for r in replicas))
            await self._actors.kill_orphans(name, keep=set())
            if self._state.sets.get(name) is rs:
                del self._state.sets[name]
            rs.notify()
            self._state.record_replicas(rs)

    async def destroy_all(self) -> None:
        """Kills every replica this backend manages (tests and demos)."""
        for name in list(self._state.sets):
            rs = self._state.sets.pop(name)
            rs.removing = True
            rs.notify()
            for replica in rs.replicas.values():
                if replica.drain_task is not None:
                    replica.drain_task.cancel()
                replica.mark_dead()
            await asyncio.gather(
                *(self._actors.kill(r.handle, r.name) for r in rs.replicas.values())
            )
            rs.replicas.clear()
            await self._actors.kill_orphans(name, keep=set())

    def replicas(self, name: str) -> list[ReplicaInfo]:
        rs = self._state.sets.get(name)
        return rs.infos() if rs is not None else []

    def agents(self) -> list[str]:
        return sorted(self._state.sets)

    async def reconcile(self, rs: ReplicaSet) -> None:
        """Makes rs match its targets: new replicas first, then retires everything else."""
        desired: dict[str, tuple[AgentSpec, str, int]] = {}
        for target in rs.targets or (VersionTarget(rs.spec, rs.spec.replicas),):
            fingerprint = spec_hash(target.spec)
            for i in range(target.replicas):
                name = replica_name(target.spec.name, target.spec.version, fingerprint, i)
                desired[name] = (target.spec, fingerprint, i)
        for name in desired:
            replica = rs.replicas.get(name)
            if replica is not None and replica.state is ReplicaState.DRAINING:
                # Scaled back up before the drain finished: keep it.
                if replica.drain_task is not None:
                    replica.drain_task.cancel()
                    replica.drain_task = None
                replica.move_to(ReplicaState.READY)
        error = await self._start_all(
            [
                self._start_replica(rs, spec, fingerprint, name, i)
                for name, (spec, fingerprint, i) in desired.items()
                if name not in rs.replicas
            ]
        )
        rs.notify()
        self._state.record_replicas(rs)
        if error is not None:
            # Old replicas keep serving: a failed rollout never drops capacity.
            raise error
        for replica in list(rs.replicas.values()):
            if replica.name not in desired and replica.state is not ReplicaState.DRAINING:
                self._retire(rs, replica)
        await self._actors.kill_orphans(rs.agent, keep=set(rs.replicas))
        rs.notify()
        self._state.record_replicas(rs)

    @staticmethod
    async def _start_all(starts: list[Coroutine[Any, Any, Replica]]) -> DeployError | None:
        """Starts every replica; the first that fails stops the others (they fail for the same
        reason, and waiting for them could take the whole readiness deadline). That failure."""
        tasks = [asyncio.ensure_future(start) for start in starts]
        if not tasks:
            return None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        failures = [t.exception() for t in tasks if t in done and not t.cancelled()]
        first = next((exc for exc in failures if exc is not None), None)
        if first is None or isinstance(first, DeployError):
            return first
        detail = bounded_detail("".join(traceback.format_exception(first)))
        return DeployError(failure_summary(first), detail)

    async def _start_replica(
        self, rs: ReplicaSet, spec: AgentSpec, fingerprint: str, name: str, index: int
    ) -> Replica:
        replica = await self._actors.attach_or_create(spec, fingerprint, name, index)
        rs.replicas[name] = replica
        rs.notify()
        if replica.created:
            self._state.report(rs.agent, replica, ReplicaChange.STARTED, after=replica.state.value)
        return replica

    def _stopped(self, rs: ReplicaSet, replica: Replica, before: ReplicaState, reason: str) -> None:
        self._state.report(
            rs.agent, replica, ReplicaChange.STOPPED, before.value, replica.state.value, reason
        )

    def _retire(self, rs: ReplicaSet, replica: Replica) -> None:
        replica.move_to(ReplicaState.DRAINING)
        replica.drain_task = self._state.spawn(self._drain_and_kill(rs, replica))

    async def _drain_and_kill(self, rs: ReplicaSet, replica: Replica) -> None:
        while replica.outstanding > 0:
            await rs.wait_changed()
        if replica.state is not ReplicaState.DRAINING:
            return  # revived by a scale-up
        replica.move_to(ReplicaState.DEAD)
        replica.drain_task = None
        self._stopped(rs, replica, ReplicaState.DRAINING, "drained and stopped")
        if rs.replicas.get(replica.name) is replica:
            del rs.replicas[replica.name]
        rs.notify()
        self._state.record_replicas(rs)
        await self._actors.kill(replica.handle, replica.name)
