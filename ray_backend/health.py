"""Replica health: a periodic ping of every serving replica; one that does not answer is not
leased until Ray has restarted it, and one that is gone for good is replaced."""

from __future__ import annotations

import asyncio
import logging

from ray.exceptions import ActorDiedError, RayError

from models.agents import ReplicaState
from models.backend import ReplicaStartError
from ray_backend.backend_state import BackendState
from ray_backend.deployments import Deployments
from ray_backend.first_answer import ray_result
from ray_backend.named_actors import ReplicaActors
from ray_backend.replica_set import Replica, ReplicaSet

logger = logging.getLogger(__name__)


class ReplicaHealth:
    """Watches the replicas of every deployed agent."""

    def __init__(
        self,
        state: BackendState,
        actors: ReplicaActors,
        deployments: Deployments,
        *,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        self._state = state
        self._actors = actors
        self._deployments = deployments
        self._interval_s = interval_s
        self._timeout_s = timeout_s

    def on_replica_error(self, rs: ReplicaSet, replica: Replica) -> None:
        """The replica's process died or is unreachable: stop leasing it until it answers."""
        if replica.state is ReplicaState.READY:
            replica.move_to(ReplicaState.STARTING)
            rs.notify()
            self._state.record_replicas(rs)
        if (
            not replica.probing
            and replica.state is not ReplicaState.DEAD
            and not self._state.closed
        ):
            replica.probing = True
            self._state.spawn(self._probe(rs, replica))

    async def _probe(self, rs: ReplicaSet, replica: Replica) -> None:
        """Pings a crashed replica with backoff until Ray has restarted it."""
        delay = 0.05
        try:
            while replica.state is not ReplicaState.DEAD and rs.replicas.get(replica.name) is (
                replica
            ):
                try:
                    info = await asyncio.wait_for(
                        ray_result(replica.handle.info.remote()), self._timeout_s
                    )
                    health = await asyncio.wait_for(
                        ray_result(replica.handle.health.remote()), self._timeout_s
                    )
                except (TimeoutError, RayError) as exc:
                    if isinstance(exc, ActorDiedError) and await self._gone(replica):
                        self._replace_dead(rs, replica)
                        return
                else:
                    if health.get("ok", True):
                        pid = int(info.get("pid", 0))
                        if replica.pid and pid != replica.pid:
                            replica.restarts += 1
                        replica.pid = pid
                        replica.node_id = str(info.get("node_id", replica.node_id))
                        if replica.state is ReplicaState.STARTING:
                            replica.move_to(ReplicaState.READY)
                        rs.notify()
                        self._state.record_replicas(rs)
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        finally:
            replica.probing = False

    async def _gone(self, replica: Replica) -> bool:
        """True if no live actor holds the replica's name any more (killed from outside)."""
        return await asyncio.to_thread(self._actors.get, replica.name) is None

    def _replace_dead(self, rs: ReplicaSet, replica: Replica) -> None:
        logger.warning("replica %s is permanently dead; recreating it", replica.name)
        replica.mark_dead()
        if rs.replicas.get(replica.name) is replica and replica.outstanding == 0:
            del rs.replicas[replica.name]
        rs.notify()
        self._state.record_replicas(rs)
        self._state.spawn(self._heal(rs))

    async def _heal(self, rs: ReplicaSet) -> None:
        async with rs.lock:
            if self._state.sets.get(rs.agent) is not rs or rs.removing:
                return
            for name, replica in list(rs.replicas.items()):
                if replica.state is ReplicaState.DEAD and replica.outstanding == 0:
                    del rs.replicas[name]
            try:
                await self._deployments.reconcile(rs)
            except ReplicaStartError as exc:
                logger.warning("could not recreate replicas of %s: %s", rs.agent, exc.summary)
            except Exception:
                logger.exception("could not recreate replicas of %s", rs.agent)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("health check round failed")

    async def check_health(self) -> None:
        """One round of health checks (the loop's body; callable from tests)."""
        checks = [
            self._check_one(rs, replica)
            for rs in list(self._state.sets.values())
            for replica in list(rs.replicas.values())
            if replica.state in (ReplicaState.READY, ReplicaState.DRAINING) and not replica.probing
        ]
        await asyncio.gather(*checks)
        for rs in list(self._state.sets.values()):
            self._state.record_replicas(rs)
            self._state.record_queue(rs)
        if self._state.metrics is not None:
            self._state.metrics.flush()

    async def _check_one(self, rs: ReplicaSet, replica: Replica) -> None:
        try:
            health = await asyncio.wait_for(
                ray_result(replica.handle.health.remote()), self._timeout_s
            )
        except (TimeoutError, RayError):
            self.on_replica_error(rs, replica)
            return
        if not health.get("ok", True):
            self.on_replica_error(rs, replica)
