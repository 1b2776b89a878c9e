"""The agents deployed into a pool, whose replicas live in the pool's placement group: Ray can
never restart them once that group is gone, so they are replaced when it is."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from controlplane.ports import AgentBackend
from controlplane.store import SqliteStore
from models.backend import AgentUnavailable, ReplicaStartError

log = logging.getLogger(__name__)

# How long a replacement waits for the old replicas of an agent in the pool to stop.
REPLACE_TIMEOUT_S = 60.0


class PoolAgents:
    def __init__(self, store: SqliteStore, backend: AgentBackend) -> None:
        self._store = store
        self._backend = backend

    def names(self, pool: str) -> list[str]:
        """The agents deployed into ``pool``, by name."""
        return sorted(r.spec.name for r in self._store.list_agents() if r.spec.pool == pool)

    async def replace(self, pool: str) -> tuple[list[str], list[str]]:
        """Replaces the replicas of every agent in ``pool`` (after their group was removed,
        Ray keeps them restarting forever): scaled to zero (their in-flight attempts end as
        crashed and are retried), then deployed again as stored, so they are created in the
        pool's current group (also when an earlier try left none). Leases wait meanwhile. The
        agents in the pool, and those whose replicas could not be replaced."""
        names = self.names(pool)
        failed: list[str] = []
        for name in names:
            try:
                with contextlib.suppress(AgentUnavailable):  # none running: none to stop
                    await self._backend.scale(name, 0)
                deadline = asyncio.get_running_loop().time() + REPLACE_TIMEOUT_S
                while self._backend.replicas(name):
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"replicas of {name} did not stop")
                    await asyncio.sleep(0.05)
                current = self._store.get_agent(name)
                if current is not None:
                    await self._backend.deploy(current.spec)
            except ReplicaStartError as exc:
                log.warning("could not move the replicas of %s into pool %s: %s", name, pool, exc)
                failed.append(name)
            except Exception:
                log.exception("could not move the replicas of %s into pool %s", name, pool)
                failed.append(name)
        return names, failed

    async def stop(self, pool: str) -> list[str]:
        """Stops the replicas of every agent in ``pool`` (the agents stay stored); the agents."""
        names = self.names(pool)
        for agent in names:
            try:
                await self._backend.remove(agent)  # not from the store: only its replicas
            except Exception:
                log.exception("could not stop the stale replicas of %s", agent)
        return names
