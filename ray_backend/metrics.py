"""Application metrics of the backend, exported through Ray's metrics agent (ray.util.metrics).

Recorded from the control-plane (driver) process, which is a Ray core worker like any actor, so
the values reach the node's metrics agent and appear in Prometheus / the Ray dashboard (Ray
prefixes custom metric names with ``ray_``). Metric objects are created lazily after
``ray.init`` and shared by every backend in the process.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from ray.util.metrics import Counter, Gauge, Histogram

from models.queueing import QueueMetrics

logger = logging.getLogger(__name__)

DURATION_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]


class BackendMetrics:
    """Thin wrapper; every method swallows exporter errors (metrics must never fail dispatch).

    Counters are summed in memory and handed to Ray by ``flush`` (called from the backend's
    periodic health round): each Ray metric call costs ~0.1 ms on the dispatch loop.
    """

    def __init__(self) -> None:
        self._pending: collections.Counter[tuple[str, str]] = collections.Counter()
        tags = ("agent",)
        self.started = Counter(
            "orchestrator_attempts_started_total",
            description="Attempts dispatched to agent replicas.",
            tag_keys=tags,
        )
        self.succeeded = Counter(
            "orchestrator_attempts_succeeded_total",
            description="Attempts that returned an output.",
            tag_keys=tags,
        )
        self.failed = Counter(
            "orchestrator_attempts_failed_total",
            description="Attempts that ended with an agent error or a replica crash.",
            tag_keys=tags,
        )
        self.duration = Histogram(
            "orchestrator_attempt_duration_seconds",
            description="Wall time of one attempt as seen by the control plane.",
            boundaries=DURATION_BOUNDARIES_S,
            tag_keys=tags,
        )
        self.queue_depth = Gauge(
            "orchestrator_agent_queue_depth",
            description="Attempts waiting for a free replica slot.",
            tag_keys=tags,
        )
        self.replicas = Gauge(
            "orchestrator_agent_replicas",
            description="Replicas of an agent by state.",
            tag_keys=("agent", "state"),
        )
        self.breaker_transitions = Counter(
            "orchestrator_replica_breaker_transitions_total",
            description="Circuit breaker transitions of agent replicas, by the state entered.",
            tag_keys=("agent", "state"),
        )
        self.health_transitions = Counter(
            "orchestrator_replica_health_transitions_total",
            description="Health transitions of agent replicas, by the status entered.",
            tag_keys=("agent", "health"),
        )
        self.replicas_by_breaker = Gauge(
            "orchestrator_agent_replicas_by_breaker",
            description="Replicas of an agent by circuit breaker state.",
            tag_keys=("agent", "state"),
        )
        self.replicas_by_health = Gauge(
            "orchestrator_agent_replicas_by_health",
            description="Replicas of an agent by health status.",
            tag_keys=("agent", "health"),
        )
        namespace = ("namespace",)
        self.queued_tasks = Gauge(
            "orchestrator_namespace_queued_tasks",
            description="Ready tasks of a namespace waiting for capacity.",
            tag_keys=namespace,
        )
        self.running_tasks = Gauge(
            "orchestrator_namespace_running_tasks",
            description="Tasks of a namespace holding dispatched capacity.",
            tag_keys=namespace,
        )
        self.oldest_wait = Gauge(
            "orchestrator_namespace_oldest_wait_seconds",
            description="How long the longest-waiting ready task of a namespace has waited.",
            tag_keys=namespace,
        )
        self.mean_wait = Gauge(
            "orchestrator_namespace_mean_wait_seconds",
            description="Mean wait so far of a namespace's queued tasks.",
            tag_keys=namespace,
        )

    @staticmethod
    def _safe(fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # pragma: no cover - exporter problems are logged, never raised
            logger.debug("metric update failed", exc_info=True)

    def attempt_started(self, agent: str) -> None:
        self._pending["started", agent] += 1

    def attempt_finished(self, agent: str, ok: bool, duration_s: float) -> None:
        self._pending["succeeded" if ok else "failed", agent] += 1
        self._safe(self.duration.observe, max(0.0, duration_s), tags={"agent": agent})

    def flush(self) -> None:
        """Hands the counts summed since the last flush to Ray."""
        pending, self._pending = self._pending, collections.Counter()
        counters = {"started": self.started, "succeeded": self.succeeded, "failed": self.failed}
        for (kind, agent), count in pending.items():
            self._safe(counters[kind].inc, float(count), tags={"agent": agent})

    def set_queue_depth(self, agent: str, depth: int) -> None:
        self._safe(self.queue_depth.set, float(depth), tags={"agent": agent})

    def set_queue(self, queue: QueueMetrics) -> None:
        tags = {"namespace": queue.namespace}
        self._safe(self.queued_tasks.set, float(queue.depth), tags=tags)
        self._safe(self.running_tasks.set, float(queue.running), tags=tags)
        self._safe(self.oldest_wait.set, queue.oldest_wait_s, tags=tags)
        self._safe(self.mean_wait.set, queue.mean_wait_s, tags=tags)

    def set_replicas(self, agent: str, counts: dict[str, int]) -> None:
        for state, count in counts.items():
            self._safe(self.replicas.set, float(count), tags={"agent": agent, "state": state})

    def breaker_moved(self, agent: str, state: str) -> None:
        self._safe(self.breaker_transitions.inc, 1.0, tags={"agent": agent, "state": state})

    def health_moved(self, agent: str, health: str) -> None:
        self._safe(self.health_transitions.inc, 1.0, tags={"agent": agent, "health": health})

    def set_replica_conditions(
        self, agent: str, breakers: dict[str, int], healths: dict[str, int]
    ) -> None:
        for state, count in breakers.items():
            tags = {"agent": agent, "state": state}
            self._safe(self.replicas_by_breaker.set, float(count), tags=tags)
        for health, count in healths.items():
            tags = {"agent": agent, "health": health}
            self._safe(self.replicas_by_health.set, float(count), tags=tags)


_lock = threading.Lock()
_instance: BackendMetrics | None = None


def backend_metrics() -> BackendMetrics:
    """The process-wide metrics (created on first use, after Ray is initialized)."""
    global _instance
    with _lock:
        if _instance is None:
            _instance = BackendMetrics()
        return _instance
