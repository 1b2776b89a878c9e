"""RayAgentBackend: the engine's AgentBackend on Ray (replicas are detached named actors).

Threading model: every method must be called from one asyncio event loop (the engine's). The
backend keeps all replica book-keeping on that loop; blocking Ray calls (``ray.get_actor``, actor
creation, ``ray.kill``, listing named actors) run in worker threads via ``asyncio.to_thread``.
Background tasks (health loop, crash probes, drains) are created lazily on that loop and stopped
by ``shutdown``.

The jobs live apart: ``deployments`` (replica sets matching their specs), ``dispatch`` (leases and
attempts), ``health`` (pings, crash probes, replacements) and ``named_actors`` (the Ray actors
themselves); this class wires them to one shared ``BackendState`` and connects to Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import ray
from ray.autoscaler.sdk import request_resources

from models.agents import AgentSpec, ReplicaInfo, VersionTarget
from models.backend import (
    AttemptOutcome,
    AttemptRequest,
    HeartbeatListener,
    ReplicaLease,
    ReplicaListener,
)
from models.packages import PackageReader
from models.queueing import QueueMetrics
from models.resources import NodeInfo, ResourceAmounts
from ray_backend import cluster, cluster_state
from ray_backend.backend_state import BackendState
from ray_backend.call_batches import CallStats
from ray_backend.deployments import Deployments, check_spec
from ray_backend.dispatch import ReplicaDispatch
from ray_backend.health import ReplicaHealth
from ray_backend.heartbeat_relay import POLL_INTERVAL_S, HeartbeatRelay
from ray_backend.metrics import backend_metrics
from ray_backend.named_actors import ReplicaActors
from ray_backend.packages import RayPackages
from ray_backend.replica_conditions import ReplicaConditions

logger = logging.getLogger(__name__)


class RayAgentBackend:
    """Runs agents as detached named Ray actors and dispatches attempts to them."""

    def __init__(
        self,
        address: str | None = None,
        namespace: str = "orchestrator",
        *,
        num_cpus: int | None = None,
        include_dashboard: bool | None = None,
        health_interval_s: float = 2.0,
        health_timeout_s: float = 10.0,
        ready_timeout_s: float = 60.0,
        read_package: PackageReader | None = None,
        heartbeat_poll_s: float = POLL_INTERVAL_S,
    ) -> None:
        """`read_package`: where ``package://`` references in runtime_env are read from (the
        control plane's data dir); without it, such agents fail to start."""
        self._address = address
        self._namespace = namespace
        self._num_cpus = num_cpus
        self._include_dashboard = include_dashboard
        self._state = BackendState()
        actors = ReplicaActors(namespace, ready_timeout_s, RayPackages(read_package))
        self._deployments = Deployments(self._state, actors)
        conditions = ReplicaConditions(self._state)
        self._health = ReplicaHealth(
            self._state,
            actors,
            self._deployments,
            conditions,
            interval_s=health_interval_s,
            timeout_s=health_timeout_s,
        )
        self._dispatch = ReplicaDispatch(
            self._state, self._health, HeartbeatRelay(self._state, heartbeat_poll_s), conditions
        )
        self._health_task: asyncio.Task[None] | None = None
        self._dashboard_url: str | None = None
        self._owns_connection = False

    @property
    def dashboard_url(self) -> str | None:
        return self._dashboard_url

    @property
    def namespace(self) -> str:
        return self._namespace

    async def start(self) -> None:
        """Connects to (or starts) Ray unless this process is already connected."""
        if self._state.closed:
            raise RuntimeError("backend was shut down")
        if not ray.is_initialized():
            # ray.init installs signal handlers, so it runs on the calling (main) thread.
            self._dashboard_url = cluster.connect(
                self._address,
                namespace=self._namespace,
                num_cpus=self._num_cpus,
                include_dashboard=self._include_dashboard,
            )
            self._owns_connection = True
        else:
            self._dashboard_url = cluster.dashboard_url()
        if self._state.metrics is None:
            self._state.metrics = backend_metrics()
        if self._health_task is None:
            self._health_task = asyncio.get_running_loop().create_task(self._health.run())

    def record_queues(self, queues: Sequence[QueueMetrics]) -> None:
        if self._state.metrics is not None:
            for queue in queues:
                self._state.metrics.set_queue(queue)

    async def observe_nodes(self) -> list[NodeInfo]:
        return await asyncio.to_thread(cluster_state.observe_nodes)

    async def request_capacity(self, bundles: Sequence[ResourceAmounts]) -> None:
        """``ray.autoscaler.sdk.request_resources(bundles=...)``: the autoscaler adds nodes
        until the bundles fit (counting what is already in use); the request persists until
        the next call replaces it. A fixed cluster has no autoscaler reading it: a no-op."""
        shapes = [b for b in (cluster_state.resources_to_ray(a) for a in bundles) if b]
        try:
            await asyncio.to_thread(request_resources, bundles=shapes)
        except Exception:
            logger.warning("could not request cluster capacity", exc_info=True)

    async def shutdown(self) -> None:
        """Stops background work. Detached replicas keep running for the next control plane."""
        self._state.closed = True
        if self._state.metrics is not None:
            self._state.metrics.flush()
        tasks = list(self._state.tasks)
        if self._health_task is not None:
            tasks.append(self._health_task)
            self._health_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._state.tasks.clear()
        for rs in self._state.sets.values():
            rs.removing = True
            rs.notify()
        self._state.sets.clear()
        if self._owns_connection:
            cluster.disconnect()
            self._owns_connection = False

    async def destroy_all(self) -> None:
        """Kills every replica this backend manages (tests and demos)."""
        await self._deployments.destroy_all()

    async def _ensure_started(self) -> None:
        if self._state.metrics is None or self._health_task is None:
            await self.start()

    # ------------------------------------------------------------------ deployment

    async def deploy(self, spec: AgentSpec) -> None:
        check_spec(spec)
        await self._ensure_started()
        await self._deployments.deploy(spec)

    async def apply(self, name: str, targets: Sequence[VersionTarget]) -> None:
        for target in targets:
            check_spec(dataclasses.replace(target.spec, replicas=target.replicas))
        await self._ensure_started()
        await self._deployments.apply(name, targets)

    async def scale(self, name: str, replicas: int) -> None:
        await self._deployments.scale(name, replicas)

    async def remove(self, name: str) -> None:
        await self._deployments.remove(name)

    def replicas(self, name: str) -> list[ReplicaInfo]:
        return self._deployments.replicas(name)

    def agents(self) -> list[str]:
        return self._deployments.agents()

    # ------------------------------------------------------------------ dispatch

    def lease(
        self,
        agent: str,
        nodes: frozenset[str] | None = None,
        *,
        routing_key: str = "",
        unusable_timeout_s: float | None = None,
        avoid_version: str = "",
    ) -> contextlib.AbstractAsyncContextManager[ReplicaLease]:
        return self._dispatch.lease(
            agent,
            nodes,
            routing_key=routing_key,
            unusable_timeout_s=unusable_timeout_s,
            avoid_version=avoid_version,
        )

    def queue_depth(self, agent: str) -> int:
        """Leases waiting for a free slot of `agent`."""
        return self._dispatch.queue_depth(agent)

    def call_stats(self) -> CallStats:
        """Ray calls made for attempts so far, and the attempts they carried (attempts
        started at the same moment on one replica share a call)."""
        return self._dispatch.call_stats

    def waiting_reason(self, agent: str) -> str:
        """Why leases of `agent` wait beyond a queue for a slot ("" if they do not)."""
        return self._dispatch.waiting_reason(agent)

    def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> Coroutine[Any, Any, AttemptOutcome]:
        # The dispatcher's coroutine itself, not one awaiting it: one frame less per attempt.
        return self._dispatch.invoke(lease, request, on_heartbeat)

    def record_heartbeat(
        self, execution_id: str, task_id: str, attempt: int, details: dict[str, Any] | None
    ) -> bool:
        """Records a heartbeat of an attempt in flight that reached the backend by another way
        than its replica (such as the progress an HTTP agent reports when its status is
        polled): the engine hears it as if the agent had called ``context.heartbeat``.
        False when the attempt is not in flight here."""
        return self._dispatch.heartbeats.record((execution_id, task_id, attempt), details)

    # ------------------------------------------------------------------ health

    def on_replica_event(self, listener: ReplicaListener) -> None:
        """Adds a listener of replica changes: health, circuit breaker, a new replica ready, a
        replica stopped. Called on this backend's loop as each change is applied."""
        self._state.listeners.append(listener)

    async def check_health(self, every_replica: bool = False) -> None:
        """One round of health checks (the loop's body; callable from tests)."""
        await self._health.check_health(every_replica)
