"""RayAgentBackend: the engine's AgentBackend on Ray (replicas are detached named actors).

Threading model: every method must be called from one asyncio event loop (the engine's). The
backend keeps all replica book-keeping on that loop; blocking Ray calls (``ray.get_actor``, actor
creation, ``ray.kill``, listing named actors) run in worker threads via ``asyncio.to_thread``.
Background tasks (health loop, crash probes, drains) are created lazily on that loop and stopped
by ``shutdown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Sequence
from typing import Any, TypeVar

import ray
from ray.autoscaler.sdk import request_resources
from ray.exceptions import ActorDiedError, RayActorError, RayError, RayTaskError

from models.agents import AgentSpec, ReplicaInfo, ReplicaState
from models.backend import AgentUnavailable, AttemptOutcome, AttemptRequest, ReplicaLease
from models.executions import ErrorInfo
from models.queueing import QueueMetrics
from models.resources import NodeInfo, ResourceAmounts
from ray_backend import cluster, cluster_state, pools
from ray_backend.capacity import find_pool_group
from ray_backend.metrics import BackendMetrics, backend_metrics
from ray_backend.replica_actor import (
    ERROR_MESSAGE,
    ERROR_TRACEBACK,
    ERROR_TYPE,
    OK,
    OUTPUT,
    AgentReplicaActor,
)
from ray_backend.replica_set import (
    Replica,
    ReplicaSet,
    parse_replica_name,
    replica_name,
    spec_hash,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

REPLICA_CRASHED = "ReplicaCrashed"


class DeployError(RuntimeError):
    """Replicas of a deployment did not become READY (bad import path, unschedulable, timeout)."""


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
    ) -> None:
        self._address = address
        self._namespace = namespace
        self._num_cpus = num_cpus
        self._include_dashboard = include_dashboard
        self._health_interval_s = health_interval_s
        self._health_timeout_s = health_timeout_s
        self._ready_timeout_s = ready_timeout_s
        self._sets: dict[str, ReplicaSet] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._health_task: asyncio.Task[None] | None = None
        self._dashboard_url: str | None = None
        self._owns_connection = False
        self._metrics: BackendMetrics | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def dashboard_url(self) -> str | None:
        return self._dashboard_url

    @property
    def namespace(self) -> str:
        return self._namespace

    async def start(self) -> None:
        """Connects to (or starts) Ray unless this process is already connected."""
        if self._closed:
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
        if self._metrics is None:
            self._metrics = backend_metrics()
        if self._health_task is None:
            self._health_task = asyncio.get_running_loop().create_task(self._health_loop())

    def record_queues(self, queues: Sequence[QueueMetrics]) -> None:
        if self._metrics is not None:
            for queue in queues:
                self._metrics.set_queue(queue)

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
        self._closed = True
        if self._metrics is not None:
            self._metrics.flush()
        tasks = list(self._tasks)
        if self._health_task is not None:
            tasks.append(self._health_task)
            self._health_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for rs in self._sets.values():
            rs.removing = True
            rs.notify()
        self._sets.clear()
        if self._owns_connection:
            cluster.disconnect()
            self._owns_connection = False

    async def destroy_all(self) -> None:
        """Kills every replica this backend manages (tests and demos)."""
        for name in list(self._sets):
            rs = self._sets.pop(name)
            rs.removing = True
            rs.notify()
            for replica in rs.replicas.values():
                if replica.drain_task is not None:
                    replica.drain_task.cancel()
                replica.mark_dead()
            await asyncio.gather(*(self._kill(r.handle, r.name) for r in rs.replicas.values()))
            rs.replicas.clear()
            await self._kill_orphans(name, keep=set())

    async def _ensure_started(self) -> None:
        if self._metrics is None or self._health_task is None:
            await self.start()

    # ------------------------------------------------------------------ deployment

    async def deploy(self, spec: AgentSpec) -> None:
        if spec.replicas < 0:
            raise ValueError("replicas must be >= 0")
        if spec.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        await self._ensure_started()
        while True:
            rs = self._sets.get(spec.name)
            if rs is None:
                rs = ReplicaSet(spec)
                self._sets[spec.name] = rs
            async with rs.lock:
                if self._sets.get(spec.name) is not rs:
                    continue  # removed while we waited for the lock
                rs.spec = spec
                rs.removing = False
                await self._reconcile(rs)
                return

    async def scale(self, name: str, replicas: int) -> None:
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        rs = self._sets.get(name)
        if rs is None:
            raise AgentUnavailable(f"agent {name!r} is not deployed")
        async with rs.lock:
            if self._sets.get(name) is not rs:
                raise AgentUnavailable(f"agent {name!r} was removed")
            rs.spec = dataclasses.replace(rs.spec, replicas=replicas)
            await self._reconcile(rs)

    async def remove(self, name: str) -> None:
        rs = self._sets.get(name)
        if rs is None:
            if ray.is_initialized():
                await self._kill_orphans(name, keep=set())
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
                replica.mark_dead()
            rs.replicas.clear()
            await asyncio.gather(*(self._kill(r.handle, r.name) for r in replicas))
            await self._kill_orphans(name, keep=set())
            if self._sets.get(name) is rs:
                del self._sets[name]
            rs.notify()
            self._record_replicas(rs)

    def replicas(self, name: str) -> list[ReplicaInfo]:
        rs = self._sets.get(name)
        return rs.infos() if rs is not None else []

    def agents(self) -> list[str]:
        return sorted(self._sets)

    async def _reconcile(self, rs: ReplicaSet) -> None:
        """Makes rs match rs.spec: new replicas first, then retires everything else."""
        spec = rs.spec
        fingerprint = spec_hash(spec)
        desired = {
            replica_name(spec.name, spec.version, fingerprint, i): i for i in range(spec.replicas)
        }
        for name in desired:
            replica = rs.replicas.get(name)
            if replica is not None and replica.state is ReplicaState.DRAINING:
                # Scaled back up before the drain finished: keep it.
                if replica.drain_task is not None:
                    replica.drain_task.cancel()
                    replica.drain_task = None
                replica.move_to(ReplicaState.READY)
        missing = [(name, index) for name, index in desired.items() if name not in rs.replicas]
        results = await asyncio.gather(
            *(self._attach_or_create(rs, spec, fingerprint, name, i) for name, i in missing),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        rs.notify()
        self._record_replicas(rs)
        if errors:
            # Old replicas keep serving: a failed rollout never drops capacity.
            raise DeployError(
                f"agent {spec.name!r} version {spec.version!r}: "
                f"{len(errors)} of {len(missing)} new replicas failed: {errors[0]}"
            ) from errors[0]
        for replica in list(rs.replicas.values()):
            if replica.name not in desired and replica.state is not ReplicaState.DRAINING:
                self._retire(rs, replica)
        await self._kill_orphans(spec.name, keep=set(rs.replicas))
        rs.notify()
        self._record_replicas(rs)

    async def _attach_or_create(
        self, rs: ReplicaSet, spec: AgentSpec, fingerprint: str, name: str, index: int
    ) -> Replica:
        """Re-attaches to the live actor called `name` or creates it; returns once READY."""
        deadline = time.monotonic() + self._ready_timeout_s
        delay = 0.05
        last_error: BaseException | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeployError(f"replica {name} not ready after {self._ready_timeout_s}s") from (
                    last_error
                )
            handle = await asyncio.to_thread(self._get_actor, name)
            created = False
            if handle is None:
                try:
                    handle = await asyncio.to_thread(self._create_actor, spec, fingerprint, name)
                    created = True
                except ValueError as exc:  # the name is still held by an actor being killed
                    last_error = exc
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
            try:
                info = await asyncio.wait_for(_awaitable(handle.info.remote()), remaining)
                health = await asyncio.wait_for(_awaitable(handle.health.remote()), remaining)
            except (TimeoutError, RayError) as exc:
                if created:
                    # Constructor failed (import error, bad config) or never scheduled.
                    await self._kill(handle, name)
                    raise DeployError(f"replica {name} failed to start: {exc}") from exc
                last_error = exc  # a dead or dying actor still holds the name
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if info.get("spec_hash") != fingerprint:
                # Same name, different spec: replace it (nobody leases it yet).
                logger.info("replacing replica %s created from another spec", name)
                await self._kill(handle, name)
                continue
            if not health.get("ok", True):
                last_error = RuntimeError(f"replica {name} reports unhealthy: {health}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            replica = Replica(
                name=name,
                version=spec.version,
                index=index,
                fingerprint=fingerprint,
                handle=handle,
                max_concurrency=spec.max_concurrency,
                state=ReplicaState.READY,
                node_id=str(info.get("node_id", "")),
                pid=int(info.get("pid", 0)),
            )
            rs.replicas[name] = replica
            rs.notify()
            logger.info(
                "replica %s %s (pid %s)", name, "created" if created else "attached", replica.pid
            )
            return replica

    def _create_actor(self, spec: AgentSpec, fingerprint: str, name: str) -> Any:
        resources = spec.resources
        options: dict[str, Any] = {
            "name": name,
            "namespace": self._namespace,
            "lifetime": "detached",
            "max_restarts": -1,
            "max_task_retries": 0,
            "max_concurrency": spec.max_concurrency,
            "num_cpus": resources.num_cpus,
        }
        if resources.memory:
            options["memory"] = resources.memory
        if resources.num_gpus:
            options["num_gpus"] = resources.num_gpus
        if resources.custom:
            options["resources"] = dict(resources.custom)
        if spec.runtime_env:
            options["runtime_env"] = dict(spec.runtime_env)
        if spec.pool:
            # Inside the pool's placement group, any bundle with room (index -1): Ray enforces
            # the pool's capacity, and restarts the replica inside the group (on whichever
            # member node its bundle is re-placed) when its node dies.
            group = find_pool_group(spec.pool)
            if group is None:
                raise DeployError(f"pool {spec.pool!r} has no placement group on the cluster")
            options.update(pools.actor_options_for_pool(group))
        else:
            # One replica per node as far as it goes: survives a node loss, and gives the
            # dispatcher a choice of nodes to place tasks on.
            options["scheduling_strategy"] = "SPREAD"
        return AgentReplicaActor.options(**options).remote(
            spec.import_path,
            dict(spec.config),
            agent=spec.name,
            version=spec.version,
            spec_hash=fingerprint,
            max_concurrency=spec.max_concurrency,
        )

    def _get_actor(self, name: str) -> Any:
        try:
            return ray.get_actor(name, namespace=self._namespace)
        except ValueError:
            return None

    async def _kill(self, handle: Any, name: str | None = None, wait_s: float = 10.0) -> None:
        """Kills an actor; with `name`, also waits (bounded) until Ray releases the name.

        ``ray.kill`` returns before the GCS marks the actor dead, and until then the name is
        still taken (``ray.get_actor`` finds it and creating a new actor of that name fails).
        """
        try:
            await asyncio.to_thread(ray.kill, handle, no_restart=True)
        except Exception:
            logger.debug("ray.kill failed", exc_info=True)
            return
        if name is None:
            return
        deadline = time.monotonic() + wait_s
        delay = 0.02
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self._get_actor, name) is None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        logger.warning("actor %s still holds its name %.0fs after ray.kill", name, wait_s)

    async def _kill_orphans(self, agent: str, keep: set[str]) -> None:
        """Kills live replicas of `agent` that this backend does not track (older runs)."""
        try:
            entries = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
        except Exception:
            logger.debug("list_named_actors failed", exc_info=True)
            return
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("namespace") != self._namespace:
                continue
            name = str(entry.get("name", ""))
            if name in keep or parse_replica_name(agent, name) is None:
                continue
            handle = await asyncio.to_thread(self._get_actor, name)
            if handle is not None:
                logger.info("killing orphan replica %s", name)
                await self._kill(handle, name)

    def _retire(self, rs: ReplicaSet, replica: Replica) -> None:
        replica.move_to(ReplicaState.DRAINING)
        replica.drain_task = self._spawn(self._drain_and_kill(rs, replica))

    async def _drain_and_kill(self, rs: ReplicaSet, replica: Replica) -> None:
        while replica.outstanding > 0:
            await rs.wait_changed()
        if replica.state is not ReplicaState.DRAINING:
            return  # revived by a scale-up
        replica.move_to(ReplicaState.DEAD)
        replica.drain_task = None
        if rs.replicas.get(replica.name) is replica:
            del rs.replicas[replica.name]
        rs.notify()
        self._record_replicas(rs)
        await self._kill(replica.handle, replica.name)

    # ------------------------------------------------------------------ dispatch

    def lease(
        self, agent: str, nodes: frozenset[str] | None = None
    ) -> contextlib.AbstractAsyncContextManager[ReplicaLease]:
        return self._lease(agent, nodes)

    @contextlib.asynccontextmanager
    async def _lease(
        self, agent: str, nodes: frozenset[str] | None = None
    ) -> AsyncIterator[ReplicaLease]:
        rs = self._sets.get(agent)
        if rs is None or rs.removing:
            raise AgentUnavailable(f"agent {agent!r} is not deployed")
        rs.waiting += 1
        try:
            woken = False
            while True:
                if rs.removing or self._sets.get(agent) is not rs:
                    raise AgentUnavailable(f"agent {agent!r} was removed")
                if nodes is not None:
                    # Placed by the dispatcher: only a replica on those nodes will do, so wait
                    # for any change rather than a place in the FIFO (whose slot may be
                    # elsewhere).
                    replica = rs.pick(nodes)
                    if replica is not None:
                        break
                    await rs.wait_changed()
                    continue
                # A newcomer does not overtake leases already queued (first come, first served).
                replica = rs.pick() if woken or not rs.has_slot_waiters else None
                if replica is not None:
                    break
                await rs.wait_for_slot(front=woken)
                woken = True
        finally:
            rs.waiting -= 1
        replica.outstanding += 1
        try:
            yield ReplicaLease(agent=agent, replica=replica.name, agent_version=replica.version)
        finally:
            replica.outstanding -= 1
            rs.slot_freed()

    def queue_depth(self, agent: str) -> int:
        """Leases waiting for a free slot of `agent`."""
        rs = self._sets.get(agent)
        return rs.waiting if rs is not None else 0

    async def invoke(self, lease: ReplicaLease, request: AttemptRequest) -> AttemptOutcome:
        rs = self._sets.get(lease.agent)
        replica = rs.replicas.get(lease.replica) if rs is not None else None
        if rs is None or replica is None:
            return AttemptOutcome(
                ok=False,
                replica_crashed=True,
                error=ErrorInfo(REPLICA_CRASHED, f"replica {lease.replica} is gone"),
            )
        context = {
            "execution_id": request.execution_id,
            "task_id": request.task_id,
            "attempt": request.attempt,
            "agent_version": lease.agent_version,
            "replica": lease.replica,
        }
        metrics = self._metrics
        if metrics is not None:
            metrics.attempt_started(lease.agent)
        started = time.monotonic()
        ref = replica.handle.execute.remote(request.input, context)
        try:
            envelope = await ref
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            raise
        except RayActorError as exc:
            outcome = AttemptOutcome(
                ok=False,
                replica_crashed=True,
                error=ErrorInfo(REPLICA_CRASHED, f"replica {lease.replica} died: {_short(exc)}"),
            )
            self._on_replica_error(rs, replica)
        except RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            outcome = AttemptOutcome(ok=False, error=ErrorInfo(type(cause).__name__, _short(cause)))
        except RayError as exc:
            outcome = AttemptOutcome(ok=False, error=ErrorInfo(type(exc).__name__, _short(exc)))
        else:
            if isinstance(envelope, dict) and envelope.get(OK):
                outcome = AttemptOutcome(ok=True, output=envelope.get(OUTPUT))
            elif isinstance(envelope, dict):
                outcome = AttemptOutcome(
                    ok=False,
                    error=ErrorInfo(
                        str(envelope.get(ERROR_TYPE, "Exception")),
                        str(envelope.get(ERROR_MESSAGE, "")),
                    ),
                    extra={"traceback": envelope.get(ERROR_TRACEBACK, "")},
                )
            else:  # pragma: no cover - the actor always returns an envelope
                outcome = AttemptOutcome(ok=True, output=envelope)
        duration = time.monotonic() - started
        if metrics is not None:
            metrics.attempt_finished(lease.agent, outcome.ok, duration)
        return dataclasses.replace(outcome, duration_s=duration)

    # ------------------------------------------------------------------ health

    def _on_replica_error(self, rs: ReplicaSet, replica: Replica) -> None:
        """The replica's process died or is unreachable: stop leasing it until it answers."""
        if replica.state is ReplicaState.READY:
            replica.move_to(ReplicaState.STARTING)
            rs.notify()
            self._record_replicas(rs)
        if not replica.probing and replica.state is not ReplicaState.DEAD and not self._closed:
            replica.probing = True
            self._spawn(self._probe(rs, replica))

    async def _probe(self, rs: ReplicaSet, replica: Replica) -> None:
        """Pings a crashed replica with backoff until Ray has restarted it."""
        delay = 0.05
        try:
            while replica.state is not ReplicaState.DEAD and rs.replicas.get(replica.name) is (
                replica
            ):
                try:
                    info = await asyncio.wait_for(
                        _awaitable(replica.handle.info.remote()), self._health_timeout_s
                    )
                    health = await asyncio.wait_for(
                        _awaitable(replica.handle.health.remote()), self._health_timeout_s
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
                        self._record_replicas(rs)
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        finally:
            replica.probing = False

    async def _gone(self, replica: Replica) -> bool:
        """True if no live actor holds the replica's name any more (killed from outside)."""
        return await asyncio.to_thread(self._get_actor, replica.name) is None

    def _replace_dead(self, rs: ReplicaSet, replica: Replica) -> None:
        logger.warning("replica %s is permanently dead; recreating it", replica.name)
        replica.mark_dead()
        if rs.replicas.get(replica.name) is replica and replica.outstanding == 0:
            del rs.replicas[replica.name]
        rs.notify()
        self._record_replicas(rs)
        self._spawn(self._heal(rs))

    async def _heal(self, rs: ReplicaSet) -> None:
        async with rs.lock:
            if self._sets.get(rs.agent) is not rs or rs.removing:
                return
            for name, replica in list(rs.replicas.items()):
                if replica.state is ReplicaState.DEAD and replica.outstanding == 0:
                    del rs.replicas[name]
            try:
                await self._reconcile(rs)
            except Exception:
                logger.exception("could not recreate replicas of %s", rs.agent)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval_s)
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
            for rs in list(self._sets.values())
            for replica in list(rs.replicas.values())
            if replica.state in (ReplicaState.READY, ReplicaState.DRAINING) and not replica.probing
        ]
        await asyncio.gather(*checks)
        for rs in list(self._sets.values()):
            self._record_replicas(rs)
            self._record_queue(rs)
        if self._metrics is not None:
            self._metrics.flush()

    async def _check_one(self, rs: ReplicaSet, replica: Replica) -> None:
        try:
            health = await asyncio.wait_for(
                _awaitable(replica.handle.health.remote()), self._health_timeout_s
            )
        except (TimeoutError, RayError):
            self._on_replica_error(rs, replica)
            return
        if not health.get("ok", True):
            self._on_replica_error(rs, replica)

    # ------------------------------------------------------------------ helpers

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _record_queue(self, rs: ReplicaSet) -> None:
        if self._metrics is not None:
            self._metrics.set_queue_depth(rs.agent, rs.waiting)

    def _record_replicas(self, rs: ReplicaSet) -> None:
        if self._metrics is not None:
            self._metrics.set_replicas(rs.agent, rs.state_counts())


async def _awaitable(ref: Awaitable[T]) -> T:
    return await ref


def _short(exc: BaseException, limit: int = 2000) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."
