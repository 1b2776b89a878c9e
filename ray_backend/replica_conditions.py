"""Health and circuit-breaker transitions of replicas: applied where every lease sees them,
logged, counted in Ray metrics, told to the backend's listeners, and timed (an open breaker
half-opens when its cool-down ends, waking the leases that wait for it)."""

from __future__ import annotations

import asyncio
import logging
import time

from models.backend import ReplicaChange
from models.replica_health import BreakerState, HealthStatus
from ray_backend.backend_state import BackendState
from ray_backend.breaker import BreakerTransition
from ray_backend.health_tracker import HealthTransition
from ray_backend.replica_set import Replica, ReplicaSet

logger = logging.getLogger(__name__)


class ReplicaConditions:
    def __init__(self, state: BackendState) -> None:
        self._state = state

    def breaker_moved(self, rs: ReplicaSet, replica: Replica, moved: BreakerTransition) -> None:
        replica.breaker_change_time = time.time()
        level = logging.WARNING if moved.after is BreakerState.OPEN else logging.INFO
        logger.log(
            level,
            "replica %s: circuit breaker %s -> %s (%s)",
            replica.name,
            moved.before.value,
            moved.after.value,
            moved.reason,
        )
        if self._state.metrics is not None:
            self._state.metrics.breaker_moved(rs.agent, moved.after.value)
        self._state.report(
            rs.agent,
            replica,
            ReplicaChange.BREAKER,
            moved.before.value,
            moved.after.value,
            moved.reason,
        )
        if moved.after is BreakerState.OPEN and not self._state.closed:
            self._state.spawn(self._half_open_later(rs, replica, replica.breaker.epoch))
        self._changed(rs)

    def health_moved(self, rs: ReplicaSet, replica: Replica, moved: HealthTransition) -> None:
        replica.health_change_time = time.time()
        logger.log(
            logging.INFO if moved.after is HealthStatus.HEALTHY else logging.WARNING,
            "replica %s: %s -> %s (%s)",
            replica.name,
            moved.before.value,
            moved.after.value,
            moved.reason,
        )
        if self._state.metrics is not None:
            self._state.metrics.health_moved(rs.agent, moved.after.value)
        self._state.report(
            rs.agent,
            replica,
            ReplicaChange.HEALTH,
            moved.before.value,
            moved.after.value,
            moved.reason,
        )
        self._changed(rs)

    def _changed(self, rs: ReplicaSet) -> None:
        rs.notify()
        self._state.record_replicas(rs)

    async def _half_open_later(self, rs: ReplicaSet, replica: Replica, epoch: int) -> None:
        await asyncio.sleep(max(replica.breaker.reopen_at - rs.clock(), 0.0))
        if replica.breaker.epoch != epoch or rs.replicas.get(replica.name) is not replica:
            return  # moved on meanwhile (a probe, a redeploy) or gone
        moved = replica.breaker.expire(rs.clock(), rs.spec.circuit_breaker)
        if moved is not None:
            self.breaker_moved(rs, replica, moved)
