"""The agent replicas as Ray knows them: detached named actors, found by name, created,
and killed (blocking Ray calls run in worker threads)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import ray
from ray.exceptions import ActorAlreadyExistsError, RayError

from models.agents import AgentSpec, ReplicaResources, ReplicaState
from models.backend import ReplicaStartError
from models.failures import one_line
from ray_backend import pools
from ray_backend.capacity import find_pool_group
from ray_backend.external.proxy import replica_target
from ray_backend.first_answer import first_answers
from ray_backend.packages import RayPackages
from ray_backend.replica_actor import AgentReplicaActor
from ray_backend.replica_set import Replica, parse_replica_name
from ray_backend.start_failures import not_ready, start_error

logger = logging.getLogger(__name__)


class DeployError(ReplicaStartError):
    """Replicas of a deployment did not become READY (bad import path, a constructor that
    raised, an option Ray refuses, no room within the deadline)."""


class ReplicaActors:
    """The named actors of one Ray namespace that hold agent replicas."""

    def __init__(
        self, namespace: str, ready_timeout_s: float, packages: RayPackages | None = None
    ) -> None:
        self._namespace = namespace
        self._ready_timeout_s = ready_timeout_s
        self._packages = packages if packages is not None else RayPackages(None)

    async def attach_or_create(
        self, spec: AgentSpec, fingerprint: str, name: str, index: int
    ) -> Replica:
        """Re-attaches to the live actor called `name` or creates it; returns it once READY.

        Only two things are waited for until the deadline: an actor being killed that still
        holds the name, and a replica that is not placed or not healthy yet. Anything else (Ray
        refuses the options, the constructor raises, the process dies) is the cause to report,
        at once.
        """
        deadline = time.monotonic() + self._ready_timeout_s
        delay = 0.05
        last_error: BaseException | None = None  # why the replica is not ready yet
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._not_ready(spec, name, last_error)
            handle = await asyncio.to_thread(self.get, name)
            created = False
            if handle is None:
                try:
                    handle = await self._create(spec, fingerprint, name)
                    created = True
                except ActorAlreadyExistsError as exc:  # held by an actor being killed
                    last_error = exc
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                except ReplicaStartError:
                    raise
                except Exception as exc:  # Ray refuses the actor's options
                    raise self._failed(start_error(exc)) from exc
            try:
                info, health = await first_answers(handle, remaining, watch_restarts=created)
            except asyncio.CancelledError:
                if created:  # a sibling replica failed: this one is not wanted any more
                    await self.kill(handle, name)
                raise
            except ReplicaStartError as exc:  # its process crashed while starting
                await self.kill(handle, name)
                raise self._failed(exc) from None
            except (TimeoutError, RayError) as exc:
                if created:
                    await self.kill(handle, name)
                    if isinstance(exc, RayError):  # constructor raised, or the process died
                        raise self._failed(start_error(exc)) from exc
                    raise self._not_ready(spec, name, last_error) from None
                last_error = exc if isinstance(exc, RayError) else last_error
                # A dead or dying actor still holds the name.
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if info.get("spec_hash") != fingerprint:
                # Same name, different spec: replace it (nobody leases it yet).
                logger.info("replacing replica %s created from another spec", name)
                await self.kill(handle, name)
                continue
            if not health.get("ok", True):
                last_error = ReplicaStartError(
                    one_line(f"its health check reports {health}"),
                    field="agent.endpoint" if spec.endpoint else "agent",
                )
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
                created=created,
            )
            logger.info(
                "replica %s %s (pid %s)", name, "created" if created else "attached", replica.pid
            )
            return replica

    async def _create(self, spec: AgentSpec, fingerprint: str, name: str) -> Any:
        """Creates the actor in a worker thread; cancelled meanwhile, it kills the actor once
        the thread has created it, so no replica outlives a start that was given up."""
        creating = asyncio.ensure_future(asyncio.to_thread(self.create, spec, fingerprint, name))
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.kill(await creating, name)
            raise

    def _not_ready(self, spec: AgentSpec, name: str, last: BaseException | None) -> DeployError:
        waiting_for = describe_demand(spec.resources)
        if spec.pool:
            waiting_for += f" in pool {spec.pool!r}"
        return self._failed(not_ready(name, self._ready_timeout_s, waiting_for, last))

    @staticmethod
    def _failed(error: ReplicaStartError) -> DeployError:
        return DeployError(error.summary, error.detail, error.field)

    def create(self, spec: AgentSpec, fingerprint: str, name: str) -> Any:
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
            try:
                options["runtime_env"] = self._packages.runtime_env(spec.runtime_env)
            except ReplicaStartError as exc:
                raise self._failed(exc) from None
        if spec.pool:
            # Inside the pool's placement group, any bundle with room (index -1): Ray enforces
            # the pool's capacity, and restarts the replica inside the group (on whichever
            # member node its bundle is re-placed) when its node dies.
            group = find_pool_group(spec.pool)
            if group is None:
                raise DeployError(
                    f"pool {spec.pool!r} has no placement group on the cluster", field="agent.pool"
                )
            options.update(pools.actor_options_for_pool(group))
        else:
            # One replica per node as far as it goes: survives a node loss, and gives the
            # dispatcher a choice of nodes to place tasks on.
            options["scheduling_strategy"] = "SPREAD"
        import_path, config = replica_target(spec)
        return AgentReplicaActor.options(**options).remote(
            import_path,
            config,
            agent=spec.name,
            version=spec.version,
            spec_hash=fingerprint,
            max_concurrency=spec.max_concurrency,
        )

    def get(self, name: str) -> Any:
        try:
            return ray.get_actor(name, namespace=self._namespace)
        except ValueError:
            return None

    async def kill(self, handle: Any, name: str | None = None, wait_s: float = 10.0) -> None:
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
            if await asyncio.to_thread(self.get, name) is None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        logger.warning("actor %s still holds its name %.0fs after ray.kill", name, wait_s)

    async def kill_orphans(self, agent: str, keep: set[str]) -> None:
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
            handle = await asyncio.to_thread(self.get, name)
            if handle is not None:
                logger.info("killing orphan replica %s", name)
                await self.kill(handle, name)


def describe_demand(resources: ReplicaResources) -> str:
    """`"1 CPU, 1 GPU, 512 MiB of memory"`: what a replica waits for to be placed."""
    parts = []
    if resources.num_cpus:
        parts.append(f"{resources.num_cpus:g} CPU" + ("" if resources.num_cpus == 1 else "s"))
    if resources.num_gpus:
        parts.append(f"{resources.num_gpus:g} GPU" + ("" if resources.num_gpus == 1 else "s"))
    if resources.memory:
        parts.append(f"{resources.memory / 2**20:.0f} MiB of memory")
    parts.extend(f"{value:g} {name}" for name, value in sorted(resources.custom.items()) if value)
    return ", ".join(parts) or "a worker process and its runtime environment"
