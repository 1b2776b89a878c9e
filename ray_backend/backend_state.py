"""What the parts of the Ray backend share: the replica set of every deployed agent, the
background tasks they start, the metrics they record and the listeners of replica changes.
All of it lives on the backend's event loop (see ``backend``), so it needs no locks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from models.backend import ReplicaChange, ReplicaEvent, ReplicaListener
from ray_backend.metrics import BackendMetrics
from ray_backend.replica_set import Replica, ReplicaSet

T = TypeVar("T")

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class BackendState:
    sets: dict[str, ReplicaSet] = field(default_factory=dict)
    # Background work (crash probes, drains, heals), cancelled at shutdown.
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # Created when the backend starts (Ray's metrics need a connection).
    metrics: BackendMetrics | None = None
    closed: bool = False
    listeners: list[ReplicaListener] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def record_queue(self, rs: ReplicaSet) -> None:
        if self.metrics is not None:
            self.metrics.set_queue_depth(rs.agent, rs.waiting)

    def record_replicas(self, rs: ReplicaSet) -> None:
        if self.metrics is not None:
            self.metrics.set_replicas(rs.agent, rs.state_counts())
            self.metrics.set_replica_conditions(rs.agent, *rs.condition_counts())

    def report(
        self,
        agent: str,
        replica: Replica,
        change: ReplicaChange,
        before: str = "",
        after: str = "",
        reason: str = "",
    ) -> None:
        """Tells every listener of a replica's change; a listener's failure is logged and
        never reaches the change itself."""
        event = ReplicaEvent(
            agent=agent,
            replica=replica.name,
            version=replica.version,
            change=change,
            time=time.time(),
            before=before,
            after=after,
            reason=reason,
            last_error=replica.last_error,
            node_id=replica.node_id,
        )
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("a listener of replica changes failed on %s", event)
