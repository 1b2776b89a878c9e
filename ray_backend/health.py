"""Replica health: a probe of every serving replica at its agent's interval (``health_check``);
failures in a row make it UNHEALTHY (no new attempts) until successes in a row make it healthy
again. A replica whose process died is not leased until Ray has restarted it, and one that is
gone for good is replaced; one whose node died (in Ray's node table) is reported with that node."""

from __future__ import annotations

import asyncio
import logging
import time

from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError

from models.agents import ReplicaState
from models.backend import ReplicaChange, ReplicaStartError
from models.failures import exception_summary
from ray_backend.backend_state import BackendState
from ray_backend.cluster_state import node_is_dead
from ray_backend.deployments import Deployments
from ray_backend.first_answer import ray_result
from ray_backend.named_actors import ReplicaActors
from ray_backend.replica_conditions import ReplicaConditions
from ray_backend.replica_set import Replica, ReplicaSet

logger = logging.getLogger(__name__)


class ReplicaHealth:
    """Watches the replicas of every deployed agent."""

    def __init__(
        self,
        state: BackendState,
        actors: ReplicaActors,
        deployments: Deployments,
        conditions: ReplicaConditions,
        *,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        """`interval_s`: the longest pause between rounds (metrics are exported each round);
        `timeout_s`: how long a crashed replica's ping may take."""
        self._state = state
        self._actors = actors
        self._deployments = deployments
        self._conditions = conditions
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
        """Pings a crashed replica with backoff until Ray has restarted it. A replica whose
        node died is reported stopped once (with that node), and started again once Ray has
        restarted it on another node."""
        delay = 0.05
        lost_node = ""
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
                    if not lost_node and await node_died(replica):
                        lost_node = replica.node_id
                        self._report_node_lost(rs, replica)
                else:
                    if health.get("ok", True):
                        pid = int(info.get("pid", 0))
                        if replica.pid and pid != replica.pid:
                            replica.restarts += 1
                        replica.pid = pid
                        replica.node_id = str(info.get("node_id", replica.node_id))
                        if replica.state is ReplicaState.STARTING:
                            replica.move_to(ReplicaState.READY)
                        if lost_node:
                            self._state.report(
                                rs.agent,
                                replica,
                                ReplicaChange.STARTED,
                                reason=f"restarted by Ray after its node {lost_node} died",
                            )
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

    def _report_node_lost(self, rs: ReplicaSet, replica: Replica) -> None:
        """The replica's process went with its node; Ray restarts it (``max_restarts=-1``)
        on a live node once one has room, and its attempts in flight are lost and retried."""
        logger.warning("replica %s lost its node %s", replica.name, replica.node_id)
        self._state.report(
            rs.agent,
            replica,
            ReplicaChange.STOPPED,
            ReplicaState.READY.value,
            replica.state.value,
            f"its node {replica.node_id} died (Ray lists the node dead); Ray restarts the "
            "replica on a surviving node with room for it",
        )

    def _replace_dead(self, rs: ReplicaSet, replica: Replica) -> None:
        logger.warning("replica %s is permanently dead; recreating it", replica.name)
        before = replica.state
        replica.mark_dead()
        if before is not ReplicaState.DEAD:
            self._state.report(
                rs.agent,
                replica,
                ReplicaChange.STOPPED,
                before.value,
                replica.state.value,
                "its actor is gone; a new replica replaces it",
            )
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
            await asyncio.sleep(self._pause())
            try:
                self._start_due_probes(every_replica=False)
                self._export()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("health check round failed")

    def _pause(self) -> float:
        """Until the next replica's probe is due, at most the round interval."""
        now = time.monotonic()
        due = [
            replica.next_probe_at - now
            for rs in self._state.sets.values()
            for replica in rs.replicas.values()
            if _probed(replica)
        ]
        return max(min([self._interval_s, *due]), 0.01)

    def _start_due_probes(self, every_replica: bool) -> list[asyncio.Task[None]]:
        """Each probe runs on its own, so a slow one delays no other replica's."""
        now = time.monotonic()
        return [
            self._state.spawn(self._check_one(rs, replica))
            for rs in list(self._state.sets.values())
            for replica in list(rs.replicas.values())
            if _probed(replica) and (every_replica or replica.next_probe_at <= now)
        ]

    def _export(self) -> None:
        for rs in list(self._state.sets.values()):
            self._state.record_replicas(rs)
            self._state.record_queue(rs)
        if self._state.metrics is not None:
            self._state.metrics.flush()

    async def check_health(self, every_replica: bool = False) -> None:
        """One round: probes each replica whose probe is due (every one, with
        `every_replica`) and waits for them, then exports the replica and queue metrics."""
        await asyncio.gather(*self._start_due_probes(every_replica))
        self._export()

    async def _check_one(self, rs: ReplicaSet, replica: Replica) -> None:
        try:
            await self._probe_health(rs, replica)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("health probe of replica %s failed", replica.name)

    async def _probe_health(self, rs: ReplicaSet, replica: Replica) -> None:
        config = rs.spec.health_check
        started = time.monotonic()
        replica.next_probe_at = started + config.interval_s
        error = ""
        try:
            health = await asyncio.wait_for(
                ray_result(replica.handle.health.remote()), config.timeout_s
            )
        except RayActorError:
            self.on_replica_error(rs, replica)  # the process died: Ray restarts it
            return
        except TimeoutError:
            error = f"health probe got no answer within {config.timeout_s:g}s"
        except RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            error = f"health() raised {exception_summary(cause)}"
        except RayError as exc:
            error = f"health probe failed: {exception_summary(exc)}"
        else:
            replica.health_response_time_s = time.monotonic() - started
            if not health.get("ok", True):
                detail = health.get("error") or health.get("reason") or ""
                error = f"health() answered ok: false{f' ({detail})' if detail else ''}"
        if error:
            replica.failed(error)
        moved = replica.health.record(not error, config, error)
        if moved is not None:
            self._conditions.health_moved(rs, replica, moved)


def _probed(replica: Replica) -> bool:
    """Serving replicas are probed; a crashed one is pinged by its own crash probe."""
    return replica.state in (ReplicaState.READY, ReplicaState.DRAINING) and not replica.probing


async def node_died(replica: Replica) -> bool:
    """True if Ray's node table lists the replica's last known node as dead (read off the
    event loop; an unreadable table knows nothing, so False)."""
    try:
        return await asyncio.to_thread(node_is_dead, replica.node_id)
    except Exception:
        logger.exception("could not read Ray's node table for replica %s", replica.name)
        return False
